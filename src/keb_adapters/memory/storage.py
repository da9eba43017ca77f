"""In-memory storage: the ports of ``keb_domain.ports`` over dictionaries.

Each unit of work works on its own copy and writes back on commit after checking that nothing it touched
changed meanwhile (optimistic concurrency, like the version-checked SQL statements). Contract tests run
the same rules against this and the SQL adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Generic, Self, TypeVar

import attrs

from keb_adapters.versions import V, at_version
from keb_domain.errors import StorageConflictError
from keb_domain.model.binding import Binding
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.operation import Operation, first_provisioning, last_started, polled_operation
from keb_domain.ports import BindingRead, InstanceRead, OperationEvent, PolledOperation


@attrs.define
class _Lease:
    owner: str
    until: datetime


class MemoryStorage:
    """The committed state shared by all units of work (one event loop, so no locks are needed)."""

    def __init__(self) -> None:
        self.instances: dict[str, Instance] = {}
        self.operations: dict[str, Operation] = {}
        self.archive: dict[str, ArchivedInstance] = {}
        self.events: list[OperationEvent] = []
        self.bindings: dict[tuple[str, str], Binding] = {}
        self.leases: dict[str, _Lease] = {}

    def unit_of_work(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    __call__ = unit_of_work

    # --- OperationQueue ---------------------------------------------------------------------------

    async def claim_due(self, now: datetime, owner: str, lease_until: datetime, limit: int) -> list[str]:
        claimed: list[str] = []
        # As SQL: the earliest next_run_at first (none at all first), then the oldest, then by id.
        by_due = sorted(
            self.operations.values(),
            key=lambda op: (op.next_run_at is not None, op.next_run_at or now, op.created_at, op.id),
        )
        for operation in by_due:
            if len(claimed) >= limit:
                break
            not_yet = operation.next_run_at is not None and operation.next_run_at > now
            if operation.state.is_final or not_yet:
                continue
            lease = self.leases.get(operation.id)
            if lease is not None and lease.until >= now:  # as SQL: free only once strictly past
                continue
            self.leases[operation.id] = _Lease(owner, lease_until)
            claimed.append(operation.id)
        return claimed

    async def release(self, operation_id: str, owner: str) -> None:
        lease = self.leases.get(operation_id)
        if lease is not None and lease.owner == owner:
            del self.leases[operation_id]

    async def next_due_at(self) -> datetime | None:
        due = [op.next_run_at for op in self.operations.values() if not op.state.is_final and op.next_run_at]
        return min(due) if due else None

    # --- StorageReads: the domain's choices over the committed state -----------------------------------

    def _operations_of(self, instance_id: str) -> list[Operation]:
        found = [op for op in self.operations.values() if op.instance_id == instance_id]
        return sorted(found, key=lambda op: (op.created_at, op.id))

    async def polled_operation(self, instance_id: str, operation_id: str | None) -> PolledOperation | None:
        chosen = polled_operation(self._operations_of(instance_id), operation_id)
        if chosen is not None:
            return PolledOperation(chosen.state, chosen.description)
        return PolledOperation(None, archived=True) if instance_id in self.archive else None

    async def instance_with_provisioning(self, instance_id: str) -> InstanceRead | None:
        instance = self.instances.get(instance_id)
        if instance is None:
            return None
        provisioning = first_provisioning(self._operations_of(instance_id))
        return InstanceRead(instance, provisioning.state if provisioning else None)

    async def binding_with_last_started(self, instance_id: str, binding_id: str) -> BindingRead | None:
        if instance_id not in self.instances:
            return None
        last = last_started(self._operations_of(instance_id))
        return BindingRead(self.bindings.get((instance_id, binding_id)), last.type if last else None)

    async def binding(self, instance_id: str, binding_id: str) -> Binding | None:
        return self.bindings.get((instance_id, binding_id))


K = TypeVar("K")


class _Table(Generic[K, V]):
    """A working copy of one dictionary that remembers the committed version of every key it touched."""

    def __init__(self, committed: dict[K, V]) -> None:
        self.committed = committed
        self.rows: dict[K, V] = dict(committed)
        self.base: dict[K, int | None] = {}  # key -> version when first touched (None: absent)

    def touch(self, key: K) -> None:
        if key not in self.base:
            row = self.rows.get(key)  # the version this unit of work read
            self.base[key] = getattr(row, "version", 0) if row is not None else None

    def _base_now(self, key: K) -> None:
        # Inserts and deletes are not version-checked in SQL: they act on the row as committed now.
        if key not in self.base:
            row = self.committed.get(key)
            self.base[key] = getattr(row, "version", 0) if row is not None else None

    def collides(self, key: K) -> bool:
        """Whether an insert of ``key`` fails, as in SQL: on this unit of work's writes, else on what is
        committed now (not on its snapshot: a row deleted meanwhile may be inserted again)."""
        return key in self.rows if key in self.base else key in self.committed

    def insert(self, key: K, row: V) -> None:
        self._base_now(key)
        self.rows[key] = row

    def delete(self, key: K) -> None:
        """Like SQL's DELETE: not version-checked, it removes the row as committed now."""
        self._base_now(key)
        self.rows.pop(key, None)

    def add(self, key: K, value: V, label: str) -> None:
        """Insert at version 1; StorageConflictError where SQL's unique key would refuse it."""
        if self.collides(key):
            raise StorageConflictError(f"{label} already exists")
        self.insert(key, at_version(value, 1))

    def update(self, key: K, value: V, label: str) -> V:
        """Write if the version is still the one read; returns the value at its new version."""
        stored = self.rows.get(key)
        if stored is None or stored.version != value.version:
            raise StorageConflictError(f"{label} was changed by a concurrent writer")
        self.touch(key)
        updated = at_version(value, value.version + 1)
        self.rows[key] = updated
        return updated

    def check(self) -> None:
        for key, version in self.base.items():
            row = self.committed.get(key)
            current = getattr(row, "version", 0) if row is not None else None
            if current != version:
                raise StorageConflictError(f"{key} was changed by a concurrent writer")

    def rebase(self) -> None:
        """After a commit, what this unit of work wrote is the committed state it builds on."""
        for key in self.base:
            row = self.committed.get(key)
            self.base[key] = getattr(row, "version", 0) if row is not None else None

    def write_back(self) -> None:
        for key in self.base:
            if key in self.rows:
                self.committed[key] = self.rows[key]
            else:
                self.committed.pop(key, None)


class _Instances:
    def __init__(self, table: _Table[str, Instance]) -> None:
        self._t = table

    async def get(self, instance_id: str) -> Instance | None:
        return self._t.rows.get(instance_id)

    async def add(self, instance: Instance) -> None:
        self._t.add(instance.instance_id, instance, f"instance {instance.instance_id}")

    async def update(self, instance: Instance) -> Instance:
        return self._t.update(instance.instance_id, instance, f"instance {instance.instance_id}")

    async def delete(self, instance_id: str) -> None:
        self._t.delete(instance_id)

    async def exists_for_global_account(self, global_account_id: str) -> bool:
        return any(i.global_account_id == global_account_id for i in self._t.rows.values())


class _Operations:
    def __init__(self, table: _Table[str, Operation]) -> None:
        self._t = table

    async def get(self, operation_id: str) -> Operation | None:
        return self._t.rows.get(operation_id)

    async def add(self, operation: Operation) -> None:
        self._t.add(operation.id, operation, f"operation {operation.id}")

    async def update(self, operation: Operation) -> Operation:
        return self._t.update(operation.id, operation, f"operation {operation.id}")

    async def list_for_instance(self, instance_id: str) -> list[Operation]:
        found = [op for op in self._t.rows.values() if op.instance_id == instance_id]
        return sorted(found, key=lambda op: (op.created_at, op.id))

    async def delete_for_instance(self, instance_id: str) -> None:
        # As SQL's DELETE ... WHERE instance_id: also what others committed since this unit of work began.
        rows = [*self._t.rows.values(), *self._t.committed.values()]
        for operation_id in dict.fromkeys(op.id for op in rows if op.instance_id == instance_id):
            self._t.delete(operation_id)


class _Bindings:
    def __init__(self, table: _Table[tuple[str, str], Binding]) -> None:
        self._t = table

    async def get(self, instance_id: str, binding_id: str) -> Binding | None:
        return self._t.rows.get((instance_id, binding_id))

    async def add(self, binding: Binding) -> None:
        self._t.add((binding.instance_id, binding.binding_id), binding, f"binding {binding.binding_id}")

    async def update(self, binding: Binding) -> Binding:
        key = (binding.instance_id, binding.binding_id)
        return self._t.update(key, binding, f"binding {binding.binding_id}")

    async def delete(self, instance_id: str, binding_id: str) -> None:
        self._t.delete((instance_id, binding_id))

    async def list_for_instance(self, instance_id: str) -> list[Binding]:
        found = [b for b in self._t.rows.values() if b.instance_id == instance_id]
        return sorted(found, key=lambda b: (b.created_at, b.binding_id))

    async def count_unexpired(self, instance_id: str, now: datetime) -> int:
        return sum(1 for b in self._t.rows.values() if b.instance_id == instance_id and b.expires_at > now)

    async def list_expired(
        self, now: datetime, limit: int, after: tuple[datetime, str, str] | None = None
    ) -> list[Binding]:
        def key(binding: Binding) -> tuple[datetime, str, str]:
            return (binding.expires_at, binding.instance_id, binding.binding_id)

        expired = [
            b for b in self._t.rows.values() if b.expires_at <= now and (after is None or key(b) > after)
        ]
        return sorted(expired, key=key)[:limit]


class _Archive:
    def __init__(self, rows: dict[str, ArchivedInstance]) -> None:
        self.rows = rows
        self.written: set[str] = set()  # only these go back on commit, not the whole copy

    async def get(self, instance_id: str) -> ArchivedInstance | None:
        return self.rows.get(instance_id)

    async def add(self, archived: ArchivedInstance) -> None:
        self.rows[archived.instance_id] = archived
        self.written.add(archived.instance_id)


class _Events:
    def __init__(self, committed: list[OperationEvent]) -> None:
        self.committed = committed
        self.added: list[OperationEvent] = []

    async def add(self, event: OperationEvent) -> None:
        self.added.append(event)

    async def list(
        self, *, instance_ids: Sequence[str] = (), operation_ids: Sequence[str] = ()
    ) -> list[OperationEvent]:
        events = [*self.committed, *self.added]
        if instance_ids or operation_ids:
            events = [e for e in events if e.instance_id in instance_ids or e.operation_id in operation_ids]
        return sorted(events, key=lambda e: e.created_at)


class MemoryUnitOfWork:
    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage

    async def __aenter__(self) -> Self:
        s = self._storage
        self._instances = _Table(s.instances)
        self._operations = _Table(s.operations)
        self._bindings = _Table(s.bindings)
        self._archive_rows = dict(s.archive)
        self.instances = _Instances(self._instances)
        self.operations = _Operations(self._operations)
        self.archive = _Archive(self._archive_rows)
        self.events = _Events(s.events)
        self.bindings = _Bindings(self._bindings)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None  # uncommitted work is simply dropped

    async def commit(self) -> None:
        # No await between the checks and the writes: atomic on one event loop.
        tables = (self._instances, self._operations, self._bindings)
        for table in tables:
            table.check()
        for table in tables:
            table.write_back()
        self._storage.archive.update({key: self._archive_rows[key] for key in self.archive.written})
        self.archive.written.clear()
        self._storage.events.extend(self.events.added)
        self.events.added = []
        for table in tables:
            table.rebase()
