"""The ``state`` filter of ``GET /runtimes``, judged on the operation an instance last started (§5.1)."""

from __future__ import annotations

import itertools

import pytest

from keb_domain.model.inventory import RuntimeFilter, RuntimeState, matches_state, shown_by_default
from keb_domain.model.operation import OperationState
from tests.unit.inventory.fleet import FAILED, IN_PROGRESS, KINDS, PENDING, SUCCEEDED, instance, op

# keb-reference §5.1, one row per state: the (kind, state) pairs of the last operation that match it.
MATCHES: dict[RuntimeState, set[tuple[str, OperationState]]] = {
    RuntimeState.PROVISIONING: {("provision", IN_PROGRESS), ("unsuspension", IN_PROGRESS)},
    RuntimeState.DEPROVISIONING: {("deprovision", IN_PROGRESS), ("suspension", IN_PROGRESS)},
    RuntimeState.UPDATING: {("update", IN_PROGRESS)},
    RuntimeState.UPGRADING: set(),  # no upgrade operations exist here
    RuntimeState.SUCCEEDED: {("provision", SUCCEEDED), ("unsuspension", SUCCEEDED), ("update", SUCCEEDED)},
    RuntimeState.FAILED: {
        ("provision", FAILED),
        ("unsuspension", FAILED),
        ("deprovision", FAILED),
        ("suspension", FAILED),
    },
    RuntimeState.ERROR: {("update", FAILED)},
    RuntimeState.DEPROVISIONED: set(),  # the archive answers it, not a live instance
    RuntimeState.DEPROVISION_INCOMPLETE: set(),
}
OPERATION_STATES = (PENDING, IN_PROGRESS, SUCCEEDED, FAILED)
ACTIVE = instance()
SUSPENDED = instance(context={"active": False})


@pytest.mark.parametrize(
    ("state", "operation_kind", "operation_state"),
    list(itertools.product(MATCHES, KINDS, OPERATION_STATES)),
)
def test_a_state_filter_matches_exactly_its_operations(
    state: RuntimeState, operation_kind: str, operation_state: OperationState
) -> None:
    """Each state matches the kinds and states of the last operation listed for it in §5.1, and no other."""
    last = op(operation_kind, operation_state)
    expected = (operation_kind, operation_state) in MATCHES[state]
    assert matches_state(state, ACTIVE, last) is expected


@pytest.mark.parametrize("state", list(MATCHES))
def test_no_state_but_all_and_suspended_matches_an_instance_without_operations(state: RuntimeState) -> None:
    """An instance that never started an operation has no state to match."""
    assert matches_state(state, ACTIVE, None) is False


@pytest.mark.parametrize(
    ("operation_kind", "operation_state"), list(itertools.product(KINDS, OPERATION_STATES))
)
def test_all_matches_every_instance(operation_kind: str, operation_state: OperationState) -> None:
    """``all`` removes the state filter, whatever the last operation."""
    assert matches_state(RuntimeState.ALL, ACTIVE, op(operation_kind, operation_state)) is True


def test_all_matches_an_instance_without_operations() -> None:
    """``all`` removes the state filter even without a last operation."""
    assert matches_state(RuntimeState.ALL, ACTIVE, None) is True


@pytest.mark.parametrize(
    ("operation_kind", "operation_state"), list(itertools.product(KINDS, OPERATION_STATES))
)
def test_suspended_matches_an_inactive_context_whatever_the_operation(
    operation_kind: str, operation_state: OperationState
) -> None:
    """``suspended`` is ``context.active == false``; the operations do not matter."""
    last = op(operation_kind, operation_state)
    assert matches_state(RuntimeState.SUSPENDED, SUSPENDED, last) is True
    assert matches_state(RuntimeState.SUSPENDED, ACTIVE, last) is False


@pytest.mark.parametrize(
    ("context", "expected"),
    [({}, False), ({"active": True}, False), ({"active": False}, True), ({"active": "false"}, False)],
)
def test_suspended_needs_active_to_be_false_itself(context: dict[str, object], expected: bool) -> None:
    """Only a boolean ``active: false`` suspends; a missing or textual value does not."""
    assert matches_state(RuntimeState.SUSPENDED, instance(context=context), None) is expected


@pytest.mark.parametrize(
    ("operation_kind", "operation_state"), list(itertools.product(KINDS, OPERATION_STATES))
)
def test_by_default_only_a_finished_deprovisioning_hides_an_instance(
    operation_kind: str, operation_state: OperationState
) -> None:
    """Without ``state``, a succeeded deprovisioning or suspension hides the instance; nothing else does."""
    hidden = operation_kind in ("deprovision", "suspension") and operation_state is SUCCEEDED
    assert shown_by_default(op(operation_kind, operation_state)) is not hidden


def test_by_default_an_instance_without_operations_is_shown() -> None:
    """Nothing finished a deprovisioning, so nothing hides it."""
    assert shown_by_default(None) is True


@pytest.mark.parametrize(
    ("states", "expired", "live", "archive"),
    [
        ((), False, True, False),
        ((RuntimeState.SUCCEEDED,), False, True, False),
        ((RuntimeState.DEPROVISIONED,), False, False, True),
        ((RuntimeState.DEPROVISIONED, RuntimeState.FAILED), False, True, True),
        ((RuntimeState.DEPROVISIONED,), True, False, False),
        ((RuntimeState.ALL,), False, True, False),
    ],
)
def test_a_filter_knows_where_its_runtimes_live(
    states: tuple[RuntimeState, ...], expired: bool, live: bool, archive: bool
) -> None:
    """Only ``deprovisioned`` reads the archive, which holds nothing expired; it alone skips live rows."""
    query = RuntimeFilter(states=states, expired=expired)
    assert (query.wants_live, query.wants_archive) == (live, archive)
