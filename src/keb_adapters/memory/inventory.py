"""The inventory queries over the memory storage: the same rules as the SQL ones, in Python."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from keb_adapters.memory.storage import MemoryStorage
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.inventory import (
    InfoRuntime,
    RuntimeFilter,
    RuntimeRecord,
    RuntimesPage,
    matches_state,
    shown_by_default,
)
from keb_domain.model.operation import Operation, first_provisioning, latest_deprovisioning


def _within(value: str, allowed: Sequence[str]) -> bool:
    return not allowed or value in allowed


class MemoryInventory:
    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage

    def _has_bindings(self, instance_id: str) -> bool:
        return any(key[0] == instance_id for key in self._storage.bindings)

    def _live_matches(self, query: RuntimeFilter, instance: Instance) -> bool:
        last = self._storage.operations.get(instance.last_operation_id)
        return (
            _within(instance.global_account_id, query.accounts)
            and _within(instance.subaccount_id, query.subaccounts)
            and _within(instance.instance_id, query.instance_ids)
            and _within(instance.runtime_id, query.runtime_ids)
            and _within(instance.cluster_region, query.regions)
            and _within(instance.shoot_name, query.shoots)
            and _within(instance.plan_name, query.plans)
            and (not query.expired or instance.expired_at is not None)
            and (not query.with_bindings or self._has_bindings(instance.instance_id))
            and (
                any(matches_state(state, instance, last) for state in query.states)
                if query.states
                else shown_by_default(last)
            )
        )

    def _archived(self, query: RuntimeFilter, archived: ArchivedInstance) -> bool:
        return (
            _within(archived.global_account_id, query.accounts)
            and _within(archived.subaccount_id, query.subaccounts)
            and _within(archived.instance_id, query.instance_ids)
            and _within(archived.last_runtime_id, query.runtime_ids)
            and _within(archived.cluster_region, query.regions)
            and _within(archived.shoot_name, query.shoots)
            and _within(archived.plan_name, query.plans)
            and (not query.with_bindings or self._has_bindings(archived.instance_id))
            and archived.instance_id not in self._storage.instances  # listed once, as the live instance
        )

    def _operations(self, instance_id: str) -> tuple[Operation, ...]:
        found = [op for op in self._storage.operations.values() if op.instance_id == instance_id]
        return tuple(sorted(found, key=lambda op: (op.created_at, op.id)))

    async def runtimes(
        self, query: RuntimeFilter, *, offset: int, limit: int, bindings: bool
    ) -> RuntimesPage:
        matches: list[RuntimeRecord] = []
        if query.wants_live:
            matches += [
                RuntimeRecord(instance=instance)
                for instance in self._storage.instances.values()
                if self._live_matches(query, instance)
            ]
        if query.wants_archive:
            matches += [
                RuntimeRecord(archived=archived)
                for archived in self._storage.archive.values()
                if self._archived(query, archived)
            ]

        def created(record: RuntimeRecord) -> tuple[object, str]:
            origin = record.instance or record.archived
            return (origin.created_at if origin else None, record.instance_id)

        matches.sort(key=created)
        page = []
        for record in matches[offset : offset + limit]:
            held = tuple(
                sorted(
                    (b for key, b in self._storage.bindings.items() if key[0] == record.instance_id),
                    key=lambda b: (b.created_at, b.binding_id),
                )
            )
            page.append(
                RuntimeRecord(
                    instance=record.instance,
                    archived=record.archived,
                    operations=self._operations(record.instance_id) if record.instance else (),
                    bindings=held if bindings else (),
                )
            )
        return RuntimesPage(tuple(page), len(matches))

    async def info_runtimes(self) -> AsyncIterator[InfoRuntime]:
        for instance in sorted(self._storage.instances.values(), key=lambda i: (i.created_at, i.instance_id)):
            operations = self._operations(instance.instance_id)
            last = self._storage.operations.get(instance.last_operation_id)
            yield InfoRuntime(
                instance=instance,
                provisioning=first_provisioning(operations),
                deprovisioning=latest_deprovisioning(operations),
                modified_at=last.updated_at if last else instance.updated_at,
            )

    async def instance_ids_of_runtimes(self, runtime_ids: Sequence[str]) -> list[str]:
        live = {
            i.instance_id
            for i in self._storage.instances.values()
            if i.runtime_id and i.runtime_id in runtime_ids
        }
        gone = {a.instance_id for a in self._storage.archive.values() if a.last_runtime_id in runtime_ids}
        return sorted(live | gone)
