"""OSB instance endpoints, served under ``/oauth/v2/...`` and ``/oauth/{region}/v2/...``.

Handlers translate wire models into commands, call one use case and turn its result into a status code.
They hold no business rules; errors go through ``keb_adapters.http.errors``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_304_NOT_MODIFIED

from keb_adapters.http.cached import JSON, EncodedCatalogs, conditional
from keb_adapters.http.docs import PROTECTED_RESPONSES, VERSION_HEADER
from keb_adapters.http.errors import UnsupportedApiVersionError
from keb_adapters.http.wire import (
    DeprovisionResponse,
    Empty,
    InstanceResponse,
    LastOperationResponse,
    Metadata,
    OsbError,
    ProvisionRequest,
    ProvisionResponse,
    UpdateRequest,
    UpdateResponse,
)
from keb_domain.model.instance import InstanceSummary
from keb_domain.usecases.config import BrokerConfig
from keb_domain.usecases.instances import (
    DeprovisionCommand,
    InstanceUseCases,
    ProvisionCommand,
    UpdateCommand,
)

_VERSION = re.compile(r"^\s*(\d{1,6})\.(\d{1,6})\s*$")

AnyRequest = Request[Any, Any, Any]
Instances = NamedDependency[InstanceUseCases]
Config = NamedDependency[BrokerConfig]
Catalogs = NamedDependency[EncodedCatalogs]
InstanceId = Annotated[str, PathParameter(description="The service instance id chosen by the platform.")]
Region = Annotated[str | None, PathParameter(description="The SAP BTP platform region, e.g. cf-eu10.")]


def api_version(request: AnyRequest) -> tuple[int, int]:
    """``X-Broker-API-Version`` as (major, minor); 412 when missing, malformed or not 2.x."""
    raw = request.headers.get(VERSION_HEADER)
    if not raw:
        raise UnsupportedApiVersionError(f"{VERSION_HEADER} header is missing; this broker speaks 2.x")
    match = _VERSION.match(raw)
    if match is None:
        raise UnsupportedApiVersionError(f"{VERSION_HEADER} {raw!r} must contain a version such as 2.14")
    major, minor = int(match.group(1)), int(match.group(2))
    if major != 2:
        raise UnsupportedApiVersionError(f"{VERSION_HEADER} {raw!r} must be 2.x")
    return major, minor


async def check_api_version(request: AnyRequest) -> None:
    """``before_request`` hook of the OSB router: the version header is checked before anything else.

    Malformed paths, queries and bodies were refused earlier, by ``keb_adapters.http.boundary``.
    """
    api_version(request)


def platform_region(config: BrokerConfig, region: str | None) -> str:
    """The canonical platform region of the path, or the configured default for paths without one."""
    return config.default_platform_region if region is None else config.policy.served_platform_region(region)


def osb_request_checks(config: BrokerConfig) -> Callable[[AnyRequest], Awaitable[None]]:
    """The OSB router's ``before_request`` hook: version header and served platform region.

    Every OSB route carrying ``{region}`` refuses a platform region the configuration does not serve
    before any state is read, so no spelling of a region reaches another region's rules.
    """

    async def check(request: AnyRequest) -> None:
        await check_api_version(request)
        region = request.path_params.get("region")
        platform_region(config, region if isinstance(region, str) else None)

    return check


def require_minor(request: AnyRequest, minor: int, endpoint: str) -> None:
    if api_version(request)[1] < minor:
        raise UnsupportedApiVersionError(
            f"{endpoint} endpoint only supported starting with OSB version 2.{minor}"
        )


def response_labels(summary: InstanceSummary, broker_url: str) -> dict[str, str]:
    """``metadata.labels`` of instance responses, in KEB's words (``response_labels.go``)."""
    labels = {"Name": summary.name}
    if summary.has_runtime:
        labels["KubeconfigURL"] = f"{broker_url.rstrip('/')}/kubeconfig/{summary.instance_id}"
    expiry = summary.expiry
    if expiry is not None:
        key = "Trial account expiration details" if expiry.trial else "Free plan expiration details"
        if expiry.expired:
            labels[key] = "Your cluster has expired."
        elif expiry.days_left == 0:
            labels[key] = "Your cluster expires today."
        elif expiry.days_left == 1:
            labels[key] = "Your cluster expires tomorrow."
        else:
            labels[key] = f"Your cluster expires in {expiry.days_left} days."
    return labels


def _metadata(summary: InstanceSummary | None, config: BrokerConfig) -> Metadata | None:
    # The handlers read ``config`` from the use case: one dependency each, as the catalog handler has.
    return Metadata(labels=response_labels(summary, config.broker_url)) if summary is not None else None


ERRORS = {
    400: "Malformed request or invalid parameters",
    412: "Unsupported or missing X-Broker-API-Version",
}


def responses(*codes: int) -> dict[int, ResponseSpec]:
    texts = {
        **ERRORS,
        404: "Not found, or a platform region this broker does not serve",
        409: "It exists with different attributes",
        410: "It does not exist",
        422: "Unprocessable: asynchronous processing required, or the state does not allow it",
        502: "A Kubernetes API (KCP, Gardener or the runtime cluster) refused the call",
        503: "Binding creation takes longer than the time limit (it goes on in the background), or the "
        "database or a Kubernetes API is unreachable for now; retry (Retry-After)",
    }
    return {
        **PROTECTED_RESPONSES,
        **{
            code: ResponseSpec(data_container=Empty if code == 410 else OsbError, description=texts[code])
            for code in sorted({400, 404, 412, *codes})  # 404 also for a platform region not served
        },
    }


class CatalogController(Controller):
    path = "/oauth"
    tags = ("OSB",)

    @get(
        ["/v2/catalog", "/{region:str}/v2/catalog"],
        summary="The catalog of the platform region",
        description="Carries an `ETag`; a request with `If-None-Match` naming it gets 304 without a body.",
        media_type=JSON,
        responses={
            **responses(),
            HTTP_200_OK: ResponseSpec(
                data_container=dict[str, Any], description="The OSB catalog", generate_examples=False
            ),
            HTTP_304_NOT_MODIFIED: ResponseSpec(
                data_container=None, description="The catalog named by If-None-Match is current"
            ),
        },
    )
    async def catalog(
        self, *, request: AnyRequest, catalogs: Catalogs, region: Region = None
    ) -> Response[bytes]:
        # One dependency, not two: Litestar resolves several in a task group, a quarter of this request.
        return conditional(request, catalogs.get(platform_region(catalogs.config, region)))


class InstanceController(Controller):
    path = "/oauth"
    tags = ("OSB",)

    @put(
        ["/v2/service_instances/{instance_id:str}", "/{region:str}/v2/service_instances/{instance_id:str}"],
        summary="Provision a Kyma runtime",
        description="Always asynchronous: 202 with an operation, also without accepts_incomplete. "
        "An identical repeat answers 202 with the same operation while it runs and 200 once it succeeded.",
        status_code=HTTP_202_ACCEPTED,
        responses={
            **responses(409),
            HTTP_200_OK: ResponseSpec(
                data_container=ProvisionResponse,
                description="An identical instance exists and is provisioned (dashboard_url, no operation)",
            ),
        },
    )
    async def provision(
        self,
        *,
        request: AnyRequest,
        instances: Instances,
        config: Config,
        instance_id: InstanceId,
        data: JSONBody[ProvisionRequest],
        region: Region = None,
        accepts_incomplete: FromQuery[bool] = False,
    ) -> Response[ProvisionResponse]:
        result = await instances.provision(
            ProvisionCommand(
                instance_id=instance_id,
                service_id=data.service_id,
                plan_id=data.plan_id,
                platform_region=platform_region(config, region),
                context=data.context,
                parameters=data.parameters,
                user_agent=request.headers.get("user-agent", ""),
                organization_guid=data.organization_guid,
                space_guid=data.space_guid,
            )
        )
        if result.completed:
            body = ProvisionResponse(
                dashboard_url=result.dashboard_url or None, metadata=_metadata(result.summary, config)
            )
            return Response(body, status_code=HTTP_200_OK)
        return Response(
            ProvisionResponse(operation=result.operation_id, metadata=_metadata(result.summary, config)),
            status_code=HTTP_202_ACCEPTED,
        )

    @get(
        ["/v2/service_instances/{instance_id:str}", "/{region:str}/v2/service_instances/{instance_id:str}"],
        summary="Fetch an instance",
        description="404 while provisioning runs or after it failed. Needs OSB 2.14 or newer.",
        responses=responses(404),
    )
    async def fetch(
        self,
        *,
        request: AnyRequest,
        instances: Instances,
        instance_id: InstanceId,
        region: Region = None,
    ) -> InstanceResponse:
        require_minor(request, 14, "get instance")
        view = await instances.get(instance_id)
        return InstanceResponse(
            service_id=view.service_id,
            plan_id=view.plan_id,
            dashboard_url=view.dashboard_url or None,
            parameters=dict(view.parameters),
            metadata=_metadata(view.summary, instances.config),
        )

    @patch(
        ["/v2/service_instances/{instance_id:str}", "/{region:str}/v2/service_instances/{instance_id:str}"],
        summary="Update an instance",
        description="200 when nothing needs to be done (or for a trial suspension or unsuspension, which "
        "runs in the background), 202 with an operation otherwise; 422 AsyncRequired without "
        "accepts_incomplete=true.",
        status_code=HTTP_200_OK,
        responses={
            **responses(404, 422),
            HTTP_202_ACCEPTED: ResponseSpec(
                data_container=UpdateResponse, description="An operation applies the update"
            ),
        },
    )
    async def update(
        self,
        *,
        instances: Instances,
        instance_id: InstanceId,
        data: JSONBody[UpdateRequest],
        region: Region = None,
        accepts_incomplete: FromQuery[bool] = False,
    ) -> Response[UpdateResponse]:
        result = await instances.update(
            UpdateCommand(
                instance_id=instance_id,
                service_id=data.service_id,
                plan_id=data.plan_id,
                context=data.context,
                parameters=data.parameters,
                accepts_incomplete=accepts_incomplete,
            )
        )
        metadata = _metadata(result.summary, instances.config)
        if result.operation_id is None:
            return Response(UpdateResponse(metadata=metadata), status_code=HTTP_200_OK)
        return Response(
            UpdateResponse(
                operation=result.operation_id, dashboard_url=result.dashboard_url or None, metadata=metadata
            ),
            status_code=HTTP_202_ACCEPTED,
        )

    @delete(
        ["/v2/service_instances/{instance_id:str}", "/{region:str}/v2/service_instances/{instance_id:str}"],
        summary="Deprovision an instance",
        description="Always asynchronous: 202 with an operation (the same one while it runs); 410 {} for an "
        "instance that does not exist.",
        status_code=HTTP_202_ACCEPTED,
        responses=responses(410),
    )
    async def deprovision(
        self,
        *,
        request: AnyRequest,
        instances: Instances,
        instance_id: InstanceId,
        service_id: FromQuery[str],
        plan_id: FromQuery[str],
        region: Region = None,
        accepts_incomplete: FromQuery[bool] = False,
    ) -> DeprovisionResponse:
        operation = await instances.deprovision(
            DeprovisionCommand(
                instance_id=instance_id,
                service_id=service_id,
                plan_id=plan_id,
                user_agent=request.headers.get("user-agent", ""),
            )
        )
        return DeprovisionResponse(operation=operation)

    @get(
        [
            "/v2/service_instances/{instance_id:str}/last_operation",
            "/{region:str}/v2/service_instances/{instance_id:str}/last_operation",
        ],
        summary="Poll an operation",
        description="With an operation of this instance, its state; otherwise the instance's latest "
        "operation. After a finished deprovisioning: succeeded. 404 for an instance that never existed.",
        responses=responses(404),
    )
    async def last_operation(
        self,
        *,
        instances: Instances,
        instance_id: InstanceId,
        region: Region = None,
        operation: FromQuery[str | None] = None,
        service_id: FromQuery[str | None] = None,
        plan_id: FromQuery[str | None] = None,
    ) -> LastOperationResponse:
        status = await instances.last_operation(instance_id, operation)
        return LastOperationResponse(state=status.state, description=status.description or None)


class ExpirationController(Controller):
    path = "/expire"
    tags = ("Operations",)

    @put(
        "/service_instance/{instance_id:str}",
        summary="Expire a trial or free instance",
        description="Marks the instance expired and suspends it; 202 with the suspension operation.",
        status_code=HTTP_202_ACCEPTED,
        responses={code: spec for code, spec in responses(404).items() if code != 412},
    )
    async def expire(self, *, instances: Instances, instance_id: InstanceId) -> DeprovisionResponse:
        return DeprovisionResponse(operation=await instances.expire(instance_id))
