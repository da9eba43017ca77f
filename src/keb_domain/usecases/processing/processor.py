"""The loop of one operation: start it, run its next stage, write the outcome, until it waits or ends.

A stage's outcome is written in one version-checked transaction together with the stage's name, and
cluster calls happen outside any transaction. If another writer changed the operation meanwhile (a
deprovisioning cancelled it, another replica got there first), the outcome is discarded and the operation
is read again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from keb_domain.errors import ClusterError, ClusterUnavailableError, StorageConflictError
from keb_domain.model.instance import Instance
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.model.plans import PLANS_BY_ID
from keb_domain.ports import (
    Clock,
    ControlPlane,
    IdGenerator,
    MachineVolumeSizes,
    NoObserver,
    OperationEvent,
    OperationObserver,
    RuntimeConfigurationSource,
    UnitOfWork,
    UnitOfWorkFactory,
)
from keb_domain.usecases.accounts import HyperscalerAccounts
from keb_domain.usecases.config import BrokerConfig
from keb_domain.usecases.processing.outcomes import Fail, Outcome, Proceed, StageContext, Wait
from keb_domain.usecases.processing.steps import Steps
from keb_domain.usecases.processing.workflows import next_stage

TIME_LIMIT = "operation has reached the time limit"
CANCELLED = "Cancelled: the instance is being deprovisioned"

_CONFLICT = object()  # the outcome was not written: someone changed the operation meanwhile


class OperationProcessor:
    """Runs the stages of operations; used by the engine's workers."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        control_plane: ControlPlane,
        clock: Clock,
        ids: IdGenerator,
        config: BrokerConfig,
        *,
        observer: OperationObserver | None = None,
        accounts: HyperscalerAccounts,
        runtime_configuration: RuntimeConfigurationSource,
        volume_sizes: MachineVolumeSizes,
    ) -> None:
        """``volume_sizes`` is read when ``APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED`` is on."""
        self._uow = uow
        self._clock = clock
        self._config = config
        self._observer: OperationObserver = observer or NoObserver()
        self._started_at = clock.now()
        self._seen: set[str] = set()  # operations this process has worked on, to tell resumed ones
        self._steps = Steps(
            control_plane,
            ids,
            config,
            accounts=accounts,
            runtime_configuration=runtime_configuration,
            volume_sizes=volume_sizes,
        )

    async def process(self, operation_id: str) -> datetime | None:
        """Advance the operation until it must wait or ends.

        Returns when it wants to run again, or None when it is finished (or gone).
        """
        for _ in range(1000):  # bounded: every iteration finishes a stage or returns
            now = self._clock.now()
            async with self._uow() as uow:
                operation = await uow.operations.get(operation_id)
                if operation is None or operation.state.is_final:
                    self._seen.discard(operation_id)
                    return None
                self._note_resumed(operation)
                instance = await uow.instances.get(operation.instance_id)
                if instance is None:
                    await self._write(uow, operation.fail(now, "The instance no longer exists"), "error")
                    return None
                if operation.is_older_than(now, self._config.timeouts.operation):
                    await self._write(uow, operation.fail(now, TIME_LIMIT), "error")
                    return None
                if operation.state is OperationState.PENDING:
                    wait = await self._start(uow, operation, instance, now)
                    if wait is not None:
                        return wait
                    continue
            plan = PLANS_BY_ID[operation.plan_id or instance.plan_id]
            stage = next_stage(operation, self._steps)
            if stage is None:
                if await self._succeed(operation_id):
                    return None
                continue
            name, run = stage
            operation = operation.begin_stage(now)
            try:
                outcome = await run(StageContext(operation, instance, plan, now))
            except ClusterUnavailableError as error:
                outcome = Wait(
                    self._config.pacing.backoff(operation.attempts),
                    failed_attempt=True,
                    error=f"{name}: {error.description}",
                )
            except ClusterError as error:
                outcome = Fail(f"{name}: {error.description}")
            applied = await self._apply(operation, name, outcome)
            if applied is _CONFLICT:
                continue
            if isinstance(outcome, Proceed):
                if outcome.removes_instance:
                    return None
                continue
            return applied if isinstance(applied, datetime) else None
        raise RuntimeError(f"operation {operation_id} did not settle")  # pragma: no cover - a bug guard

    def _note_resumed(self, operation: Operation) -> None:
        """An operation in progress since before this process started was resumed (a restart, a takeover)."""
        if operation.id in self._seen:
            return
        self._seen.add(operation.id)
        if operation.state is OperationState.IN_PROGRESS and operation.updated_at < self._started_at:
            self._observer.resumed(operation)

    async def _start(
        self, uow: UnitOfWork, operation: Operation, instance: Instance, now: datetime
    ) -> datetime | None:
        """pending -> in progress once nothing else runs on the instance; None when started.

        A deprovisioning does not wait: it cancels what runs, as OSB asks a DELETE during provisioning
        to halt the creation.
        """
        others = [
            op
            for op in await uow.operations.list_for_instance(operation.instance_id)
            if op.id != operation.id and not op.state.is_final
        ]
        cancels_others = operation.type is OperationType.DEPROVISION and not operation.temporary
        if cancels_others:
            blocking = [op for op in others if op.type is OperationType.DEPROVISION and not op.temporary]
        else:
            blocking = [
                op
                for op in others
                if op.state is OperationState.IN_PROGRESS
                or (op.created_at, op.id) < (operation.created_at, operation.id)
            ]
        if blocking:
            until = now + timedelta(seconds=self._config.pacing.poll_interval)
            try:
                await uow.operations.update(operation.wait(now, until))
                await uow.commit()
            except StorageConflictError:
                return now
            return until
        cancelled = [other.fail(now, CANCELLED) for other in others] if cancels_others else []
        try:
            for other in cancelled:
                await uow.operations.update(other)
                await uow.events.add(OperationEvent(instance.instance_id, other.id, "info", CANCELLED, now))
            started = operation.start(now)
            if operation.type is OperationType.PROVISION:  # an unsuspension gets a new runtime
                started = attrs.evolve(started, runtime_id="")
            else:
                started = attrs.evolve(started, runtime_id=instance.runtime_id)
            await uow.operations.update(started)
            await uow.instances.update(instance.with_last_operation(operation.id, now))
            await uow.events.add(
                OperationEvent(instance.instance_id, operation.id, "info", "Operation started", now)
            )
            await uow.commit()
        except StorageConflictError:
            return now
        for other in cancelled:
            self._observer.finished(other)
        return None

    async def _succeed(self, operation_id: str) -> bool:
        """Every stage is done: the operation succeeded. False when someone changed it meanwhile."""
        now = self._clock.now()
        async with self._uow() as uow:
            operation = await uow.operations.get(operation_id)
            if operation is None or operation.state.is_final:
                return True
            return await self._write(uow, operation.succeed(now), "info")

    async def _write(self, uow: UnitOfWork, operation: Operation, level: str) -> bool:
        """Store the operation with an event of its description and commit; tell the observer when it
        ended. False, and nothing written, when someone changed the operation meanwhile."""
        try:
            await uow.operations.update(operation)
            await uow.events.add(
                OperationEvent(
                    operation.instance_id, operation.id, level, operation.description, operation.updated_at
                )
            )
            await uow.commit()
        except StorageConflictError:
            return False
        if operation.state.is_final:
            self._seen.discard(operation.id)
            self._observer.finished(operation)
        return True

    async def _apply(self, read: Operation, stage: str, outcome: Outcome) -> datetime | object | None:
        """Write the outcome if nobody changed the operation since it was read."""
        now = self._clock.now()
        async with self._uow() as uow:
            current = await uow.operations.get(read.id)
            if current is None or current.version != read.version or current.state.is_final:
                return _CONFLICT
            instance = await uow.instances.get(current.instance_id)
            if instance is None:
                return _CONFLICT
            try:
                if isinstance(outcome, Proceed):
                    advanced = read.finish_stage(stage, now, **outcome.changes)
                    if outcome.effect is not None:
                        await outcome.effect(uow, advanced, instance)
                    await uow.events.add(
                        OperationEvent(read.instance_id, read.id, "info", f"{stage}: done", now)
                    )
                    if not outcome.removes_instance:
                        await uow.operations.update(advanced)
                    await uow.commit()
                    started = read.stage_started_at or now
                    self._observer.stage_finished(advanced, stage, (now - started).total_seconds())
                    if outcome.removes_instance:  # the last stage of a deprovisioning: it succeeded
                        self._seen.discard(read.id)
                        self._observer.finished(advanced.succeed(now))
                    return None
                if isinstance(outcome, Wait):
                    until = now + timedelta(seconds=outcome.seconds)
                    waiting = read.wait(
                        now, until, description=outcome.description, failed_attempt=outcome.failed_attempt
                    )
                    await uow.operations.update(waiting)
                    if outcome.error and (read.attempts == 0 or read.attempts % 10 == 0):
                        await uow.events.add(
                            OperationEvent(read.instance_id, read.id, "error", outcome.error, now)
                        )
                    await uow.commit()
                    if outcome.failed_attempt:
                        self._observer.stage_retried(read, stage, outcome.error or "", waiting.attempts)
                    return until
            except StorageConflictError:
                return _CONFLICT
            if not await self._write(uow, read.fail(now, outcome.description), "error"):
                return _CONFLICT
            return None
