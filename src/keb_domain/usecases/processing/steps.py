"""What each stage of an operation does.

Each step is idempotent (the control plane creates only what is missing and tolerates deleting what is
gone), so re-running an interrupted step is safe. Steps call the control plane and the account pool outside
any transaction; what they change in storage is an ``Effect`` the processor runs in the transaction that
records the step as done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from keb_domain.errors import (
    ClusterAlreadyExistsError,
    ClusterConflictError,
    ClusterNotFoundError,
    ClusterUnavailableError,
)
from keb_domain.model.hap import NoMatchingRuleError
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.operation import Operation, OperationType
from keb_domain.model.resources import (
    DesiredRuntime,
    desired_kyma,
    desired_runtime,
    is_external_account,
    resource_name,
)
from keb_domain.model.runtime_config import RuntimeConfigurationError, kyma_template
from keb_domain.model.volumes import VolumeSizeError, VolumeSizeTable
from keb_domain.ports import (
    ControlPlane,
    IdGenerator,
    MachineVolumeSizes,
    RuntimeConfigurationSource,
    UnitOfWork,
)
from keb_domain.usecases.accounts import AccountPoolExhaustedError, HyperscalerAccounts
from keb_domain.usecases.config import BrokerConfig
from keb_domain.usecases.processing.outcomes import Fail, Outcome, Proceed, StageContext, Wait

SLOW_PROVISIONING = (
    "Operation created. Cluster provisioning takes longer than usual. It takes up to 60 minutes."
)


class Steps:
    """The stages of the workflows, over the control plane, the account pool, the runtime configuration and
    the machine volume sizes (read when ``APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED`` is on)."""

    def __init__(
        self,
        control_plane: ControlPlane,
        ids: IdGenerator,
        config: BrokerConfig,
        *,
        accounts: HyperscalerAccounts,
        runtime_configuration: RuntimeConfigurationSource,
        volume_sizes: MachineVolumeSizes,
    ) -> None:
        self._kcp = control_plane
        self._ids = ids
        self._config = config
        self._accounts = accounts
        self._runtime_configuration = runtime_configuration
        self._volume_sizes = volume_sizes

    def _again_soon(self) -> Wait:
        """Someone else wrote the resource meanwhile (KIM, a replica): read it again shortly."""
        return Wait(min(1.0, self._config.pacing.poll_interval))

    # --- provision --------------------------------------------------------------------------------

    async def create_runtime_id(self, ctx: StageContext) -> Outcome:
        runtime_id = self._ids.new_id()

        async def remember(uow: UnitOfWork, operation: Operation, instance: Instance) -> None:
            await uow.instances.update(instance.with_runtime(runtime_id, operation.updated_at))

        return Proceed({"runtime_id": runtime_id}, remember)

    async def resolve_credentials_binding(self, ctx: StageContext) -> Outcome:
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

    async def _desired_runtime(self, ctx: StageContext, runtime_id: str) -> DesiredRuntime | Fail:
        """The instance's Runtime, or the failure of a machine type the dynamic volume sizes do not know."""
        config = self._config
        try:
            volume_sizes = await self._dynamic_volume_sizes()
            return desired_runtime(
                ctx.instance, ctx.plan, runtime_id, config.policy, config.runtime, volume_sizes=volume_sizes
            )
        except VolumeSizeError as error:
            return Fail(error.description)

    async def create_runtime_resource(self, ctx: StageContext) -> Outcome:
        desired = await self._desired_runtime(ctx, ctx.runtime_id)
        if isinstance(desired, Fail):
            return desired
        await self._kcp.add_runtime(desired)
        return Proceed()

    async def check_runtime_created(self, ctx: StageContext) -> Outcome:
        status = await self._kcp.runtime_status(ctx.runtime_name)
        if status is None:
            return Fail(f"Runtime resource {ctx.runtime_name} disappeared before it became Ready")
        if status.ready:
            return Proceed()
        timeouts = self._config.timeouts
        if ctx.stage_elapsed() >= timeouts.runtime_create:
            await self._kcp.delete_runtime(ctx.runtime_name)
            if status.failed:
                return Fail(status.failure())
            return Fail(f"Runtime resource did not become Ready within {_duration(timeouts.runtime_create)}")
        notice = SLOW_PROVISIONING if ctx.stage_elapsed() >= timeouts.slow_provisioning_notice else None
        return Wait(self._config.pacing.poll_interval, description=notice)

    async def apply_kyma_resource(self, ctx: StageContext) -> Outcome:
        # KEB's Init_Kyma_Template: the plan's template from the runtime configuration, read now, so an
        # edited ConfigMap applies to the next operation without a restart.
        try:
            template = kyma_template(await self._runtime_configuration.data(), ctx.plan.name)
        except RuntimeConfigurationError as error:
            return Fail(error.description)
        runtime = attrs.evolve(self._config.runtime, kyma_template=template)
        try:
            await self._kcp.apply_kyma(desired_kyma(ctx.instance, ctx.runtime_id, runtime))
        except (ClusterAlreadyExistsError, ClusterConflictError):
            return self._again_soon()
        return Proceed()

    # --- update -----------------------------------------------------------------------------------

    async def update_runtime_resource(self, ctx: StageContext) -> Outcome:
        if not ctx.instance.runtime_id:
            return Proceed()  # a suspended trial has no runtime; the next unsuspension builds it new
        desired = await self._desired_runtime(ctx, ctx.instance.runtime_id)
        if isinstance(desired, Fail):
            return desired
        try:
            await self._kcp.update_runtime(desired)
        except ClusterNotFoundError:
            return Fail(f"Runtime resource {desired.name} does not exist")
        except ClusterConflictError:
            return self._again_soon()  # KIM wrote status; read again and retry
        return Proceed()

    async def check_runtime_updated(self, ctx: StageContext) -> Outcome:
        if not ctx.instance.runtime_id:
            return Proceed()
        name = resource_name(ctx.instance.runtime_id)
        status = await self._kcp.runtime_status(name)
        if status is None:
            return Fail(f"Runtime resource {name} does not exist")
        if status.observed:
            if status.ready:
                return Proceed()
            if status.failed:  # unlike provisioning, an update fails at once (KEB)
                return Fail(status.failure())
        if ctx.stage_elapsed() >= self._config.timeouts.runtime_update:
            return Fail(
                "Runtime resource did not become Ready within "
                f"{_duration(self._config.timeouts.runtime_update)}"
            )
        return Wait(self._config.pacing.poll_interval)

    async def update_kyma_resource(self, ctx: StageContext) -> Outcome:
        if not ctx.instance.runtime_id:
            return Proceed()
        try:
            await self._kcp.relabel_kyma(
                desired_kyma(ctx.instance, ctx.instance.runtime_id, self._config.runtime)
            )
        except ClusterConflictError:
            return self._again_soon()
        return Proceed()

    # --- deprovision ------------------------------------------------------------------------------

    async def delete_kyma_resource(self, ctx: StageContext) -> Outcome:
        if ctx.runtime_id:
            await self._kcp.delete_kyma(ctx.runtime_name)
        return Proceed()

    async def delete_runtime_resource(self, ctx: StageContext) -> Outcome:
        if ctx.runtime_id:
            await self._kcp.delete_runtime(ctx.runtime_name)
        return Proceed()

    async def check_runtime_deleted(self, ctx: StageContext) -> Outcome:
        if not ctx.runtime_id:
            return Proceed()
        status = await self._kcp.runtime_status(ctx.runtime_name)
        if status is None:
            return Proceed()
        if not status.being_deleted:
            # Created again by a provisioning step that raced the cancellation: delete once more.
            await self._kcp.delete_kyma(ctx.runtime_name)
            await self._kcp.delete_runtime(ctx.runtime_name)
        if ctx.stage_elapsed() >= self._config.timeouts.runtime_deletion:
            return Fail(
                f"Runtime resource {ctx.runtime_name} was not deleted within "
                f"{_duration(self._config.timeouts.runtime_deletion)}"
            )
        return Wait(self._config.pacing.poll_interval)

    async def free_credentials_binding(self, ctx: StageContext) -> Outcome:
        if ctx.instance.credentials_binding:
            await self._accounts.release(ctx.instance.credentials_binding, ctx.instance.shoot_name)
        return Proceed()

    async def forget_runtime(self, ctx: StageContext) -> Outcome:
        async def forget(uow: UnitOfWork, operation: Operation, instance: Instance) -> None:
            await uow.instances.update(instance.with_runtime("", operation.updated_at))

        return Proceed(effect=forget)

    async def archive_and_remove(self, ctx: StageContext) -> Outcome:
        async def archive(uow: UnitOfWork, operation: Operation, instance: Instance) -> None:
            operations = await uow.operations.list_for_instance(instance.instance_id)
            await uow.archive.add(archive_record(instance, operations, operation.updated_at))
            await uow.operations.delete_for_instance(instance.instance_id)
            await uow.instances.delete(instance.instance_id)

        return Proceed(effect=archive, removes_instance=True)


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
