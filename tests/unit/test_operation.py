"""The operation state machine: random event sequences never break its rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keb_domain.model.operation import (
    IllegalTransitionError,
    Operation,
    OperationState,
    OperationType,
)

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
OSB_STATES = {"in progress", "succeeded", "failed"}
STAGES = ("create_runtime_id", "create_runtime_resource", "check_runtime_resource", "apply_kyma_resource")

Event = tuple[str, str | bool]
events = st.one_of(
    st.tuples(st.just("start"), st.just("")),
    st.tuples(st.just("finish_stage"), st.sampled_from(STAGES)),
    st.tuples(st.just("wait"), st.booleans()),
    st.tuples(st.just("succeed"), st.just("")),
    st.tuples(st.just("fail"), st.just("")),
    st.tuples(st.just("begin_stage"), st.just("")),
)


def new_operation(pending: bool, type: OperationType = OperationType.PROVISION) -> Operation:
    return Operation.create(
        operation_id="op-1", instance_id="inst-1", type=type, now=T0, plan_id="plan", pending=pending
    )


def apply(operation: Operation, event: Event, now: datetime) -> Operation:
    """One event; raises IllegalTransitionError where the state machine forbids it."""
    name, argument = event
    actions: dict[str, Callable[[], Operation]] = {
        "start": lambda: operation.start(now),
        "finish_stage": lambda: operation.finish_stage(str(argument), now),
        "wait": lambda: operation.wait(now, now + timedelta(seconds=5), failed_attempt=bool(argument)),
        "succeed": lambda: operation.succeed(now),
        "fail": lambda: operation.fail(now, "broken"),
        "begin_stage": lambda: operation.begin_stage(now),
    }
    return actions[name]()


@given(st.booleans(), st.sampled_from(OperationType), st.lists(events, max_size=30))
def test_random_event_sequences_keep_the_operation_rules(
    pending: bool, type: OperationType, sequence: list[Event]
) -> None:
    """Final states never change, stages only grow and never repeat, the OSB state is always valid."""
    operation = new_operation(pending, type)
    now = T0
    for event in sequence:
        now += timedelta(seconds=1)
        before = operation
        try:
            operation = apply(operation, event, now)
        except IllegalTransitionError:
            operation = before
            refused = True
        else:
            refused = False
        name = event[0]
        if before.state.is_final:
            assert operation.state is before.state
            assert refused or name == "begin_stage"
        if before.state is OperationState.PENDING and name in ("finish_stage", "succeed"):
            assert refused
        if name == "start":
            assert refused == (before.state is not OperationState.PENDING)
        if name == "finish_stage" and event[1] in before.finished_stages:
            assert refused
        assert operation.finished_stages[: len(before.finished_stages)] == before.finished_stages
        assert len(set(operation.finished_stages)) == len(operation.finished_stages)
        assert operation.state.osb_state in OSB_STATES
        assert operation.id == before.id
        assert operation.instance_id == before.instance_id


@given(st.lists(events, max_size=30))
def test_every_open_event_is_accepted_on_a_started_operation(sequence: list[Event]) -> None:
    """Until it ends, an in-progress operation accepts waits, new stages, success and failure."""
    operation = new_operation(pending=False)
    now = T0
    finished: list[str] = []
    for event in sequence:
        now += timedelta(seconds=1)
        if operation.state.is_final:
            break
        if event[0] == "start" or (event[0] == "finish_stage" and event[1] in operation.finished_stages):
            continue
        operation = apply(operation, event, now)
        if event[0] == "finish_stage":
            finished.append(str(event[1]))
    assert list(operation.finished_stages) == finished


def test_a_fresh_provision_starts_in_progress_and_everything_else_pending() -> None:
    """KEB's model: new provisioning operations are ``in progress``; others wait in ``pending``."""
    assert new_operation(pending=False).state is OperationState.IN_PROGRESS
    assert new_operation(pending=True, type=OperationType.UPDATE).state is OperationState.PENDING
    assert new_operation(pending=False).description == "Operation created"


def test_pending_is_reported_to_platforms_as_in_progress() -> None:
    """OSB knows no ``pending``: it is reported as ``in progress``."""
    assert OperationState.PENDING.osb_state == "in progress"


@pytest.mark.parametrize("event", [("finish_stage", "create_runtime_id"), ("succeed", "")])
def test_a_pending_operation_cannot_progress_before_it_starts(event: Event) -> None:
    """Stages and success need a started operation."""
    with pytest.raises(IllegalTransitionError):
        apply(new_operation(pending=True), event, T0)


def test_a_pending_operation_can_fail() -> None:
    """A pending operation can be failed (a deprovisioning cancels what waits)."""
    failed = new_operation(pending=True).fail(T0, "Cancelled")
    assert (failed.state, failed.description) == (OperationState.FAILED, "Cancelled")


def test_failed_attempts_count_up_and_a_finished_stage_resets_them() -> None:
    """The backoff counter grows with consecutive failed attempts and restarts after a stage."""
    operation = new_operation(pending=False)
    for _ in range(3):
        operation = operation.wait(T0, T0 + timedelta(seconds=1), failed_attempt=True)
    assert operation.attempts == 3
    assert operation.finish_stage("create_runtime_id", T0).attempts == 0
    assert operation.wait(T0, T0, failed_attempt=False).attempts == 0


def test_begin_stage_keeps_the_first_attempt_time() -> None:
    """Stage timeouts count from the first attempt, not from the latest retry."""
    first = new_operation(pending=False).begin_stage(T0)
    again = first.begin_stage(T0 + timedelta(minutes=5))
    assert again.stage_started_at == T0
    assert first.finish_stage("create_runtime_id", T0).stage_started_at is None


def test_the_age_of_an_operation_counts_from_its_creation() -> None:
    """is_older_than compares with the creation time, so retries do not extend the time limit."""
    operation = new_operation(pending=False).wait(T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    assert operation.is_older_than(T0 + timedelta(hours=24, seconds=1), 24 * 3600)
    assert not operation.is_older_than(T0 + timedelta(hours=24), 24 * 3600)
