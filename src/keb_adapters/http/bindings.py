"""OSB binding endpoints: kubeconfigs for a runtime, under both ``/oauth`` prefixes.

Binding is synchronous. When creating the credentials takes longer than
``APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT`` the answer is 503 with an OSB error body, and the creation
continues in the background: repeating the request then returns the binding (200) once it exists.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import attrs
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
)
from keb_adapters.metrics import Metrics
from keb_domain.errors import BindingNotFoundError, BindingTimeoutError
from keb_domain.model.binding import format_expires_at
from keb_domain.usecases.bindings import BindCommand, BindingUseCases, BindingView

BindingId = Annotated[str, PathParameter(description="The binding id chosen by the platform.")]
Bindings = NamedDependency[BindingUseCases]

BINDING = "/v2/service_instances/{instance_id:str}/service_bindings/{binding_id:str}"
PATHS = [BINDING, "/{region:str}" + BINDING]


@attrs.define
class BindingCreation:
    """Runs binding creations so they outlive a request that timed out; times binds and unbinds."""

    timeout: float
    metrics: Metrics | None = None
    _tasks: set[asyncio.Task[BindingView]] = attrs.field(factory=set)

    async def run(self, bindings: BindingUseCases, command: BindCommand) -> BindingView:
        task = asyncio.ensure_future(bindings.bind(command))
        self._tasks.add(task)
        task.add_done_callback(self._done)
        started = time.perf_counter()
        metrics = self.metrics
        if metrics is not None:

            def record(done: asyncio.Task[BindingView]) -> None:
                if not done.cancelled() and done.exception() is None:
                    elapsed = (time.perf_counter() - started) * 1000
                    metrics.bound(command.plan_id, elapsed, done.result().created)

            task.add_done_callback(record)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except TimeoutError:
            raise BindingTimeoutError(
                f"creating the binding takes longer than {self.timeout:g}s; it goes on in the background, "
                "repeat the request to get it"
            ) from None

    def _done(self, task: asyncio.Task[BindingView]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # observed here when nobody waits for it any more

    async def drain(self) -> None:
        """Wait for creations still running (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


Creation = NamedDependency[BindingCreation]


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
        binding_cases: Bindings,
        creation: Creation,
        instance_id: InstanceId,
        binding_id: BindingId,
        data: JSONBody[BindRequest],
        region: Region = None,
        accepts_incomplete: FromQuery[bool] = False,
    ) -> Response[BindingResponse]:
        view = await creation.run(
            binding_cases,
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
        binding_cases: Bindings,
        instance_id: InstanceId,
        binding_id: BindingId,
        service_id: FromQuery[str],
        plan_id: FromQuery[str],
        region: Region = None,
        accepts_incomplete: FromQuery[bool] = False,
        creation: Creation,
    ) -> Empty:
        started = time.perf_counter()
        await binding_cases.unbind(instance_id, binding_id, service_id=service_id, plan_id=plan_id)
        if creation.metrics is not None:
            creation.metrics.unbound((time.perf_counter() - started) * 1000)
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
