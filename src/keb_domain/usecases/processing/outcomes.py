"""What a stage is given and what it answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import attrs

from keb_domain.model.instance import Instance
from keb_domain.model.operation import Operation
from keb_domain.model.plans import Plan
from keb_domain.model.resources import resource_name
from keb_domain.ports import UnitOfWork

Effect = Callable[[UnitOfWork, Operation, Instance], Awaitable[None]]


@attrs.frozen
class Proceed:
    """The stage is done: ``changes`` go to the operation, ``effect`` runs in the same transaction."""

    changes: dict[str, Any] = attrs.field(factory=dict)
    effect: Effect | None = None
    removes_instance: bool = False  # the effect deleted the instance and its operations


@attrs.frozen
class Wait:
    """Come back later."""

    seconds: float
    description: str | None = None
    failed_attempt: bool = False
    error: str | None = None


@attrs.frozen
class Fail:
    description: str


Outcome = Proceed | Wait | Fail


@attrs.frozen
class StageContext:
    operation: Operation
    instance: Instance
    plan: Plan
    now: datetime

    @property
    def runtime_name(self) -> str:
        return resource_name(self.runtime_id)

    @property
    def runtime_id(self) -> str:
        return self.operation.runtime_id or self.instance.runtime_id

    def stage_elapsed(self) -> float:
        started = self.operation.stage_started_at or self.now
        return (self.now - started).total_seconds()


Stage = tuple[str, Callable[[StageContext], Awaitable[Outcome]]]
