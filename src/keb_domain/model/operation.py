"""Operations: the asynchronous work behind provision, update and deprovision.

An operation is a row that workers advance stage by stage. Finished stages are recorded and never run
again, so an operation interrupted by a restart resumes where it stopped. A suspension is a temporary
deprovision; an unsuspension is a provision that starts ``pending`` (KEB's model, ``internal/model.go``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs


class OperationType(enum.Enum):
    PROVISION = "provision"
    DEPROVISION = "deprovision"
    UPDATE = "update"


class OperationState(enum.Enum):
    PENDING = "pending"
    IN_PROGRESS = "in progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (OperationState.SUCCEEDED, OperationState.FAILED)

    @property
    def osb_state(self) -> str:
        """The OSB ``last_operation`` state: ``pending`` is reported as ``in progress``."""
        return "in progress" if self is OperationState.PENDING else self.value


class IllegalTransitionError(ValueError):
    """A state change the operation state machine does not allow (a programming error)."""


CREATED_DESCRIPTION = "Operation created"
FINISHED_DESCRIPTION = "Processing finished"


@attrs.frozen
class Operation:
    """One asynchronous operation on an instance."""

    id: str
    instance_id: str
    type: OperationType
    state: OperationState
    created_at: datetime
    updated_at: datetime
    description: str = CREATED_DESCRIPTION
    temporary: bool = False  # a suspension (deprovision) or unsuspension (provision)
    plan_id: str = ""
    runtime_id: str = ""
    finished_stages: tuple[str, ...] = ()
    # Provision: a digest of the request, for idempotent re-PUTs (no secrets kept in clear).
    request_digest: str = ""
    # Update: the parameters the update applies.
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    user_agent: str = ""
    stage_started_at: datetime | None = None  # when the current stage was first attempted
    attempts: int = 0  # consecutive temporary failures of the current stage, for backoff
    next_run_at: datetime | None = None  # the engine does not pick it up before this
    version: int = 0

    @classmethod
    def create(
        cls,
        *,
        operation_id: str,
        instance_id: str,
        type: OperationType,
        now: datetime,
        plan_id: str,
        pending: bool,
        temporary: bool = False,
        request_digest: str = "",
        parameters: Mapping[str, Any] | None = None,
        user_agent: str = "",
    ) -> Operation:
        """A new operation; a fresh provision starts ``in progress``, everything else ``pending``."""
        return cls(
            id=operation_id,
            instance_id=instance_id,
            type=type,
            state=OperationState.PENDING if pending else OperationState.IN_PROGRESS,
            created_at=now,
            updated_at=now,
            plan_id=plan_id,
            temporary=temporary,
            request_digest=request_digest,
            parameters=dict(parameters or {}),
            user_agent=user_agent,
            next_run_at=now,
        )

    @property
    def is_suspension(self) -> bool:
        return self.type is OperationType.DEPROVISION and self.temporary

    def _require_open(self, event: str) -> None:
        if self.state.is_final:
            raise IllegalTransitionError(f"cannot {event} operation {self.id}: it is {self.state.value}")

    def start(self, now: datetime) -> Operation:
        """pending -> in progress, once no other operation of the instance runs."""
        if self.state is not OperationState.PENDING:
            raise IllegalTransitionError(f"cannot start operation {self.id}: it is {self.state.value}")
        return attrs.evolve(self, state=OperationState.IN_PROGRESS, updated_at=now)

    def finish_stage(self, stage: str, now: datetime, **changes: Any) -> Operation:
        """Record a finished stage; it will never run again. ``changes`` carry data the stage produced."""
        self._require_open("finish a stage of")
        if self.state is OperationState.PENDING:
            raise IllegalTransitionError(f"operation {self.id} must start before it finishes stages")
        if stage in self.finished_stages:
            raise IllegalTransitionError(f"stage {stage} of operation {self.id} already finished")
        return attrs.evolve(
            self,
            finished_stages=(*self.finished_stages, stage),
            stage_started_at=None,
            attempts=0,
            updated_at=now,
            **changes,
        )

    def begin_stage(self, now: datetime) -> Operation:
        """Remember when the current stage was first attempted (stage timeouts count from here)."""
        if self.stage_started_at is not None:
            return self
        return attrs.evolve(self, stage_started_at=now)

    def wait(
        self, now: datetime, until: datetime, *, description: str | None = None, failed_attempt: bool = False
    ) -> Operation:
        """Park the operation until ``until``; a failed attempt raises the backoff counter."""
        self._require_open("reschedule")
        return attrs.evolve(
            self,
            next_run_at=until,
            updated_at=now,
            description=description if description is not None else self.description,
            attempts=self.attempts + 1 if failed_attempt else 0,
        )

    def succeed(self, now: datetime, description: str = FINISHED_DESCRIPTION) -> Operation:
        self._require_open("succeed")
        if self.state is OperationState.PENDING:
            raise IllegalTransitionError(f"operation {self.id} cannot succeed before it starts")
        return attrs.evolve(
            self, state=OperationState.SUCCEEDED, description=description, updated_at=now, next_run_at=None
        )

    def fail(self, now: datetime, description: str) -> Operation:
        self._require_open("fail")
        return attrs.evolve(
            self, state=OperationState.FAILED, description=description, updated_at=now, next_run_at=None
        )

    def is_older_than(self, now: datetime, seconds: float) -> bool:
        return (now - self.created_at).total_seconds() > seconds


# --- which operation answers -------------------------------------------------------------------------
# Each takes an instance's operations oldest first (by creation, then id), as storage lists them.


def started(operations: Sequence[Operation]) -> list[Operation]:
    """The operations that have started: KEB ignores pending ones when it tells what a runtime does."""
    return [op for op in operations if op.state is not OperationState.PENDING]


def first_provisioning(operations: Sequence[Operation]) -> Operation | None:
    """The operation that created the instance (unsuspensions are provisions too, but later)."""
    return next((op for op in operations if op.type is OperationType.PROVISION and not op.temporary), None)


def latest_deprovisioning(operations: Sequence[Operation]) -> Operation | None:
    """The newest deprovisioning that is not a suspension: the one that ends the instance."""
    candidates = [op for op in operations if op.type is OperationType.DEPROVISION and not op.temporary]
    return candidates[-1] if candidates else None


def ongoing_deprovisioning(operations: Sequence[Operation]) -> Operation | None:
    """The deprovisioning a repeated DELETE answers with: the latest, unless it failed (then retried)."""
    latest = latest_deprovisioning(operations)
    return latest if latest is not None and latest.state is not OperationState.FAILED else None


def last_started(operations: Sequence[Operation], of_type: OperationType | None = None) -> Operation | None:
    """The newest operation (of a type, when given) that has started."""
    candidates = [op for op in started(operations) if of_type is None or op.type is of_type]
    return candidates[-1] if candidates else None


def polled_operation(operations: Sequence[Operation], operation_id: str | None) -> Operation | None:
    """The operation ``last_operation`` reports: the one asked for if it is this instance's, else the newest
    started one, else the newest (decisions.md §3: a foreign ``operation`` value must not break polling)."""
    if operation_id:
        asked = next((op for op in operations if op.id == operation_id), None)
        if asked is not None:
            return asked
    return last_started(operations) or (operations[-1] if operations else None)
