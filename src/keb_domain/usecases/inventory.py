"""Use cases of the operator endpoints: runtimes, info/runtimes, kubeconfig and events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs

from keb_domain.errors import ClusterError, ClusterNotFoundError, InstanceNotFoundError, InvalidRequestError
from keb_domain.model.binding import build_oidc_kubeconfig
from keb_domain.model.inventory import (
    MAX_EVENT_IDS,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    Action,
    InfoRuntime,
    RuntimeFilter,
    RuntimeHistory,
    RuntimeRecord,
    archived_history,
    live_history,
    plan_actions,
)
from keb_domain.model.operation import OperationState, first_provisioning
from keb_domain.model.resources import resource_name
from keb_domain.ports import ControlPlane, Inventory, OperationEvent, UnitOfWorkFactory


@attrs.frozen
class RuntimeListing:
    """One runtime of a ``/runtimes`` page with what the operator asked to see of it."""

    record: RuntimeRecord
    history: RuntimeHistory
    actions: tuple[Action, ...] | None = None  # asked for: the plan changes
    runtime_resource: dict[str, Any] | None = None  # asked for: the Runtime resource KCP holds


@attrs.frozen
class RuntimeListingPage:
    items: tuple[RuntimeListing, ...]
    total: int

    @property
    def records(self) -> tuple[RuntimeRecord, ...]:
        return tuple(item.record for item in self.items)


@attrs.frozen
class RuntimeDetail:
    """What ``/runtimes`` embeds beyond the runtime itself."""

    last_operation_only: bool = False  # op_detail=last: the newest operation of each kind
    bindings: bool = False
    actions: bool = False
    runtime_resource: bool = False  # runtime_config=true


class InventoryUseCases:
    def __init__(self, inventory: Inventory, uow: UnitOfWorkFactory, control_plane: ControlPlane) -> None:
        self._inventory = inventory
        self._uow = uow
        self._kcp = control_plane

    async def runtimes(
        self, query: RuntimeFilter, *, page: int, page_size: int, detail: RuntimeDetail | None = None
    ) -> RuntimeListingPage:
        """A page of runtimes, each with its history as KEB's ``/runtimes`` tells it."""
        if not 1 <= page <= MAX_PAGE:
            raise InvalidRequestError(f"page: must be between 1 and {MAX_PAGE}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidRequestError(f"page_size: must be between 1 and {MAX_PAGE_SIZE}")
        detail = detail or RuntimeDetail()
        found = await self._inventory.runtimes(
            query, offset=(page - 1) * page_size, limit=page_size, bindings=detail.bindings
        )
        return RuntimeListingPage(
            items=tuple([await self._listing(record, detail) for record in found.records]),
            total=found.total,
        )

    async def _listing(self, record: RuntimeRecord, detail: RuntimeDetail) -> RuntimeListing:
        if record.instance is not None:
            history = live_history(record.instance, record.operations, last_only=detail.last_operation_only)
            runtime_id = record.instance.runtime_id
        elif record.archived is not None:
            history = archived_history(record.archived)
            runtime_id = record.archived.last_runtime_id
        else:
            raise ValueError("a runtime record holds an instance or an archive row")
        return RuntimeListing(
            record=record,
            history=history,
            actions=plan_actions(record.operations) if detail.actions else None,
            runtime_resource=await self.runtime_resource(runtime_id) if detail.runtime_resource else None,
        )

    def info_runtimes(self) -> AsyncIterator[InfoRuntime]:
        return self._inventory.info_runtimes()

    async def events(
        self, *, instance_ids: Sequence[str], runtime_ids: Sequence[str], operation_ids: Sequence[str]
    ) -> list[OperationEvent]:
        """Operation events of the named instances, runtimes and operations (all of them without names)."""
        if len(instance_ids) + len(runtime_ids) + len(operation_ids) > MAX_EVENT_IDS:
            raise InvalidRequestError(f"at most {MAX_EVENT_IDS} instance, runtime and operation ids together")
        wanted = list(instance_ids)
        if runtime_ids:
            wanted += await self._inventory.instance_ids_of_runtimes(runtime_ids)
            if not wanted and not operation_ids:
                return []  # runtimes nobody knows: nothing matches
        async with self._uow() as uow:
            return await uow.events.list(instance_ids=wanted, operation_ids=list(operation_ids))

    async def runtime_resource(self, runtime_id: str) -> dict[str, Any] | None:
        """The Runtime resource of a runtime for ``/runtimes?runtime_config=true``, without managedFields.

        As KEB: a runtime without one, or one the control plane cannot give now, has no ``runtimeConfig``.
        """
        if not runtime_id:
            return None
        try:
            return await self._kcp.runtime_document(resource_name(runtime_id))
        except ClusterError:
            return None

    async def kubeconfig(self, instance_id: str) -> str:
        """The OIDC kubeconfig of a provisioned runtime (keb-reference §5.3)."""
        async with self._uow() as uow:
            instance = await uow.instances.get(instance_id)
            if instance is None:
                raise InstanceNotFoundError(f"instance {instance_id} does not exist")
            provisioning = first_provisioning(await uow.operations.list_for_instance(instance_id))
        if not instance.runtime_id:
            raise InstanceNotFoundError(
                f"instance {instance_id} has no runtime; provisioning could be in progress"
            )
        if provisioning is None or provisioning.state is not OperationState.SUCCEEDED:
            raise InstanceNotFoundError(f"provisioning of instance {instance_id} has not succeeded")
        try:
            endpoint = await self._kcp.runtime_endpoint(instance.runtime_id)
        except ClusterNotFoundError:
            raise InstanceNotFoundError(
                f"the kubeconfig of instance {instance_id} does not exist yet"
            ) from None
        oidc = await self._kcp.runtime_oidc(resource_name(instance.runtime_id))
        if oidc is None:
            raise InstanceNotFoundError(f"the runtime of instance {instance_id} does not exist")
        return build_oidc_kubeconfig(instance.cluster_name, endpoint, oidc)
