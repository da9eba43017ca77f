"""OSB binding endpoints: kubeconfigs for a runtime, under both ``/oauth`` prefixes.

Binds and unbinds go through ``BindingRequests`` (the bind time limit, finishing in the background);
fetches and polls through ``BindingUseCases``.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from keb_adapters.http.osb import AnyRequest, InstanceId, Region, require_minor, responses
from keb_adapters.http.wire import (
    BindingMetadata,
    BindingResponse,
    BindRequest,
    Credentials,
    Empty,
    LastOperationResponse,
    format_expires_at,
)
from keb_domain.errors import BindingNotFoundError
from keb_domain.usecases.bindings import BindCommand, BindingRequests, BindingUseCases, BindingView

BindingId = Annotated[str, PathParameter(description="The binding id chosen by the platform.")]
Bindings = NamedDependency[BindingUseCases]

BINDING = "/v2/service_instances/{instance_id:str}/service_bindings/{binding_id:str}"
PATHS = [BINDING, "/{region:str}" + BINDING]


Requests = NamedDependency[BindingRequests]


def _body(view: BindingView) -> BindingResponse:
    return BindingResponse(
        credentials=Credentials(kubeconfig=view.kubeconfig.reveal()),
        metadata=BindingMetadata(expires_at=format_expires_at(view.expires_at)),
    )


class BindingController(Controller):
    path = "/oauth"
    tags = ("OSB bindings",)

    @put(
        PATHS,
        summary="Bind: a kubeconfig for the runtime",
        description="Parameters: `expiration_seconds` (default 600, 600..7200) and `token_request` (or "
        "`service_account`): false gives Gardener's client-certificate admin kubeconfig (cannot be revoked, "
        "it expires), true a ServiceAccount token kubeconfig that unbinding revokes. 201 new, 200 identical "
        "existing, 409 different parameters, 422 creation in progress, 400 out of range / limit reached / "
        "instance not ready, 404 unknown instance, 503 when creation exceeds the time limit.",
        status_code=HTTP_201_CREATED,
        responses={
            **responses(404, 409, 422, 502, 503),
            HTTP_200_OK: ResponseSpec(
                data_container=BindingResponse, description="An identical binding exists: its credentials"
            ),
        },
    )
    async def bind(
        self,
        *,
        binding_requests: Requests,
        instance_id: InstanceId,
        binding_id: BindingId,
        data: JSONBody[BindRequest],
        region: Region = None,
        accepts_incomplete: FromQuery[bool] = False,
    ) -> Response[BindingResponse]:
        view = await binding_requests.bind(
            BindCommand(
                instance_id=instance_id,
                binding_id=binding_id,
                service_id=data.service_id,
                plan_id=data.plan_id,
                parameters=data.parameters,
                context=data.context,
            ),
        )
        return Response(_body(view), status_code=HTTP_201_CREATED if view.created else HTTP_200_OK)

    @get(
        PATHS,
        summary="Fetch a binding",
        description="404 when the binding, or its instance, does not exist, when it expired or is still "
        "being created, and while the instance is deprovisioned or suspended. Needs OSB 2.14 or newer.",
        responses=responses(404),
    )
    async def fetch(
        self,
        *,
        request: AnyRequest,
        binding_cases: Bindings,
        instance_id: InstanceId,
        binding_id: BindingId,
        region: Region = None,
    ) -> BindingResponse:
        require_minor(request, 14, "get binding")
        return _body(await binding_cases.get(instance_id, binding_id))

    @delete(
        PATHS,
        summary="Unbind",
        description="Token bindings lose their ServiceAccount, ClusterRole and ClusterRoleBinding first, "
        "which revokes the token; the binding is forgotten only after that worked. 410 {} when it does not "
        "exist.",
        status_code=HTTP_200_OK,
        responses=responses(410, 502, 503),
    )
    async def unbind(
        self,
        *,
        binding_requests: Requests,
        instance_id: InstanceId,
        binding_id: BindingId,
        service_id: FromQuery[str],
        plan_id: FromQuery[str],
        region: Region = None,
        accepts_incomplete: FromQuery[bool] = False,
    ) -> Empty:
        await binding_requests.unbind(instance_id, binding_id, service_id=service_id, plan_id=plan_id)
        return Empty()

    @get(
        [p + "/last_operation" for p in PATHS],
        summary="Poll a binding operation",
        description="Bindings are synchronous: succeeded when the binding exists, else 404.",
        responses=responses(404),
    )
    async def last_operation(
        self,
        *,
        request: AnyRequest,
        binding_cases: Bindings,
        instance_id: InstanceId,
        binding_id: BindingId,
        region: Region = None,
        operation: FromQuery[str | None] = None,
        service_id: FromQuery[str | None] = None,
        plan_id: FromQuery[str | None] = None,
    ) -> LastOperationResponse:
        require_minor(request, 14, "get binding last operation")
        if not await binding_cases.exists(instance_id, binding_id):
            raise BindingNotFoundError("Binding not found")
        return LastOperationResponse(state="succeeded")
