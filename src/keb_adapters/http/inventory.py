"""Operator endpoints: ``/runtimes``, ``/info/runtimes``, ``/kubeconfig/{instance_id}``, ``/events``.

JSON keys follow KEB's (``instanceID``, ``globalAccountID``...; ``/info/runtimes`` uses ``...Id``), so KEB's
tooling reads them unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from keb_adapters.http.docs import PROTECTED_RESPONSES
from keb_adapters.http.wire import OsbError, Wire
from keb_domain.errors import InvalidRequestError
from keb_domain.model.binding import Binding
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.inventory import (
    MAX_PAGE_SIZE,
    Action,
    InfoRuntime,
    RuntimeFilter,
    RuntimeHistory,
    RuntimeState,
    ShownOperations,
    kind,
)
from keb_domain.model.operation import Operation
from keb_domain.model.plans import KYMA_SERVICE_ID, KYMA_SERVICE_NAME
from keb_domain.usecases.inventory import InventoryUseCases, RuntimeDetail, RuntimeListing

Inventory = NamedDependency[InventoryUseCases]
Names = Annotated[list[str] | None, QueryParameter(description="Repeat the key to give several values (OR).")]


class OperationDTO(Wire):
    state: str
    type: str
    description: str
    created_at: datetime = msgspec.field(name="createdAt")
    updated_at: datetime = msgspec.field(name="updatedAt")
    operation_id: str = msgspec.field(name="operationID")
    finished_stages: list[str] = msgspec.field(default_factory=list, name="finishedStages")
    parameters: dict[str, Any] | None = None


class OperationsData(Wire):
    data: list[OperationDTO]
    count: int
    total_count: int = msgspec.field(name="totalCount")


class BindingDTO(Wire):
    id: str
    created_at: datetime = msgspec.field(name="createdAt")
    expires_in_seconds: int = msgspec.field(name="expiresInSeconds")
    expires_at: datetime = msgspec.field(name="expiresAt")
    kubeconfig_exists: bool = msgspec.field(name="kubeconfigExists")
    created_by: str = msgspec.field(name="createdBy")


class RuntimeStatus(Wire):
    created_at: datetime = msgspec.field(name="createdAt")
    modified_at: datetime = msgspec.field(name="modifiedAt")
    state: str = ""
    expired_at: datetime | None = msgspec.field(default=None, name="expiredAt")
    deleted_at: datetime | None = msgspec.field(default=None, name="deletedAt")
    provisioning: OperationDTO | None = None
    deprovisioning: OperationDTO | None = None
    update: OperationsData | None = None
    suspension: OperationsData | None = None
    unsuspension: OperationsData | None = None


class ActionDTO(Wire):
    id: str = msgspec.field(name="ID")
    type: str = ""
    message: str = ""
    old_value: str = msgspec.field(default="", name="oldValue")
    new_value: str = msgspec.field(default="", name="newValue")
    created_at: datetime | None = msgspec.field(default=None, name="createdAt")


class RuntimeDTO(Wire):
    instance_id: str = msgspec.field(name="instanceID")
    runtime_id: str = msgspec.field(name="runtimeID")
    global_account_id: str = msgspec.field(name="globalAccountID")
    subscription_global_account_id: str = msgspec.field(name="subscriptionGlobalAccountID")
    sub_account_id: str = msgspec.field(name="subAccountID")
    region: str
    sub_account_region: str = msgspec.field(name="subAccountRegion")
    shoot_name: str = msgspec.field(name="shootName")
    service_class_id: str = msgspec.field(name="serviceClassID")
    service_class_name: str = msgspec.field(name="serviceClassName")
    service_plan_id: str = msgspec.field(name="servicePlanID")
    service_plan_name: str = msgspec.field(name="servicePlanName")
    provider: str
    user_id: str = msgspec.field(name="userID")
    status: RuntimeStatus
    parameters: dict[str, Any] | None = None
    bindings: list[BindingDTO] | None = None
    license_type: str | None = msgspec.field(default=None, name="licenseType")
    commercial_model: str | None = msgspec.field(default=None, name="commercialModel")
    # ``runtime_config=true``: the Runtime resource as KCP holds it (without managedFields).
    runtime_config: dict[str, Any] | None = msgspec.field(default=None, name="runtimeConfig")
    # KEB copies these two from the subaccount state its CIS synchronisation keeps; keb has no such
    # synchronisation, so they are never sent (KEB omits them when empty too).
    beta_enabled: str | None = msgspec.field(default=None, name="betaEnabled")
    used_for_production: str | None = msgspec.field(default=None, name="usedForProduction")
    # The Gardener credentials binding the Runtime resource names (``secretBindingName``).
    subscription_secret_name: str | None = msgspec.field(default=None, name="subscriptionSecretName")
    actions: list[ActionDTO] | None = None


class RuntimesPageDTO(Wire):
    data: list[RuntimeDTO]
    count: int
    total_count: int = msgspec.field(name="totalCount")


class InfoOperation(Wire):
    state: str
    description: str


class InfoStatus(Wire):
    created_at: datetime | None = msgspec.field(default=None, name="createdAt")
    updated_at: datetime | None = msgspec.field(default=None, name="updatedAt")
    deleted_at: datetime | None = msgspec.field(default=None, name="deletedAt")
    provisioning: InfoOperation | None = None
    deprovisioning: InfoOperation | None = None


class InfoRuntimeDTO(Wire):
    runtime_id: str = msgspec.field(name="runtimeId")
    global_account_id: str = msgspec.field(name="globalAccountId")
    subaccount_id: str = msgspec.field(name="subaccountId")
    subaccount_region: str = msgspec.field(name="subaccountRegion")
    service_instance_id: str = msgspec.field(name="serviceInstanceId")
    service_class_id: str = msgspec.field(name="serviceClassId")
    service_class_name: str = msgspec.field(name="serviceClassName")
    service_plan_id: str = msgspec.field(name="servicePlanId")
    service_plan_name: str = msgspec.field(name="servicePlanName")
    status: InfoStatus


class EventDTO(Wire):
    level: str
    instance_id: str = msgspec.field(name="instanceID")
    operation_id: str = msgspec.field(name="operationID")
    message: str
    created_at: datetime = msgspec.field(name="createdAt")


# --- conversion ---------------------------------------------------------------------------------------


def _operation(op: Operation) -> OperationDTO:
    return OperationDTO(
        state=op.state.osb_state,
        type=kind(op),
        description=op.description,
        created_at=op.created_at,
        updated_at=op.updated_at,
        operation_id=op.id,
        finished_stages=list(op.finished_stages),
        parameters=dict(op.parameters) or None,
    )


def _listed(shown: ShownOperations | None) -> OperationsData | None:
    if shown is None:
        return None
    return OperationsData(
        data=[_operation(op) for op in shown.operations], count=len(shown.operations), total_count=shown.total
    )


def _binding(binding: Binding) -> BindingDTO:
    return BindingDTO(
        id=binding.binding_id,
        created_at=binding.created_at,
        expires_in_seconds=binding.expiration_seconds,
        expires_at=binding.expires_at,
        kubeconfig_exists=not binding.in_progress,
        created_by=binding.created_by,
    )


def _action(action: Action) -> ActionDTO:
    return ActionDTO(
        id=action.id,
        type=action.type,
        message=action.message,
        old_value=action.old_value,
        new_value=action.new_value,
        created_at=action.created_at,
    )


def _optional(op: Operation | None) -> OperationDTO | None:
    return _operation(op) if op is not None else None


def _live_runtime(instance: Instance, history: RuntimeHistory) -> RuntimeDTO:
    return RuntimeDTO(
        instance_id=instance.instance_id,
        runtime_id=instance.runtime_id,
        global_account_id=instance.global_account_id,
        subscription_global_account_id="",
        sub_account_id=instance.subaccount_id,
        region=instance.cluster_region,
        sub_account_region=instance.platform_region,
        shoot_name=instance.shoot_name,
        service_class_id=KYMA_SERVICE_ID,
        service_class_name=KYMA_SERVICE_NAME,
        service_plan_id=instance.plan_id,
        service_plan_name=instance.plan_name,
        provider=instance.provider.keb_name,
        user_id=instance.user_id,
        parameters=dict(instance.parameters),
        status=RuntimeStatus(
            created_at=instance.created_at,
            modified_at=history.modified_at,
            expired_at=instance.expired_at,
            state=history.state.value,
            provisioning=_optional(history.provisioning),
            deprovisioning=_optional(history.deprovisioning),
            update=_listed(history.updates),
            suspension=_listed(history.suspensions),
            unsuspension=_listed(history.unsuspensions),
        ),
        license_type=instance.context.get("license_type"),
        commercial_model=instance.context.get("commercial_model"),
        subscription_secret_name=instance.credentials_binding or None,  # claimed from the HAP pool
    )


def _archived_runtime(archived: ArchivedInstance, history: RuntimeHistory) -> RuntimeDTO:
    return RuntimeDTO(
        instance_id=archived.instance_id,
        runtime_id=archived.last_runtime_id,
        global_account_id=archived.global_account_id,
        subscription_global_account_id="",
        sub_account_id=archived.subaccount_id,
        region=archived.cluster_region,
        sub_account_region=archived.platform_region,
        shoot_name=archived.shoot_name,
        service_class_id=KYMA_SERVICE_ID,
        service_class_name=KYMA_SERVICE_NAME,
        service_plan_id=archived.plan_id,
        service_plan_name=archived.plan_name,
        provider=archived.provider,
        user_id="",
        status=RuntimeStatus(
            created_at=archived.created_at,
            modified_at=history.modified_at,
            deleted_at=archived.archived_at,
            state=history.state.value,
        ),
    )


def _runtime(listing: RuntimeListing, bindings: bool) -> RuntimeDTO:
    record = listing.record
    if record.instance is not None:
        item = _live_runtime(record.instance, listing.history)
    elif record.archived is not None:
        item = _archived_runtime(record.archived, listing.history)
    else:
        raise ValueError("a runtime record holds an instance or an archive row")
    if bindings:
        item.bindings = [_binding(b) for b in record.bindings]
    if listing.actions:
        item.actions = [_action(a) for a in listing.actions]  # KEB omits an empty list
    item.runtime_config = listing.runtime_resource
    return item


def _info(item: InfoRuntime) -> InfoRuntimeDTO:
    instance = item.instance

    def brief(op: Operation | None) -> InfoOperation | None:
        return InfoOperation(state=op.state.osb_state, description=op.description) if op else None

    return InfoRuntimeDTO(
        runtime_id=instance.runtime_id,
        global_account_id=instance.global_account_id,
        subaccount_id=instance.subaccount_id,
        subaccount_region=instance.platform_region,
        service_instance_id=instance.instance_id,
        service_class_id=instance.service_id or KYMA_SERVICE_ID,
        service_class_name=KYMA_SERVICE_NAME,
        service_plan_id=instance.plan_id,
        service_plan_name=instance.plan_name,
        status=InfoStatus(
            created_at=instance.created_at,
            updated_at=item.modified_at,
            provisioning=brief(item.provisioning),
            deprovisioning=brief(item.deprovisioning),
        ),
    )


async def _json_array(items: AsyncIterator[InfoRuntime]) -> AsyncIterator[bytes]:
    """A JSON array written item by item: nothing but the current item is held in memory."""
    yield b"["
    first = True
    async for item in items:
        yield (b"" if first else b",") + msgspec.json.encode(_info(item))
        first = False
    yield b"]"


ERRORS = {400: ResponseSpec(data_container=OsbError, description="Invalid query parameters")}
PROTECTED_ERRORS = {**PROTECTED_RESPONSES, **ERRORS}


class InventoryController(Controller):
    tags = ("Runtimes",)

    @get(
        "/runtimes",
        summary="Runtimes, filtered and paged",
        description="Filters OR within a key and AND across keys. Without `state`, instances whose last "
        "operation is a finished deprovisioning (suspended trials) are left out; `state=deprovisioned` lists "
        "deprovisioned instances from the archive. `page_size` is at most 100.",
        responses=PROTECTED_ERRORS,
    )
    async def runtimes(
        self,
        *,
        request: Request[Any, Any, Any],
        inventory: Inventory,
        page: FromQuery[int] = 1,
        page_size: FromQuery[int] = MAX_PAGE_SIZE,
        account: Names = None,
        subaccount: Names = None,
        instance_id: Names = None,
        runtime_id: Names = None,
        region: Names = None,
        shoot: Names = None,
        plan: Names = None,
        states: Annotated[
            list[RuntimeState] | None, QueryParameter(name="state", description="Runtime states (OR).")
        ] = None,
        expired: FromQuery[bool] = False,
        with_bindings: FromQuery[bool] = False,
        op_detail: Annotated[
            str, QueryParameter(description="`all` (default) or `last` operation per kind.")
        ] = "all",
        bindings: FromQuery[bool] = False,
        runtime_config: Annotated[
            bool, QueryParameter(description="Embed each runtime's Runtime resource as `runtimeConfig`.")
        ] = False,
        actions: Annotated[
            bool, QueryParameter(description="Embed each runtime's `actions` (plan changes).")
        ] = False,
    ) -> RuntimesPageDTO:
        for single in ("page", "page_size"):
            if len(request.query_params.getall(single, [])) > 1:
                raise InvalidRequestError(f"{single}: give it once")
        if op_detail not in ("all", "last"):
            raise InvalidRequestError("op_detail: must be all or last")
        query = RuntimeFilter(
            accounts=tuple(account or ()),
            subaccounts=tuple(subaccount or ()),
            instance_ids=tuple(instance_id or ()),
            runtime_ids=tuple(runtime_id or ()),
            regions=tuple(region or ()),
            shoots=tuple(shoot or ()),
            plans=tuple(plan or ()),
            states=tuple(states or ()),
            expired=expired,
            with_bindings=with_bindings,
        )
        detail = RuntimeDetail(
            last_operation_only=op_detail == "last",
            bindings=bindings,
            actions=actions,
            runtime_resource=runtime_config,
        )
        result = await inventory.runtimes(query, page=page, page_size=page_size, detail=detail)
        data = [_runtime(listing, bindings) for listing in result.items]
        return RuntimesPageDTO(data=data, count=len(data), total_count=result.total)

    @get(
        "/info/runtimes",
        summary="Every runtime that exists, succeeded or failed",
        description="A JSON array of `InfoRuntime` items, oldest first, streamed.",
        responses={
            **PROTECTED_RESPONSES,
            200: ResponseSpec(data_container=list[InfoRuntimeDTO], description="All runtimes"),
        },
    )
    async def info_runtimes(self, *, inventory: Inventory) -> Stream:
        return Stream(_json_array(inventory.info_runtimes()), media_type="application/json")

    @get(
        "/events",
        summary="Operation events",
        description="Events of the given instances, runtimes and operations; each key may be repeated and "
        "each value may be a comma-separated list (all values count: OR). All events without any.",
        responses=PROTECTED_ERRORS,
    )
    async def events(
        self,
        *,
        inventory: Inventory,
        instance_ids: Names = None,
        runtime_ids: Names = None,
        operation_ids: Names = None,
    ) -> list[EventDTO]:
        def split(values: list[str] | None) -> list[str]:
            return [part.strip() for text in values or () for part in text.split(",") if part.strip()]

        found = await inventory.events(
            instance_ids=split(instance_ids),
            runtime_ids=split(runtime_ids),
            operation_ids=split(operation_ids),
        )
        return [
            EventDTO(
                level=e.level,
                instance_id=e.instance_id,
                operation_id=e.operation_id,
                message=e.message,
                created_at=e.created_at,
            )
            for e in found
        ]


class KubeconfigController(Controller):
    """Open without a token, as KEB's gateway passes it through: the kubeconfig holds no credentials."""

    tags = ("Runtimes",)

    @get(
        "/kubeconfig/{instance_id:str}",
        summary="OIDC kubeconfig of a runtime",
        description="YAML with one context per OIDC configuration of the runtime; 404 while the runtime is "
        "not provisioned.",
        responses={
            **ERRORS,
            404: ResponseSpec(data_container=OsbError, description="No provisioned runtime"),
            502: ResponseSpec(data_container=OsbError, description="The KCP refused the call"),
            503: ResponseSpec(data_container=OsbError, description="The KCP is unreachable for now; retry"),
        },
        media_type="application/x-yaml",
    )
    async def kubeconfig(
        self,
        *,
        request: Request[Any, Any, Any],
        inventory: Inventory,
        kubeconfig_origins: NamedDependency[tuple[str, ...]],
        instance_id: FromPath[str],
    ) -> Response[str]:
        headers = {"Content-Disposition": "attachment; filename=kubeconfig.yaml"}
        origin = request.headers.get("origin")
        if origin and ("*" in kubeconfig_origins or origin in kubeconfig_origins):
            # KEB's APP_KUBECONFIG_ALLOW_ORIGINS: the dashboard downloads it from the browser.
            headers["Access-Control-Allow-Origin"] = origin
            headers["Vary"] = "Origin"
        return Response(
            await inventory.kubeconfig(instance_id), media_type="application/x-yaml", headers=headers
        )
