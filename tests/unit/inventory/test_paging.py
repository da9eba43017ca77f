"""Paging ``GET /runtimes`` over the memory inventory: every match once, oldest first, totals that agree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.memory.inventory import MemoryInventory
from keb_adapters.memory.storage import MemoryStorage
from keb_domain.errors import InvalidRequestError
from keb_domain.model.inventory import RuntimeFilter, RuntimeState
from keb_domain.model.operation import OperationState, OperationType
from keb_domain.usecases.inventory import InventoryUseCases, RuntimeDetail
from tests.support import FakeClock
from tests.unit.inventory.fleet import Fleet, binding, filters, fleets, runtime


def use_cases(storage: MemoryStorage) -> InventoryUseCases:
    return InventoryUseCases(MemoryInventory(storage), storage, MemoryControlPlane(FakeClock()))


async def stored(fleet: Fleet) -> InventoryUseCases:
    storage = MemoryStorage()
    await fleet.store(storage)
    return use_cases(storage)


def _state_rule(state: RuntimeState, kind: str, last_state: OperationState) -> bool:
    """keb-reference §5.1 in words: which last operation a state filter wants."""
    in_progress, succeeded = last_state is OperationState.IN_PROGRESS, last_state is OperationState.SUCCEEDED
    failed = last_state is OperationState.FAILED
    return {
        RuntimeState.PROVISIONING: kind == "provision" and in_progress,
        RuntimeState.DEPROVISIONING: kind == "deprovision" and in_progress,
        RuntimeState.UPDATING: kind == "update" and in_progress,
        RuntimeState.SUCCEEDED: succeeded and kind != "deprovision",
        RuntimeState.FAILED: failed and kind in ("provision", "deprovision"),
        RuntimeState.ERROR: failed and kind == "update",
    }.get(state, False)


def expected_ids(fleet: Fleet, query: RuntimeFilter) -> list[str]:
    """The ids a filter matches, oldest first, computed from the rules of §5.1 independently."""

    def within(value: str, allowed: tuple[str, ...]) -> bool:
        return not allowed or value in allowed

    found: list[tuple[object, str]] = []
    for live in fleet.instances:
        last = fleet.last_operation(live)
        assert last is not None  # every instance starts its provisioning at once
        kind = last.type.value  # an unsuspension is a provision, a suspension a deprovision, in SQL too
        if query.states:
            state_ok = any(
                state is RuntimeState.ALL
                or (state is RuntimeState.SUSPENDED and live.context.get("active") is False)
                or _state_rule(state, kind, last.state)
                for state in query.states
            )
        else:
            state_ok = not (last.type is OperationType.DEPROVISION and last.state is OperationState.SUCCEEDED)
        if (
            state_ok
            and within(live.global_account_id, query.accounts)
            and within(live.subaccount_id, query.subaccounts)
            and within(live.instance_id, query.instance_ids)
            and within(live.runtime_id, query.runtime_ids)
            and within(live.cluster_region, query.regions)
            and within(live.shoot_name, query.shoots)
            and within(live.plan_name, query.plans)
            and (not query.expired or live.expired_at is not None)
            and (not query.with_bindings or fleet.has_bindings(live.instance_id))
        ):
            found.append((live.created_at, live.instance_id))
    if RuntimeState.DEPROVISIONED in query.states and not query.expired:
        found += [
            (row.created_at, row.instance_id)
            for row in fleet.archive
            if within(row.global_account_id, query.accounts)
            and within(row.subaccount_id, query.subaccounts)
            and within(row.instance_id, query.instance_ids)
            and within(row.last_runtime_id, query.runtime_ids)
            and within(row.cluster_region, query.regions)
            and within(row.shoot_name, query.shoots)
            and within(row.plan_name, query.plans)
            and (not query.with_bindings or fleet.has_bindings(row.instance_id))
        ]
    return [instance_id for _, instance_id in sorted(found)]


async def visit_all_pages(cases: InventoryUseCases, query: RuntimeFilter, page_size: int) -> list[str]:
    """Page 1, 2, ... until an empty page; checks each page's size and total on the way."""
    visited: list[str] = []
    totals: set[int] = set()
    page = 1
    while True:
        result = await cases.runtimes(query, page=page, page_size=page_size)
        totals.add(result.total)
        if not result.records:
            break
        assert len(result.records) <= page_size
        visited += [record.instance_id for record in result.records]
        page += 1
    assert totals == {len(visited)}  # every page, the empty one too, counts all matches
    assert page == -(-len(visited) // page_size) + 1  # every page but the last is full
    return visited


@given(fleet=fleets(), query=filters(), page_size=st.integers(1, 100))
async def test_paging_visits_every_match_once_in_creation_order(
    fleet: Fleet, query: RuntimeFilter, page_size: int
) -> None:
    """Pages 1, 2, ... of any filter concatenate to exactly its matches, oldest first (ties by id)."""
    cases = await stored(fleet)
    assert await visit_all_pages(cases, query, page_size) == expected_ids(fleet, query)


# Every state alone, and no state filter at all.
EACH_STATE: tuple[RuntimeState | None, ...] = (None, *RuntimeState)


@settings(max_examples=20)
@given(
    fleet=fleets(),
    page_sizes=st.lists(st.integers(1, 10), min_size=len(EACH_STATE), max_size=len(EACH_STATE)),
)
async def test_each_state_pages_through_its_matches(fleet: Fleet, page_sizes: list[int]) -> None:
    """Each ``state`` alone (and none) pages through exactly the runtimes §5.1 gives it, oldest first.

    One fleet is checked under every state, each with a page size of its own: every state still sees
    20 random fleets, at a twelfth of the cost of drawing a fleet per state.
    """
    cases = await stored(fleet)
    for state, page_size in zip(EACH_STATE, page_sizes, strict=True):
        query = RuntimeFilter(states=(state,) if state else ())
        visited = await visit_all_pages(cases, query, page_size)
        assert visited == expected_ids(fleet, query), state


@given(fleet=fleets(), query=filters(), page_size=st.integers(1, 100), page=st.integers(1, 40))
async def test_a_page_holds_its_slice_of_the_matches(
    fleet: Fleet, query: RuntimeFilter, page_size: int, page: int
) -> None:
    """Any single page is the slice ``[(page-1)*size, page*size)`` of the matches, with the full total."""
    cases = await stored(fleet)
    expected = expected_ids(fleet, query)
    result = await cases.runtimes(query, page=page, page_size=page_size)
    start = (page - 1) * page_size
    assert [r.instance_id for r in result.records] == expected[start : start + page_size]
    assert result.total == len(expected)


@given(fleet=fleets())
async def test_a_live_record_carries_all_its_operations_oldest_first(fleet: Fleet) -> None:
    """Each live runtime of a page comes with every operation of its instance, ordered by creation."""
    cases = await stored(fleet)
    result = await cases.runtimes(RuntimeFilter(states=(RuntimeState.ALL,)), page=1, page_size=100)
    for record in result.records:
        own = sorted(
            (o for o in fleet.operations if o.instance_id == record.instance_id),
            key=lambda o: (o.created_at, o.id),
        )
        assert [o.id for o in record.operations] == [o.id for o in own]


async def test_bindings_are_attached_only_when_asked() -> None:
    """``bindings=True`` attaches an instance's bindings, oldest first; otherwise none are read."""
    live, operations = runtime(1, [("provision", OperationState.SUCCEEDED)])
    held = (binding(live.instance_id, "b-2", seconds=5), binding(live.instance_id, "b-1", seconds=10))
    cases = await stored(Fleet((live,), tuple(operations), (), held))
    with_bindings = await cases.runtimes(
        RuntimeFilter(), page=1, page_size=10, detail=RuntimeDetail(bindings=True)
    )
    without = await cases.runtimes(RuntimeFilter(), page=1, page_size=10)
    assert [b.binding_id for b in with_bindings.records[0].bindings] == ["b-2", "b-1"]
    assert without.records[0].bindings == ()


@pytest.mark.parametrize(("page", "page_size"), [(0, 10), (-1, 10), (1, 0), (1, 101), (1, -5)])
async def test_a_page_outside_the_bounds_is_an_invalid_request(page: int, page_size: int) -> None:
    """``page`` is at least 1 and ``page_size`` between 1 and 100 (APP_MAX_PAGINATION_PAGE)."""
    cases = use_cases(MemoryStorage())
    with pytest.raises(InvalidRequestError):
        await cases.runtimes(RuntimeFilter(), page=page, page_size=page_size)


@pytest.mark.parametrize("page_size", [1, 100])
async def test_the_bounds_of_page_size_are_allowed(page_size: int) -> None:
    """1 and 100 themselves are valid page sizes."""
    cases = use_cases(MemoryStorage())
    result = await cases.runtimes(RuntimeFilter(), page=1, page_size=page_size)
    assert (result.records, result.total) == ((), 0)
