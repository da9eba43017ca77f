"""``status.state`` of a runtime from its operations, as KEB's ``adjustRuntimeState`` tells it (§5.1)."""

from __future__ import annotations

import pytest

from keb_domain.model.inventory import RuntimeState, derive_state, kind
from keb_domain.model.operation import OperationState
from tests.unit.inventory.fleet import FAILED, IN_PROGRESS, PENDING, SUCCEEDED, op

PROVISIONED = op("provision", SUCCEEDED, 0)


@pytest.mark.parametrize(
    ("last_kind", "state", "expected"),
    [
        ("provision", IN_PROGRESS, RuntimeState.PROVISIONING),
        ("provision", SUCCEEDED, RuntimeState.SUCCEEDED),
        ("provision", FAILED, RuntimeState.FAILED),
        ("update", IN_PROGRESS, RuntimeState.UPDATING),
        ("update", SUCCEEDED, RuntimeState.SUCCEEDED),
        ("update", FAILED, RuntimeState.ERROR),
        ("deprovision", IN_PROGRESS, RuntimeState.DEPROVISIONING),
        ("deprovision", SUCCEEDED, RuntimeState.DEPROVISIONED),
        ("deprovision", FAILED, RuntimeState.FAILED),
        ("suspension", IN_PROGRESS, RuntimeState.DEPROVISIONING),
        ("suspension", SUCCEEDED, RuntimeState.SUSPENDED),
        ("suspension", FAILED, RuntimeState.FAILED),
        ("unsuspension", IN_PROGRESS, RuntimeState.PROVISIONING),
        ("unsuspension", SUCCEEDED, RuntimeState.SUCCEEDED),
        ("unsuspension", FAILED, RuntimeState.FAILED),
    ],
)
def test_the_state_follows_the_last_operation(
    last_kind: str, state: OperationState, expected: RuntimeState
) -> None:
    """After a provisioning, the last started operation's kind and state give the runtime's state."""
    history = [PROVISIONED] if last_kind != "provision" else []
    if last_kind == "unsuspension":
        history.append(op("suspension", SUCCEEDED, 60))
    history.append(op(last_kind, state, 120))
    assert derive_state(history) is expected


def test_a_runtime_without_operations_is_succeeded() -> None:
    """No operation at all: KEB's default branch, ``succeeded``."""
    assert derive_state([]) is RuntimeState.SUCCEEDED


def test_only_pending_operations_count_as_none() -> None:
    """Operations that never started are ignored; with nothing started the runtime is ``succeeded``."""
    assert derive_state([op("update", PENDING, 60)]) is RuntimeState.SUCCEEDED


def test_a_pending_update_after_a_provisioning_is_ignored() -> None:
    """A queued update does not make a provisioned runtime ``updating`` before it starts."""
    assert derive_state([PROVISIONED, op("update", PENDING, 60)]) is RuntimeState.SUCCEEDED


def test_a_pending_deprovisioning_is_ignored() -> None:
    """A queued deprovisioning behind a running update leaves the runtime ``updating``."""
    history = [PROVISIONED, op("update", IN_PROGRESS, 60), op("deprovision", PENDING, 120)]
    assert derive_state(history) is RuntimeState.UPDATING


def test_a_pending_unsuspension_leaves_the_runtime_suspended() -> None:
    """An unsuspension counts only once it starts: until then the suspension rules."""
    history = [PROVISIONED, op("suspension", SUCCEEDED, 60), op("unsuspension", PENDING, 120)]
    assert derive_state(history) is RuntimeState.SUSPENDED


def test_operations_are_ordered_by_creation_not_by_list_position() -> None:
    """The newest operation decides whatever order the operations come in."""
    history = [
        PROVISIONED,
        op("update", SUCCEEDED, 60),
        op("update", FAILED, 120),
        op("update", IN_PROGRESS, 180),
    ]
    shuffled = [history[index] for index in (3, 0, 2, 1)]
    assert derive_state(shuffled) is RuntimeState.UPDATING


def test_operations_created_at_the_same_time_are_ordered_by_id() -> None:
    """Equal creation times fall back to the operation id, so the state is deterministic."""
    first = op("update", FAILED, 60, operation_id="op-a")
    second = op("update", IN_PROGRESS, 60, operation_id="op-b")
    assert derive_state([PROVISIONED, second, first]) is RuntimeState.UPDATING


def test_an_update_after_a_suspension_keeps_the_runtime_suspended() -> None:
    """A suspension newer than every unsuspension wins over a later update's success (KEB's override)."""
    history = [PROVISIONED, op("suspension", SUCCEEDED, 60), op("update", SUCCEEDED, 120)]
    assert derive_state(history) is RuntimeState.SUSPENDED


def test_a_failed_update_after_a_suspension_keeps_the_runtime_suspended() -> None:
    """The suspension override applies to a failed update too: ``suspended``, not ``error``."""
    history = [PROVISIONED, op("suspension", SUCCEEDED, 60), op("update", FAILED, 120)]
    assert derive_state(history) is RuntimeState.SUSPENDED


def test_a_deprovisioning_of_a_suspended_trial_still_shows_suspended() -> None:
    """KEB's override looks only at the latest suspension: a running deprovisioning after it shows
    ``suspended``."""
    history = [PROVISIONED, op("suspension", SUCCEEDED, 60), op("deprovision", IN_PROGRESS, 120)]
    assert derive_state(history) is RuntimeState.SUSPENDED


def test_a_running_suspension_under_a_later_update_is_deprovisioning() -> None:
    """The latest suspension still running makes the runtime ``deprovisioning`` whatever came after."""
    history = [PROVISIONED, op("suspension", IN_PROGRESS, 60), op("update", SUCCEEDED, 120)]
    assert derive_state(history) is RuntimeState.DEPROVISIONING


def test_a_failed_suspension_under_a_later_update_is_failed() -> None:
    """The latest suspension failed makes the runtime ``failed`` whatever came after."""
    history = [PROVISIONED, op("suspension", FAILED, 60), op("update", SUCCEEDED, 120)]
    assert derive_state(history) is RuntimeState.FAILED


def test_an_unsuspension_newer_than_the_suspension_lifts_it() -> None:
    """Suspended, then unsuspended: the unsuspension's success makes the runtime ``succeeded``."""
    history = [PROVISIONED, op("suspension", SUCCEEDED, 60), op("unsuspension", SUCCEEDED, 120)]
    assert derive_state(history) is RuntimeState.SUCCEEDED


def test_an_update_after_an_unsuspension_follows_the_update() -> None:
    """Once unsuspended, later operations decide again: a failed update is ``error``."""
    history = [
        PROVISIONED,
        op("suspension", SUCCEEDED, 60),
        op("unsuspension", SUCCEEDED, 120),
        op("update", FAILED, 180),
    ]
    assert derive_state(history) is RuntimeState.ERROR


def test_a_second_suspension_after_an_unsuspension_suspends_again() -> None:
    """Suspension, unsuspension, suspension: the newest suspension is newer than the unsuspension."""
    history = [
        PROVISIONED,
        op("suspension", SUCCEEDED, 60),
        op("unsuspension", SUCCEEDED, 120),
        op("suspension", SUCCEEDED, 180),
        op("update", SUCCEEDED, 240),
    ]
    assert derive_state(history) is RuntimeState.SUSPENDED


def test_the_newest_of_several_cycles_decides() -> None:
    """Two full suspend/unsuspend cycles end unsuspended: ``succeeded``."""
    history = [
        PROVISIONED,
        op("suspension", SUCCEEDED, 60),
        op("unsuspension", SUCCEEDED, 120),
        op("suspension", SUCCEEDED, 180),
        op("unsuspension", SUCCEEDED, 240),
    ]
    assert derive_state(history) is RuntimeState.SUCCEEDED


def test_a_pending_suspension_does_not_suspend() -> None:
    """A suspension that has not started is not the latest suspension."""
    history = [PROVISIONED, op("suspension", PENDING, 60)]
    assert derive_state(history) is RuntimeState.SUCCEEDED


@pytest.mark.parametrize(
    ("operation_kind", "expected"),
    [
        ("provision", "provision"),
        ("unsuspension", "unsuspension"),
        ("update", "update"),
        ("suspension", "suspension"),
        ("deprovision", "deprovision"),
    ],
)
def test_kind_names_suspensions_and_unsuspensions_apart(operation_kind: str, expected: str) -> None:
    """A temporary deprovisioning is a suspension, a temporary provisioning an unsuspension."""
    assert kind(op(operation_kind, SUCCEEDED)) == expected
