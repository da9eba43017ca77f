"""Memory storage and SQL storage agree: the same random programs get the same answers.

After Hypothesis' own ``test_database_agreement``: a program is a list of steps over the ports of
``keb_domain.ports`` (units of work that commit or are abandoned, pairs of units of work that overlap so
that one may lose a race, and the operation queue). Both storages run it in lockstep; after every step
their answers and their whole visible state must be equal. The memory storage is what unit tests and the
HTTP tests stand on, so a difference here means those tests prove less than they claim.

Optimistic memory storage finds a lost race at commit, SQL at the write; so within a unit of work the
answers are compared up to the first StorageConflictError of either, and both must then end in one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.sql import tables
from keb_adapters.sql.storage import SqlStorage
from keb_app.bootstrap import Storage
from keb_domain.errors import StorageConflictError
from keb_domain.model.binding import Binding, CredentialStrategy
from keb_domain.model.instance import Instance
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.ports import UnitOfWork
from tests.builders import archived, at, event, instance, operation

INSTANCE_IDS = ("i1", "i2", "i3")
OPERATION_IDS = ("o1", "o2", "o3", "o4")
BINDING_IDS = ("b1", "b2")
ACCOUNTS = ("ga-1", "ga-2")
OWNERS = ("w1", "w2")
CONFLICT = "StorageConflictError"

Seen = dict[tuple[str, ...], Any]


class Action(Protocol):
    """One call on a unit of work; ``seen`` holds what this unit of work has read or written."""

    async def run(self, uow: UnitOfWork, seen: Seen) -> object: ...


# --- instances -----------------------------------------------------------------------------------------


@attrs.frozen
class GetInstance:
    instance_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await self.read(uow, seen)

    async def read(self, uow: UnitOfWork, seen: Seen) -> Instance | None:
        found = await uow.instances.get(self.instance_id)
        seen["instance", self.instance_id] = found
        return found


@attrs.frozen
class AddInstance:
    instance_id: str
    account: str
    created: datetime

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        await uow.instances.add(
            instance(self.instance_id, global_account_id=self.account, created_at=self.created)
        )
        return None


@attrs.frozen
class UpdateInstance:
    """Update the instance as this unit of work last saw it (reading it first if it has not)."""

    instance_id: str
    runtime_id: str
    skew: int  # 0: the version read; otherwise a stale or future version

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        key = ("instance", self.instance_id)
        current: Instance | None = (
            seen[key] if key in seen else await GetInstance(self.instance_id).read(uow, seen)
        )
        # Never read or gone: version 0, which no stored row has (an insert stores version 1).
        version = current.version + self.skew if current is not None else 0
        current = current or instance(self.instance_id)
        changed = attrs.evolve(current, runtime_id=self.runtime_id, version=version)
        updated = await uow.instances.update(changed)
        seen[key] = updated
        return updated


@attrs.frozen
class DeleteInstance:
    instance_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        await uow.instances.delete(self.instance_id)
        return None


@attrs.frozen
class AccountHasInstances:
    account: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await uow.instances.exists_for_global_account(self.account)


# --- operations ----------------------------------------------------------------------------------------


@attrs.frozen
class GetOperation:
    operation_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await self.read(uow, seen)

    async def read(self, uow: UnitOfWork, seen: Seen) -> Operation | None:
        found = await uow.operations.get(self.operation_id)
        seen["operation", self.operation_id] = found
        return found


@attrs.frozen
class AddOperation:
    operation_id: str
    instance_id: str
    state: OperationState
    created: datetime
    next_run: datetime | None
    type: OperationType = OperationType.PROVISION
    temporary: bool = False

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        await uow.operations.add(
            operation(
                self.operation_id,
                self.instance_id,
                state=self.state,
                type=self.type,
                temporary=self.temporary,
                created_at=self.created,
                next_run_at=self.next_run,
                description=f"{self.type.value} {self.state.value}",
            )
        )
        return None


@attrs.frozen
class UpdateOperation:
    operation_id: str
    state: OperationState
    next_run: datetime | None
    skew: int

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        key = ("operation", self.operation_id)
        current: Operation | None = (
            seen[key] if key in seen else await GetOperation(self.operation_id).read(uow, seen)
        )
        version = current.version + self.skew if current is not None else 0
        current = current or operation(self.operation_id)
        changed = attrs.evolve(
            current,
            state=self.state,
            next_run_at=self.next_run,
            attempts=current.attempts + 1,
            finished_stages=(*current.finished_stages, f"stage-{current.attempts}"),
            version=version,
        )
        updated = await uow.operations.update(changed)
        seen[key] = updated
        return updated


@attrs.frozen
class ListOperations:
    instance_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await uow.operations.list_for_instance(self.instance_id)


@attrs.frozen
class DeleteOperations:
    instance_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        await uow.operations.delete_for_instance(self.instance_id)
        return None


# --- archive and events --------------------------------------------------------------------------------


@attrs.frozen
class GetArchive:
    instance_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await uow.archive.get(self.instance_id)


@attrs.frozen
class Archive:
    instance_id: str
    runtime_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        await uow.archive.add(archived(self.instance_id, last_runtime_id=self.runtime_id))
        return None


@attrs.frozen
class AddEvent:
    operation_id: str
    instance_id: str
    message: str
    when: datetime

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        await uow.events.add(event(self.operation_id, self.instance_id, self.message, self.when))
        return None


@attrs.frozen
class ListEvents:
    instance_ids: tuple[str, ...]
    operation_ids: tuple[str, ...]

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await uow.events.list(instance_ids=self.instance_ids, operation_ids=self.operation_ids)


# --- bindings ------------------------------------------------------------------------------------------


def binding(instance_id: str, binding_id: str, created: datetime, expires: datetime) -> Binding:
    return Binding(
        instance_id=instance_id,
        binding_id=binding_id,
        strategy=CredentialStrategy.TOKEN_REQUEST,
        expiration_seconds=600,
        created_at=created,
        expires_at=expires,
        created_by="tester",
        credentials="",
    )


@attrs.frozen
class GetBinding:
    instance_id: str
    binding_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await self.read(uow, seen)

    async def read(self, uow: UnitOfWork, seen: Seen) -> Binding | None:
        found = await uow.bindings.get(self.instance_id, self.binding_id)
        seen["binding", self.instance_id, self.binding_id] = found
        return found


@attrs.frozen
class AddBinding:
    instance_id: str
    binding_id: str
    created: datetime
    expires: datetime

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        await uow.bindings.add(binding(self.instance_id, self.binding_id, self.created, self.expires))
        return None


@attrs.frozen
class UpdateBinding:
    instance_id: str
    binding_id: str
    credentials: str
    skew: int

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        key = ("binding", self.instance_id, self.binding_id)
        current: Binding | None = (
            seen[key] if key in seen else await GetBinding(self.instance_id, self.binding_id).read(uow, seen)
        )
        version = current.version + self.skew if current is not None else 0
        current = current or binding(self.instance_id, self.binding_id, at(0), at(600))
        changed = attrs.evolve(current, credentials=self.credentials, version=version)
        updated = await uow.bindings.update(changed)
        seen[key] = updated
        return updated


@attrs.frozen
class DeleteBinding:
    instance_id: str
    binding_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        await uow.bindings.delete(self.instance_id, self.binding_id)
        return None


@attrs.frozen
class ListBindings:
    instance_id: str

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await uow.bindings.list_for_instance(self.instance_id)


@attrs.frozen
class CountUnexpired:
    instance_id: str
    now: datetime

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await uow.bindings.count_unexpired(self.instance_id, self.now)


@attrs.frozen
class ListExpired:
    now: datetime
    limit: int

    async def run(self, uow: UnitOfWork, seen: Seen) -> object:
        return await uow.bindings.list_expired(self.now, self.limit)


# --- program steps -------------------------------------------------------------------------------------


@attrs.frozen
class Transaction:
    """A unit of work that runs its actions and commits, or is abandoned."""

    actions: tuple[Action, ...]
    commit: bool


@attrs.frozen
class Race:
    """Unit of work A reads; B runs and commits meanwhile; then A writes from what it read, and commits."""

    reads: tuple[Action, ...]
    other: Transaction
    writes: tuple[Action, ...]


@attrs.frozen
class Claim:
    now: datetime
    owner: str
    lease_seconds: int
    limit: int


@attrs.frozen
class Release:
    operation_id: str
    owner: str


@attrs.frozen
class NextDue:
    pass


@attrs.frozen
class Poll:
    """The single-query reads of the polled endpoints, outside any unit of work."""

    instance_id: str
    operation_id: str | None
    binding_id: str


Step = Transaction | Race | Claim | Release | NextDue | Poll


async def run_actions(uow: UnitOfWork, actions: Sequence[Action], seen: Seen, answers: list[object]) -> bool:
    """Append each answer; False once an action lost a race (the unit of work is then done)."""
    for action in actions:
        try:
            answers.append(await action.run(uow, seen))
        except StorageConflictError:
            answers.append(CONFLICT)
            return False
    return True


async def finish(uow: UnitOfWork, commit: bool, answers: list[object]) -> None:
    if not commit:
        answers.append("abandoned")
        return
    try:
        await uow.commit()
    except StorageConflictError:
        answers.append(CONFLICT)
        return
    answers.append("committed")


async def run_transaction(storage: Storage, step: Transaction) -> list[object]:
    answers: list[object] = []
    async with storage() as uow:
        if await run_actions(uow, step.actions, {}, answers):
            await finish(uow, step.commit, answers)
    return answers


async def run_race(storage: Storage, step: Race) -> tuple[list[object], list[object]]:
    mine: list[object] = []
    seen: Seen = {}
    async with storage() as uow:
        await run_actions(uow, step.reads, seen, mine)
        # A writes only from what it read before B: what it did not read, it takes as absent. (Reading
        # now would differ by design: SQL reads what B committed, memory keeps A's snapshot.)
        for action in step.writes:
            if isinstance(action, UpdateInstance):
                seen.setdefault(("instance", action.instance_id), None)
            elif isinstance(action, UpdateOperation):
                seen.setdefault(("operation", action.operation_id), None)
            elif isinstance(action, UpdateBinding):
                seen.setdefault(("binding", action.instance_id, action.binding_id), None)
        theirs = await run_transaction(storage, step.other)
        if await run_actions(uow, step.writes, seen, mine):
            await finish(uow, True, mine)
    return mine, theirs


async def run_step(storage: Storage, step: Step) -> object:
    if isinstance(step, Transaction):
        return await run_transaction(storage, step)
    if isinstance(step, Race):
        return await run_race(storage, step)
    if isinstance(step, Claim):
        lease_until = step.now + timedelta(seconds=step.lease_seconds)
        return await storage.claim_due(step.now, step.owner, lease_until, step.limit)
    if isinstance(step, Release):
        await storage.release(step.operation_id, step.owner)
        return None
    if isinstance(step, Poll):
        return (
            await storage.polled_operation(step.instance_id, step.operation_id),
            await storage.instance_with_provisioning(step.instance_id),
            await storage.binding_with_last_started(step.instance_id, step.binding_id),
            await storage.binding(step.instance_id, step.binding_id),
        )
    return await storage.next_due_at()


def up_to_first_conflict(answers: list[object]) -> list[object]:
    return answers[: answers.index(CONFLICT) + 1] if CONFLICT in answers else answers


def assert_same_unit_of_work(memory: list[object], sql: list[object], where: object) -> None:
    """Equal answers until either lost a race; then both must have lost it."""
    memory, sql = up_to_first_conflict(memory), up_to_first_conflict(sql)
    common = min(len(memory), len(sql)) - 1
    assert memory[:common] == sql[:common], where
    assert (memory[-1] == CONFLICT) == (sql[-1] == CONFLICT), (where, memory, sql)
    if memory[-1] != CONFLICT:
        assert memory == sql, where


def assert_same_answer(step: Step, memory: object, sql: object) -> None:
    if isinstance(step, Transaction):
        assert isinstance(memory, list)
        assert isinstance(sql, list)
        assert memory == sql, step  # no concurrency: even the moment of a conflict agrees
    elif isinstance(step, Race):
        assert isinstance(memory, tuple)
        assert isinstance(sql, tuple)
        assert memory[1] == sql[1], ("the other unit of work", step)
        assert_same_unit_of_work(memory[0], sql[0], step)
    else:
        assert memory == sql, step


async def visible_state(storage: Storage) -> dict[str, object]:
    """Everything the ports let one see (every operation belongs to one of the instance ids), read in a
    fresh unit of work."""
    async with storage() as uow:
        return {
            "instances": [await uow.instances.get(i) for i in INSTANCE_IDS],
            "operations": [await uow.operations.list_for_instance(i) for i in INSTANCE_IDS],
            "archive": [await uow.archive.get(i) for i in INSTANCE_IDS],
            "events": await uow.events.list(),
            "bindings": [await uow.bindings.list_for_instance(i) for i in INSTANCE_IDS],
            "next due": await storage.next_due_at(),
        }


# --- strategies ----------------------------------------------------------------------------------------

instance_ids = st.sampled_from(INSTANCE_IDS)
operation_ids = st.sampled_from(OPERATION_IDS)
binding_ids = st.sampled_from(BINDING_IDS)
times = st.sampled_from([at(0), at(10), at(20), at(30)])
skews = st.sampled_from([0, 0, 0, -1, 1])

reads: st.SearchStrategy[Action] = st.one_of(
    st.builds(GetInstance, instance_ids),
    st.builds(GetOperation, operation_ids),
    st.builds(GetBinding, instance_ids, binding_ids),
)
writes: st.SearchStrategy[Action] = st.one_of(
    st.builds(AddInstance, instance_ids, st.sampled_from(ACCOUNTS), times),
    st.builds(UpdateInstance, instance_ids, st.sampled_from(["", "r1", "r2"]), skews),
    st.builds(DeleteInstance, instance_ids),
    st.builds(
        AddOperation,
        operation_ids,
        instance_ids,
        st.sampled_from(OperationState),
        times,
        st.none() | times,
        st.sampled_from(OperationType),
        st.booleans(),
    ),
    st.builds(UpdateOperation, operation_ids, st.sampled_from(OperationState), st.none() | times, skews),
    st.builds(DeleteOperations, instance_ids),
    st.builds(Archive, instance_ids, st.sampled_from(["r1", "r2"])),
    st.builds(AddEvent, operation_ids, instance_ids, st.sampled_from(["a", "b"]), times),
    st.builds(AddBinding, instance_ids, binding_ids, times, times),
    st.builds(UpdateBinding, instance_ids, binding_ids, st.sampled_from(["", "x", "y"]), skews),
    st.builds(DeleteBinding, instance_ids, binding_ids),
)
queries: st.SearchStrategy[Action] = st.one_of(
    reads,
    st.builds(AccountHasInstances, st.sampled_from(ACCOUNTS)),
    st.builds(ListOperations, instance_ids),
    st.builds(GetArchive, instance_ids),
    st.builds(
        ListEvents,
        st.lists(instance_ids, max_size=2).map(tuple),
        st.lists(operation_ids, max_size=2).map(tuple),
    ),
    st.builds(ListBindings, instance_ids),
    st.builds(CountUnexpired, instance_ids, times),
    st.builds(ListExpired, times, st.integers(1, 3)),
)
transactions = st.builds(
    Transaction,
    st.lists(st.one_of(writes, writes, queries), min_size=1, max_size=6).map(tuple),
    st.sampled_from([True, True, True, False]),
)
steps: st.SearchStrategy[Step] = st.one_of(
    transactions,
    transactions,
    st.builds(
        Race,
        st.lists(reads, min_size=1, max_size=3).map(tuple),
        st.builds(Transaction, st.lists(writes, min_size=1, max_size=4).map(tuple), st.just(True)),
        st.lists(writes, min_size=1, max_size=3).map(tuple),
    ),
    st.builds(Claim, times, st.sampled_from(OWNERS), st.sampled_from([5, 10, 20]), st.integers(1, 3)),
    st.builds(Release, operation_ids, st.sampled_from(OWNERS)),
    st.just(NextDue()),
    st.builds(Poll, instance_ids, st.none() | operation_ids, binding_ids),
)


# --- the test ------------------------------------------------------------------------------------------


async def emptied(engine: AsyncEngine) -> SqlStorage:
    async with engine.begin() as connection:
        for table in reversed(tables.metadata.sorted_tables):
            await connection.execute(sa.delete(table))
    return SqlStorage(engine)


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=st.lists(steps, min_size=1, max_size=12))
async def test_memory_and_sql_storage_agree(sql_engine: AsyncEngine, program: list[Step]) -> None:
    """Every step of a random program gets the same answer from both storages, and leaves the same state."""
    memory = MemoryStorage()
    sql = await emptied(sql_engine)
    for number, step in enumerate(program):
        assert_same_answer(step, await run_step(memory, step), await run_step(sql, step))
        assert await visible_state(memory) == await visible_state(sql), (number, step)
