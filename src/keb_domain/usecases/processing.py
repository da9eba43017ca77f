"""The operation processor: advances one operation through its stages.

Each stage is idempotent (GET before create, 404 tolerated on delete), so re-running an interrupted stage
is safe. A stage's outcome is written in one version-checked transaction together with the stage's name,
and cluster calls happen outside any transaction. If another writer changed the operation meanwhile
(a deprovisioning cancelled it, another replica got there first), the outcome is discarded and the
operation is read again.

Workflows (KEB's ``cmd/broker/{provisioning,update,deprovisioning}.go``):

* provision: runtime id, the hyperscaler account (a CredentialsBinding from its pool), Runtime CR, wait
  for ``Ready``, Kyma CR;
* update: rewrite the Runtime CR, wait for ``Ready``, relabel the Kyma CR;
* deprovision: delete the Kyma CR, delete the Runtime CR, wait until it is gone, release the hyperscaler
  account if no Shoot uses it any more, then archive and remove the instance (a suspension only forgets
  the runtime id).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from keb_domain.errors import (
    ClusterAlreadyExistsError,
    ClusterConflictError,
    ClusterError,
    ClusterUnavailableError,
    StorageConflictError,
)
from keb_domain.model.hap import NoMatchingRuleError
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.model.plans import PLANS_BY_ID, Plan
from keb_domain.model.resources import (
    apply_update,
    build_kyma,
    build_runtime,
    is_external_account,
    resource_name,
)
from keb_domain.model.runtime_config import RuntimeConfigurationError, kyma_template
from keb_domain.model.volumes import VolumeSizeError, VolumeSizeTable
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
from keb_domain.usecases.accounts import AccountPoolExhaustedError, HyperscalerAccounts
from keb_domain.usecases.config import BrokerConfig

SLOW_PROVISIONING = (
    "Operation created. Cluster provisioning takes longer than usual. It takes up to 60 minutes."
)
TIME_LIMIT = "operation has reached the time limit"
CANCELLED = "Cancelled: the instance is being deprovisioned"

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


def _runtime_state(runtime: dict[str, Any]) -> tuple[str, str]:
    """``status.state`` and the message of its newest condition, if any."""
    status = runtime.get("status") or {}
    conditions = status.get("conditions") or []
    message = str(conditions[-1].get("message", "")) if conditions else ""
    return str(status.get("state", "")), message


def _observed(runtime: dict[str, Any]) -> bool:
    """Whether KIM has seen the current spec, so that its ``Ready`` is about the update.

    ``status.observedGeneration``, else the newest condition's ``observedGeneration`` (metav1.Condition);
    where KIM reports neither, its state is taken as current, as KEB does.
    """
    status = runtime.get("status") or {}
    observed = status.get("observedGeneration")
    if observed is None:
        conditions = [c for c in status.get("conditions") or [] if c.get("observedGeneration") is not None]
        observed = conditions[-1]["observedGeneration"] if conditions else None
    generation = (runtime.get("metadata") or {}).get("generation")
    return observed is None or generation is None or int(observed) >= int(generation)


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
        self._kcp = control_plane
        self._clock = clock
        self._ids = ids
        self._config = config
        self._observer: OperationObserver = observer or NoObserver()
        self._started_at = clock.now()
        self._seen: set[str] = set()  # operations this process has worked on, to tell resumed ones
        self._accounts = accounts
        self._runtime_configuration = runtime_configuration
        self._volume_sizes = volume_sizes

    # --- the loop ---------------------------------------------------------------------------------

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
            stage = self._next_stage(operation)
            if stage is None:
                if await self._succeed(operation_id):
                    return None
                continue
            name, run = stage
            operation = operation.begin_stage(now)
            context = StageContext(operation, instance, plan, now)
            try:
                outcome = await run(context)
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

    async def _write(self, uow: UnitOfWork, operation: Operation, level: str) -> None:
        try:
            await self._write_strict(uow, operation, level)
        except StorageConflictError:
            return

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

    def _next_stage(self, operation: Operation) -> Stage | None:
        for stage in self._workflow(operation):
            if stage[0] not in operation.finished_stages:
                return stage
        return None

    async def _succeed(self, operation_id: str) -> bool:
        now = self._clock.now()
        async with self._uow() as uow:
            operation = await uow.operations.get(operation_id)
            if operation is None or operation.state.is_final:
                return True
            try:
                await self._write_strict(uow, operation.succeed(now), "info")
            except StorageConflictError:
                return False
        return True

    async def _write_strict(self, uow: UnitOfWork, operation: Operation, level: str) -> None:
        await uow.operations.update(operation)
        await uow.events.add(
            OperationEvent(
                operation.instance_id, operation.id, level, operation.description, operation.updated_at
            )
        )
        await uow.commit()
        if operation.state.is_final:
            self._seen.discard(operation.id)
            self._observer.finished(operation)

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
                await self._write_strict(uow, read.fail(now, outcome.description), "error")
                return None
            except StorageConflictError:
                return _CONFLICT

    # --- workflows --------------------------------------------------------------------------------

    def _workflow(self, operation: Operation) -> Sequence[Stage]:
        if operation.type is OperationType.PROVISION:
            return (
                ("create_runtime_id", self._create_runtime_id),
                ("resolve_credentials_binding", self._resolve_credentials_binding),
                ("create_runtime_resource", self._create_runtime_resource),
                ("check_runtime_resource", self._check_runtime_created),
                ("apply_kyma_resource", self._apply_kyma_resource),
            )
        if operation.type is OperationType.UPDATE:
            return (
                ("update_runtime_resource", self._update_runtime_resource),
                ("check_runtime_resource", self._check_runtime_updated),
                ("update_kyma_resource", self._update_kyma_resource),
            )
        final: Stage = (
            ("forget_runtime", self._forget_runtime)
            if operation.temporary
            else ("archive_and_remove_instance", self._archive_and_remove)
        )
        return (
            ("delete_kyma_resource", self._delete_kyma_resource),
            ("delete_runtime_resource", self._delete_runtime_resource),
            ("check_runtime_resource_deleted", self._check_runtime_deleted),
            ("free_credentials_binding", self._free_credentials_binding),
            final,
        )

    # provision

    async def _create_runtime_id(self, ctx: StageContext) -> Outcome:
        runtime_id = self._ids.new_id()

        async def remember(uow: UnitOfWork, operation: Operation, instance: Instance) -> None:
            await uow.instances.update(instance.with_runtime(runtime_id, operation.updated_at))

        return Proceed({"runtime_id": runtime_id}, remember)

    async def _resolve_credentials_binding(self, ctx: StageContext) -> Outcome:
        try:
            name = await self._accounts.resolve(ctx.instance)
        except (NoMatchingRuleError, AccountPoolExhaustedError) as error:
            return Fail(error.description)

        async def remember(uow: UnitOfWork, operation: Operation, instance: Instance) -> None:
            await uow.instances.update(instance.with_credentials_binding(name, operation.updated_at))

        return Proceed(effect=remember)

    async def _dynamic_volume_sizes(self) -> VolumeSizeTable | None:
        """KEB's KCR volume sizes, read now (an edited ConfigMap applies without a restart); None when the
        switch is off. A missing ConfigMap is retried, as KEB retries it."""
        if not self._config.runtime.dynamic_volume_size:
            return None
        table = await self._volume_sizes.volume_sizes()
        if table is None:
            raise ClusterUnavailableError("the KCR ConfigMap with the machine volume sizes does not exist")
        return table

    async def _create_runtime_resource(self, ctx: StageContext) -> Outcome:
        if await self._kcp.get_runtime(ctx.runtime_name) is None:
            try:
                body = build_runtime(
                    ctx.instance,
                    ctx.plan,
                    ctx.runtime_id,
                    self._config.policy,
                    self._config.runtime,
                    volume_sizes=await self._dynamic_volume_sizes(),
                )
            except VolumeSizeError as error:
                return Fail(error.description)
            with contextlib.suppress(
                ClusterAlreadyExistsError
            ):  # a retry of a create that reached the server
                await self._kcp.create_runtime(body)
        return Proceed()

    async def _check_runtime_created(self, ctx: StageContext) -> Outcome:
        runtime = await self._kcp.get_runtime(ctx.runtime_name)
        if runtime is None:
            return Fail(f"Runtime resource {ctx.runtime_name} disappeared before it became Ready")
        state, message = _runtime_state(runtime)
        if state == "Ready":
            return Proceed()
        timeouts = self._config.timeouts
        if ctx.stage_elapsed() >= timeouts.runtime_create:
            await self._kcp.delete_runtime(ctx.runtime_name)
            if state == "Failed":
                return Fail(
                    f"Runtime resource in Failed state: {message}"
                    if message
                    else "Runtime resource in Failed state"
                )
            return Fail(f"Runtime resource did not become Ready within {_duration(timeouts.runtime_create)}")
        notice = SLOW_PROVISIONING if ctx.stage_elapsed() >= timeouts.slow_provisioning_notice else None
        return Wait(self._config.pacing.poll_interval, description=notice)

    async def _apply_kyma_resource(self, ctx: StageContext) -> Outcome:
        # KEB's Init_Kyma_Template: the plan's template from the runtime configuration, read now, so an
        # edited ConfigMap applies to the next operation without a restart.
        try:
            template = kyma_template(await self._runtime_configuration.data(), ctx.plan.name)
        except RuntimeConfigurationError as error:
            return Fail(error.description)
        runtime = attrs.evolve(self._config.runtime, kyma_template=template)
        desired = build_kyma(ctx.instance, ctx.runtime_id, runtime)
        existing = await self._kcp.get_kyma(resource_name(ctx.runtime_id))
        try:
            if existing is None:
                await self._kcp.create_kyma(desired)
            else:
                merged = dict(existing)
                merged["metadata"] = {**existing.get("metadata", {}), "labels": desired["metadata"]["labels"]}
                await self._kcp.replace_kyma(merged)
        except (ClusterAlreadyExistsError, ClusterConflictError):
            return Wait(min(1.0, self._config.pacing.poll_interval))  # someone wrote it meanwhile; re-read
        return Proceed()

    # update

    async def _update_runtime_resource(self, ctx: StageContext) -> Outcome:
        if not ctx.instance.runtime_id:
            return Proceed()  # a suspended trial has no runtime; the next unsuspension builds it new
        current = await self._kcp.get_runtime(resource_name(ctx.instance.runtime_id))
        if current is None:
            return Fail(f"Runtime resource {resource_name(ctx.instance.runtime_id)} does not exist")
        try:
            desired = apply_update(
                current,
                ctx.instance,
                ctx.plan,
                self._config.policy,
                self._config.runtime,
                volume_sizes=await self._dynamic_volume_sizes(),
            )
        except VolumeSizeError as error:
            return Fail(error.description)
        try:
            await self._kcp.replace_runtime(desired)
        except ClusterConflictError:
            return Wait(min(1.0, self._config.pacing.poll_interval))  # KIM wrote status; re-read and retry
        return Proceed()

    async def _check_runtime_updated(self, ctx: StageContext) -> Outcome:
        if not ctx.instance.runtime_id:
            return Proceed()
        runtime = await self._kcp.get_runtime(resource_name(ctx.instance.runtime_id))
        if runtime is None:
            return Fail(f"Runtime resource {resource_name(ctx.instance.runtime_id)} does not exist")
        state, message = _runtime_state(runtime)
        if _observed(runtime):
            if state == "Ready":
                return Proceed()
            if state == "Failed":  # unlike provisioning, an update fails at once (KEB)
                return Fail(
                    f"Runtime resource in Failed state: {message}"
                    if message
                    else "Runtime resource in Failed state"
                )
        if ctx.stage_elapsed() >= self._config.timeouts.runtime_update:
            return Fail(
                "Runtime resource did not become Ready within "
                f"{_duration(self._config.timeouts.runtime_update)}"
            )
        return Wait(self._config.pacing.poll_interval)

    async def _update_kyma_resource(self, ctx: StageContext) -> Outcome:
        if not ctx.instance.runtime_id:
            return Proceed()
        existing = await self._kcp.get_kyma(resource_name(ctx.instance.runtime_id))
        if existing is None:
            return Proceed()
        desired = build_kyma(ctx.instance, ctx.instance.runtime_id, self._config.runtime)
        labels = desired["metadata"]["labels"]
        if (existing.get("metadata") or {}).get("labels") == labels:
            return Proceed()
        merged = dict(existing)
        merged["metadata"] = {**existing.get("metadata", {}), "labels": labels}
        try:
            await self._kcp.replace_kyma(merged)
        except ClusterConflictError:
            return Wait(min(1.0, self._config.pacing.poll_interval))
        return Proceed()

    # deprovision

    async def _delete_kyma_resource(self, ctx: StageContext) -> Outcome:
        if ctx.runtime_id:
            await self._kcp.delete_kyma(ctx.runtime_name)
        return Proceed()

    async def _delete_runtime_resource(self, ctx: StageContext) -> Outcome:
        if ctx.runtime_id:
            await self._kcp.delete_runtime(ctx.runtime_name)
        return Proceed()

    async def _check_runtime_deleted(self, ctx: StageContext) -> Outcome:
        if not ctx.runtime_id:
            return Proceed()
        runtime = await self._kcp.get_runtime(ctx.runtime_name)
        if runtime is None:
            return Proceed()
        if not (runtime.get("metadata") or {}).get("deletionTimestamp"):
            # Created again by a provisioning step that raced the cancellation: delete once more.
            await self._kcp.delete_kyma(ctx.runtime_name)
            await self._kcp.delete_runtime(ctx.runtime_name)
        if ctx.stage_elapsed() >= self._config.timeouts.runtime_deletion:
            return Fail(
                f"Runtime resource {ctx.runtime_name} was not deleted within "
                f"{_duration(self._config.timeouts.runtime_deletion)}"
            )
        return Wait(self._config.pacing.poll_interval)

    async def _free_credentials_binding(self, ctx: StageContext) -> Outcome:
        if ctx.instance.credentials_binding:
            await self._accounts.release(ctx.instance.credentials_binding, ctx.instance.shoot_name)
        return Proceed()

    async def _forget_runtime(self, ctx: StageContext) -> Outcome:
        async def forget(uow: UnitOfWork, operation: Operation, instance: Instance) -> None:
            await uow.instances.update(instance.with_runtime("", operation.updated_at))

        return Proceed(effect=forget)

    async def _archive_and_remove(self, ctx: StageContext) -> Outcome:
        async def archive(uow: UnitOfWork, operation: Operation, instance: Instance) -> None:
            operations = await uow.operations.list_for_instance(instance.instance_id)
            await uow.archive.add(archive_record(instance, operations, operation.updated_at))
            await uow.operations.delete_for_instance(instance.instance_id)
            await uow.instances.delete(instance.instance_id)

        return Proceed(effect=archive, removes_instance=True)


_CONFLICT = object()


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def archive_record(instance: Instance, operations: Sequence[Operation], now: datetime) -> ArchivedInstance:
    """The ``instances_archived`` row of an instance whose deprovisioning finishes now."""
    provisioning = next(
        (op for op in operations if op.type is OperationType.PROVISION and not op.temporary), None
    )
    deprovisionings = [op for op in operations if op.type is OperationType.DEPROVISION and not op.temporary]
    first_deprovisioning = deprovisionings[0] if deprovisionings else None
    return ArchivedInstance(
        instance_id=instance.instance_id,
        global_account_id=instance.global_account_id,
        subaccount_id=instance.subaccount_id,
        plan_id=instance.plan_id,
        plan_name=instance.plan_name,
        platform_region=instance.platform_region,
        cluster_region=instance.cluster_region,
        provider=instance.provider.keb_name,
        shoot_name=instance.shoot_name,
        last_runtime_id=instance.runtime_id,
        internal_user=not is_external_account(instance),
        created_at=instance.created_at,
        archived_at=now,
        provisioning_started_at=provisioning.created_at if provisioning else None,
        provisioning_finished_at=provisioning.updated_at
        if provisioning and provisioning.state.is_final
        else None,
        provisioning_state=provisioning.state.value if provisioning else "",
        first_deprovisioning_started_at=first_deprovisioning.created_at if first_deprovisioning else None,
        first_deprovisioning_finished_at=(
            first_deprovisioning.updated_at
            if first_deprovisioning and first_deprovisioning.state.is_final
            else now
            if first_deprovisioning
            else None
        ),
        last_deprovisioning_finished_at=now,
    )
