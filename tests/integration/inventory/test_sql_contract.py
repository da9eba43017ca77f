"""The SQL inventory answers as the memory inventory does, on SQLite and PostgreSQL.

The memory inventory is what the HTTP tests stand on; the SQL one is what runs. Both hold the same fleet
and must return the same records (live instances with every operation and binding, archive rows), in the
same order, with the same totals, for every filter of §5.1.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.memory.inventory import MemoryInventory
from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.sql import tables
from keb_adapters.sql.inventory import SqlInventory
from keb_adapters.sql.storage import SqlStorage
from keb_domain.model.instance import Instance
from keb_domain.model.inventory import RuntimeFilter, RuntimesPage
from keb_domain.model.inventory import RuntimeState as S
from keb_domain.model.operation import Operation, OperationState
from keb_domain.model.plans import PLANS_BY_NAME
from tests.builders import at
from tests.unit.inventory.fleet import (
    FAILED,
    IN_PROGRESS,
    PENDING,
    PROVIDERS,
    SUCCEEDED,
    Fleet,
    archived,
    binding,
    filters,
    filters_for,
    fleets,
    runtime,
)

Inventories = tuple[MemoryInventory, SqlInventory]


OK = [("provision", SUCCEEDED)]


def live(
    number: int,
    created: float,
    history: list[tuple[str, OperationState]],
    *,
    ga: str,
    sa: str,
    rt: str,
    plan: str = "aws",
    region: str = "eu-central-1",
    shoot: str = "",
    **changes: Any,
) -> tuple[Instance, list[Operation]]:
    return runtime(
        number,
        history,
        created=created,
        global_account_id=ga,
        subaccount_id=sa,
        runtime_id=rt,
        plan_id=PLANS_BY_NAME[plan].id,
        plan_name=plan,
        provider=PROVIDERS[plan],
        cluster_region=region,
        shoot_name=shoot or f"c-{number:02d}",
        **changes,
    )


def _runtimes() -> Fleet:
    """A runtime in every state, ties in creation time, fractions of seconds, two archived runtimes."""
    west = "westeurope"
    trial_in_west: dict[str, Any] = {"plan": "trial", "region": west, "context": {"active": True}}
    inactive_expired_trial = {**trial_in_west, "context": {"active": False}, "expired_at": at(9000)}
    suspended = [*OK, ("suspension", SUCCEEDED)]
    twice_deprovisioned = [("deprovision", FAILED), ("deprovision", IN_PROGRESS)]
    back_and_gone = [("unsuspension", SUCCEEDED), ("deprovision", SUCCEEDED)]
    made = [
        live(0, 0, OK, ga="ga-1", sa="sa-1", rt="rt-1", shoot="c-1"),
        live(11, 0, OK, ga="ga-1", sa="sa-1", rt="rt-11", shoot="c-1", expired_at=at(9000)),
        live(12, 0.5, OK, ga="ga-2", sa="sa-2", rt="rt-12", plan="azure", region=west),
        live(1, 600, [("provision", IN_PROGRESS)], ga="ga-2", sa="sa-2", rt="", plan="azure", region=west),
        live(2, 1200, [("provision", FAILED)], ga="ga-3", sa="sa-3", rt="", region="us-east-1"),
        live(3, 1800, [*OK, ("update", SUCCEEDED), ("update", FAILED)], ga="ga-1", sa="sa-3", rt="rt-03"),
        live(4, 2400, [*OK, ("update", IN_PROGRESS)], ga="ga-1", sa="sa-1", rt="rt-04"),
        live(5, 3000, [*OK, ("deprovision", IN_PROGRESS)], ga="ga-2", sa="sa-4", rt="rt-05"),
        live(6, 3600, [*OK, *twice_deprovisioned], ga="ga-2", sa="sa-4", rt="rt-06"),
        live(7, 4200, suspended, ga="ga-3", sa="sa-7", rt="", **inactive_expired_trial),
        live(
            8, 4800, [*suspended, ("unsuspension", IN_PROGRESS)], ga="ga-4", sa="sa-8", rt="", **trial_in_west
        ),
        live(9, 5400, [*OK, ("update", PENDING)], ga="ga-1", sa="sa-9", rt="rt-09"),
        live(10, 6000, [*suspended, *back_and_gone], ga="ga-5", sa="sa-10", rt="", **trial_in_west),
    ]
    gone = (
        archived("a-00", shoot_name="c-a0", last_runtime_id="rt-a0", created_at=at(1800)),
        archived(
            "a-01",
            global_account_id="ga-2",
            subaccount_id="sa-2",
            plan_name="azure",
            plan_id=PLANS_BY_NAME["azure"].id,
            cluster_region=west,
            shoot_name="c-a1",
            last_runtime_id="rt-1",
            created_at=at(6600),
        ),
    )
    held = (
        binding("i-00", "b-2", 10),
        binding("i-00", "b-1", 20),
        binding("i-05", "b-1"),
        binding("a-01", "b-9"),
    )
    return Fleet(
        instances=tuple(i for i, _ in made),
        operations=tuple(o for _, ops in made for o in ops),
        archive=gone,
        bindings=held,
    )


RUNTIMES = _runtimes()
LIVE = [
    "i-00",
    "i-11",
    "i-12",
    "i-01",
    "i-02",
    "i-03",
    "i-04",
    "i-05",
    "i-06",
    "i-07",
    "i-08",
    "i-09",
    "i-10",
]
CASES: list[tuple[str, RuntimeFilter, list[str]]] = [
    ("default", RuntimeFilter(), [i for i in LIVE if i not in ("i-07", "i-10")]),
    ("succeeded", RuntimeFilter(states=(S.SUCCEEDED,)), ["i-00", "i-11", "i-12", "i-09"]),
    ("provisioning", RuntimeFilter(states=(S.PROVISIONING,)), ["i-01", "i-08"]),
    ("failed", RuntimeFilter(states=(S.FAILED,)), ["i-02"]),
    ("error", RuntimeFilter(states=(S.ERROR,)), ["i-03"]),
    ("updating", RuntimeFilter(states=(S.UPDATING,)), ["i-04"]),
    ("deprovisioning", RuntimeFilter(states=(S.DEPROVISIONING,)), ["i-05", "i-06"]),
    ("suspended", RuntimeFilter(states=(S.SUSPENDED,)), ["i-07"]),
    ("deprovisioned", RuntimeFilter(states=(S.DEPROVISIONED,)), ["a-00", "a-01"]),
    ("all", RuntimeFilter(states=(S.ALL,)), LIVE),
    ("upgrading", RuntimeFilter(states=(S.UPGRADING,)), []),
    ("incomplete", RuntimeFilter(states=(S.DEPROVISION_INCOMPLETE,)), []),
    (
        "deprovisioned-or-succeeded",
        RuntimeFilter(states=(S.DEPROVISIONED, S.SUCCEEDED)),
        ["i-00", "i-11", "i-12", "a-00", "i-09", "a-01"],
    ),
    (
        "three-states",
        RuntimeFilter(states=(S.PROVISIONING, S.FAILED, S.ERROR)),
        ["i-01", "i-02", "i-03", "i-08"],
    ),
    ("account", RuntimeFilter(accounts=("ga-1",)), ["i-00", "i-11", "i-03", "i-04", "i-09"]),
    ("account-archive", RuntimeFilter(accounts=("ga-1",), states=(S.DEPROVISIONED,)), ["a-00"]),
    ("two-accounts", RuntimeFilter(accounts=("ga-2", "ga-3")), ["i-12", "i-01", "i-02", "i-05", "i-06"]),
    (
        "subaccount-everywhere",
        RuntimeFilter(subaccounts=("sa-2",), states=(S.ALL, S.DEPROVISIONED)),
        ["i-12", "i-01", "a-01"],
    ),
    (
        "instance-ids",
        RuntimeFilter(instance_ids=("i-03", "a-00", "i-99"), states=(S.DEPROVISIONED, S.ERROR)),
        ["a-00", "i-03"],
    ),
    (
        "runtime-id-live-and-archived",
        RuntimeFilter(runtime_ids=("rt-1",), states=(S.SUCCEEDED, S.DEPROVISIONED)),
        ["i-00", "a-01"],
    ),
    ("region", RuntimeFilter(regions=("westeurope",)), ["i-12", "i-01", "i-08"]),
    (
        "shoots",
        RuntimeFilter(shoots=("c-1", "c-a1"), states=(S.ALL, S.DEPROVISIONED)),
        ["i-00", "i-11", "a-01"],
    ),
    ("plan", RuntimeFilter(plans=("trial",), states=(S.ALL,)), ["i-07", "i-08", "i-10"]),
    ("plan-default", RuntimeFilter(plans=("trial",)), ["i-08"]),
    ("expired", RuntimeFilter(expired=True), ["i-11"]),
    ("expired-all", RuntimeFilter(expired=True, states=(S.ALL,)), ["i-11", "i-07"]),
    ("expired-archive", RuntimeFilter(expired=True, states=(S.DEPROVISIONED,)), []),
    ("expired-suspended", RuntimeFilter(expired=True, states=(S.SUSPENDED,)), ["i-07"]),
    ("with-bindings", RuntimeFilter(with_bindings=True), ["i-00", "i-05"]),
    ("with-bindings-archive", RuntimeFilter(with_bindings=True, states=(S.DEPROVISIONED,)), ["a-01"]),
    (
        "with-bindings-everywhere",
        RuntimeFilter(with_bindings=True, states=(S.ALL, S.DEPROVISIONED)),
        ["i-00", "i-05", "a-01"],
    ),
    (
        "and-across-keys",
        RuntimeFilter(accounts=("ga-1",), plans=("aws",), states=(S.UPDATING, S.ERROR)),
        ["i-03", "i-04"],
    ),
]


@pytest.fixture
async def inventories(sql_engine: AsyncEngine) -> Inventories:
    """The fixed fleet in memory and in the SQL database."""
    memory = MemoryStorage()
    await RUNTIMES.store(memory)
    await RUNTIMES.store(SqlStorage(sql_engine))
    return MemoryInventory(memory), SqlInventory(sql_engine)


async def page(
    inventory: MemoryInventory | SqlInventory, query: RuntimeFilter, offset: int, limit: int
) -> RuntimesPage:
    return await inventory.runtimes(query, offset=offset, limit=limit, bindings=True)


@pytest.mark.parametrize(
    ("query", "expected"), [(q, e) for _, q, e in CASES], ids=[name for name, _, _ in CASES]
)
async def test_both_inventories_list_the_same_runtimes(
    inventories: Inventories, query: RuntimeFilter, expected: list[str]
) -> None:
    """Memory and SQL return the expected runtimes, oldest first, as equal records with equal totals."""
    memory, sql = inventories
    from_memory, from_sql = await page(memory, query, 0, 100), await page(sql, query, 0, 100)
    assert [r.instance_id for r in from_sql.records] == expected
    assert from_sql == from_memory
    assert from_sql.total == len(expected)


@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_both_inventories_cut_the_same_pages(inventories: Inventories, limit: int) -> None:
    """Every page of every case is the same on both, whatever the page size."""
    memory, sql = inventories
    for _, query, expected in CASES:
        for offset in range(0, len(expected) + limit, limit):
            assert await page(sql, query, offset, limit) == await page(memory, query, offset, limit), query


async def test_a_live_record_carries_its_operations_and_bindings_in_order(inventories: Inventories) -> None:
    """The SQL record of i-00 holds its provisioning and both bindings, oldest binding first."""
    _, sql = inventories
    [record] = (await page(sql, RuntimeFilter(instance_ids=("i-00",)), 0, 10)).records
    assert [o.id for o in record.operations] == ["i-00-o0"]
    assert [b.binding_id for b in record.bindings] == ["b-2", "b-1"]


async def test_bindings_are_not_read_unless_asked(inventories: Inventories) -> None:
    """``bindings=False``: records come without bindings on both."""
    memory, sql = inventories
    query = RuntimeFilter(with_bindings=True)
    from_sql = await sql.runtimes(query, offset=0, limit=10, bindings=False)
    assert from_sql == await memory.runtimes(query, offset=0, limit=10, bindings=False)
    assert all(record.bindings == () for record in from_sql.records)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=filters_for(RUNTIMES), offset=st.integers(0, 16), limit=st.integers(1, 100))
async def test_any_filter_and_page_agree(
    inventories: Inventories, query: RuntimeFilter, offset: int, limit: int
) -> None:
    """Random filters and pages over the fixed fleet: the same page from both inventories."""
    memory, sql = inventories
    assert await page(sql, query, offset, limit) == await page(memory, query, offset, limit)


async def emptied(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for table in reversed(tables.metadata.sorted_tables):
            await connection.execute(sa.delete(table))


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fleet=fleets(max_live=12, max_archived=4), query=filters(), limit=st.integers(1, 20))
async def test_random_fleets_agree(
    sql_engine: AsyncEngine, fleet: Fleet, query: RuntimeFilter, limit: int
) -> None:
    """Random fleets and filters: the first page and the total agree."""
    await emptied(sql_engine)
    memory = MemoryStorage()
    await fleet.store(memory)
    await fleet.store(SqlStorage(sql_engine))
    assert await page(SqlInventory(sql_engine), query, 0, limit) == await page(
        MemoryInventory(memory), query, 0, limit
    )


# --- /info/runtimes and the runtime-id lookup ------------------------------------------------------------


async def test_info_runtimes_agree(inventories: Inventories) -> None:
    """Both stream the same items: every live instance, oldest first."""
    memory, sql = inventories
    from_sql = [item async for item in sql.info_runtimes()]
    assert from_sql == [item async for item in memory.info_runtimes()]
    assert [item.instance.instance_id for item in from_sql] == LIVE


def _ids(operation: Operation | None) -> str | None:
    return operation.id if operation else None


async def test_info_provisioning_is_the_first_provisioning(inventories: Inventories) -> None:
    """i-08 was suspended and is being unsuspended: its provisioning is still the first one."""
    _, sql = inventories
    items = {item.instance.instance_id: item async for item in sql.info_runtimes()}
    assert _ids(items["i-08"].provisioning) == "i-08-o0"


async def test_info_deprovisioning_is_the_latest_that_is_not_a_suspension(inventories: Inventories) -> None:
    """i-06's second deprovisioning is shown; i-10's deprovisioning, not its suspension; i-07 has none."""
    _, sql = inventories
    items = {item.instance.instance_id: item async for item in sql.info_runtimes()}
    assert (_ids(items["i-06"].deprovisioning), _ids(items["i-10"].deprovisioning)) == ("i-06-o2", "i-10-o3")
    assert items["i-07"].deprovisioning is None


async def test_info_modified_at_is_the_last_started_operation_s(inventories: Inventories) -> None:
    """i-09's pending update never started: its time is the provisioning's last change."""
    _, sql = inventories
    items = {item.instance.instance_id: item async for item in sql.info_runtimes()}
    provisioning = next(o for o in RUNTIMES.operations if o.id == "i-09-o0")
    assert items["i-09"].modified_at == provisioning.updated_at


async def test_an_empty_database_streams_nothing(sql_engine: AsyncEngine) -> None:
    """No instances: the stream ends at once."""
    assert [item async for item in SqlInventory(sql_engine).info_runtimes()] == []


@pytest.mark.parametrize(
    ("runtime_ids", "expected"),
    [(["rt-1"], ["a-01", "i-00"]), (["rt-a0", "rt-05"], ["a-00", "i-05"]), (["nobody"], []), ([], [])],
)
async def test_runtime_ids_map_to_live_and_archived_instances(
    inventories: Inventories, runtime_ids: list[str], expected: list[str]
) -> None:
    """Runtime ids name live instances and archived ones that had them, on both inventories."""
    memory, sql = inventories
    assert sorted(await sql.instance_ids_of_runtimes(runtime_ids)) == expected
    assert sorted(await memory.instance_ids_of_runtimes(runtime_ids)) == expected
