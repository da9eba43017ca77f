"""The operation queue on SQLite and PostgreSQL: exclusive claims, leases, release, next due time."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql import tables as t
from keb_adapters.sql.database import create_engine
from keb_adapters.sql.storage import SqlStorage
from keb_domain.model.operation import Operation, OperationState
from tests.builders import T0, at, operation

LEASE = at(120)


@pytest.fixture
def storage(sql_engine: AsyncEngine) -> SqlStorage:
    return SqlStorage(sql_engine)


async def add(storage: SqlStorage, *operations: Operation) -> None:
    async with storage() as uow:
        for item in operations:
            await uow.operations.add(item)
        await uow.commit()


async def lease_owners(engine: AsyncEngine) -> dict[str, str | None]:
    async with engine.connect() as connection:
        rows = await connection.execute(sa.select(t.operations.c.id, t.operations.c.lease_owner))
        return {row.id: row.lease_owner for row in rows}


async def test_due_operations_are_claimed_earliest_first(storage: SqlStorage) -> None:
    """claim_due returns up to limit due operations, the earliest next_run_at first."""
    await add(
        storage,
        operation("op-late", next_run_at=at(20)),
        operation("op-early", next_run_at=at(10)),
        operation("op-middle", next_run_at=at(15)),
    )
    assert await storage.claim_due(at(30), "w", LEASE, 2) == ["op-early", "op-middle"]


async def test_operations_not_yet_due_are_not_claimed(storage: SqlStorage) -> None:
    """An operation whose next_run_at lies in the future stays unclaimed until then."""
    await add(storage, operation(next_run_at=at(60)))
    assert await storage.claim_due(at(59), "w", LEASE, 10) == []
    assert await storage.claim_due(at(60), "w", LEASE, 10) == ["op-1"]


async def test_finished_operations_are_never_claimed(storage: SqlStorage) -> None:
    """Succeeded and failed operations are not work."""
    await add(
        storage,
        operation("op-ok", state=OperationState.SUCCEEDED, next_run_at=T0),
        operation("op-bad", state=OperationState.FAILED, next_run_at=T0),
        operation("op-pending", state=OperationState.PENDING),
    )
    assert await storage.claim_due(at(1), "w", LEASE, 10) == ["op-pending"]


async def test_a_claimed_operation_is_not_claimed_again_while_leased(storage: SqlStorage) -> None:
    """A second claimer does not get an operation whose lease is running."""
    await add(storage, operation())
    assert await storage.claim_due(at(1), "a", at(60), 10) == ["op-1"]
    assert await storage.claim_due(at(59), "b", at(120), 10) == []


async def test_an_expired_lease_is_taken_over(storage: SqlStorage) -> None:
    """Once the lease has run out, another owner claims the operation."""
    await add(storage, operation())
    await storage.claim_due(at(1), "dead", at(60), 10)
    assert await storage.claim_due(at(61), "alive", at(200), 10) == ["op-1"]
    assert (await lease_owners(storage.engine))["op-1"] == "alive"


async def test_a_released_operation_can_be_claimed_at_once(storage: SqlStorage) -> None:
    """release gives the lease up, so the operation is claimable before the lease would have ended."""
    await add(storage, operation())
    await storage.claim_due(at(1), "a", at(60), 10)
    await storage.release("op-1", "a")
    assert await storage.claim_due(at(2), "b", at(60), 10) == ["op-1"]


async def test_only_the_owner_releases(storage: SqlStorage) -> None:
    """release by another owner leaves the lease in place."""
    await add(storage, operation())
    await storage.claim_due(at(1), "a", at(60), 10)
    await storage.release("op-1", "b")
    assert await storage.claim_due(at(2), "b", at(60), 10) == []
    assert (await lease_owners(storage.engine))["op-1"] == "a"


async def test_next_due_at_is_the_earliest_unfinished_operation(storage: SqlStorage) -> None:
    """next_due_at is the smallest next_run_at of unfinished operations, timezone-aware."""
    await add(
        storage,
        operation("op-a", next_run_at=at(30)),
        operation("op-b", next_run_at=at(20)),
        operation("op-done", state=OperationState.SUCCEEDED, next_run_at=at(5)),
    )
    due = await storage.next_due_at()
    assert due == at(20)
    assert due is not None
    assert due.tzinfo is not None


async def test_next_due_at_is_none_without_work(storage: SqlStorage) -> None:
    """No unfinished operation: nothing is due."""
    await add(storage, operation(state=OperationState.FAILED))
    assert await storage.next_due_at() is None


async def test_concurrent_claimers_get_disjoint_operations(storage: SqlStorage) -> None:
    """Claimers racing over one pool of due operations never share one, and each owns what it got."""
    await add(storage, *(operation(f"op-{n:02d}", next_run_at=at(n % 5)) for n in range(40)))
    claims = await asyncio.gather(*(storage.claim_due(at(10), f"w{n}", LEASE, 7) for n in range(8)))
    claimed = Counter(op for claim in claims for op in claim)
    assert claimed
    assert all(count == 1 for count in claimed.values())
    owners = await lease_owners(storage.engine)
    for n, claim in enumerate(claims):
        assert all(owners[op] == f"w{n}" for op in claim)
    assert {op for op, owner in owners.items() if owner is not None} == set(claimed)


async def test_concurrent_claimers_on_postgresql_share_the_work(storage: SqlStorage) -> None:
    """With SKIP LOCKED, racing claimers pass over each other's rows, so together they take every due one."""
    if storage.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: a claimer that loses the race gets nothing this round")
    await add(storage, *(operation(f"op-{n:02d}", next_run_at=at(n % 5)) for n in range(40)))
    claims = await asyncio.gather(*(storage.claim_due(at(10), f"w{n}", LEASE, 7) for n in range(8)))
    claimed = Counter(op for claim in claims for op in claim)
    assert all(count == 1 for count in claimed.values())
    assert len(claimed) == 40


@pytest.fixture
async def replicas(sql_engine: AsyncEngine) -> AsyncIterator[list[SqlStorage]]:
    """Four brokers on separate engines (separate connection pools) over the same PostgreSQL schema."""
    if sql_engine.dialect.name != "postgresql":
        pytest.skip("several replicas share one database only on PostgreSQL")
    async with sql_engine.connect() as connection:
        schema = (await connection.execute(sa.text("SELECT current_schema()"))).scalar_one()
    url = sql_engine.url.render_as_string(hide_password=False)
    engines = [
        create_engine(url, connect_args={"server_settings": {"search_path": schema}}) for _ in range(4)
    ]
    try:
        yield [SqlStorage(engine) for engine in engines]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_replicas_claim_disjoint_operations_under_load(
    storage: SqlStorage, replicas: list[SqlStorage]
) -> None:
    """On PostgreSQL, replicas claiming in parallel rounds never share an operation."""
    await add(storage, *(operation(f"op-{n:03d}", next_run_at=at(n % 7)) for n in range(120)))
    seen: Counter[str] = Counter()
    for round_number in range(5):
        claims = await asyncio.gather(
            *(
                replica.claim_due(at(10), f"r{index}-{round_number}", LEASE, 9)
                for index, replica in enumerate(replicas)
                for _ in range(2)
            )
        )
        seen.update(op for claim in claims for op in claim)
    assert all(count == 1 for count in seen.values())
    assert len(seen) == 120


async def test_a_claim_skips_rows_another_claimer_holds_locked(storage: SqlStorage) -> None:
    """On PostgreSQL a claim passes over rows locked by a claim in flight instead of waiting for it."""
    if storage.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    await add(storage, *(operation(f"op-{n}", next_run_at=at(n)) for n in range(1, 5)))
    async with storage.engine.connect() as other:
        await other.begin()
        locked = sa.select(t.operations.c.id).where(t.operations.c.id.in_(["op-1", "op-2"])).with_for_update()
        await other.execute(locked)
        claimed = await asyncio.wait_for(storage.claim_due(at(10), "w", LEASE, 10), timeout=10)
        assert claimed == ["op-3", "op-4"]
        await other.rollback()
    assert await storage.claim_due(at(10), "w2", LEASE, 10) == ["op-1", "op-2"]
