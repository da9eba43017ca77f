"""Use cases of the OSB instance endpoints: provision, fetch, update, deprovision, last_operation, expire.

Each opens a unit of work, loads what it needs, asks the domain model, saves and commits. They know no
HTTP: results say what happened (created, already there, synchronous) and errors are ``KebError``s.
Every check that can refuse a request runs before the first write, so a refused request changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from keb_domain.errors import (
    AsyncRequiredError,
    InstanceGoneError,
    InstanceNotFoundError,
    InvalidRequestError,
    OperationNotFoundError,
    StorageConflictError,
)
from keb_domain.model.catalog import require_plan, require_service
from keb_domain.model.instance import (
    Instance,
    InstanceSummary,
    UpdateKind,
    public_context,
    redacted_context,
)
from keb_domain.model.operation import Operation, OperationState, OperationType, ongoing_deprovisioning
from keb_domain.model.parameters import check_colocation
from keb_domain.model.plans import PLANS_BY_ID, Plan
from keb_domain.model.provisioning import ValidProvisioning, validate_provisioning, validate_update
from keb_domain.ports import (
    Clock,
    IdGenerator,
    NoObserver,
    OperationEvent,
    OperationObserver,
    SeedRegions,
    StorageReads,
    UnitOfWork,
    UnitOfWorkFactory,
)
from keb_domain.usecases.config import BrokerConfig

DEPROVISIONED_DESCRIPTION = "Operation succeeded. The instance was deprovisioned."


# --- commands and results ------------------------------------------------------------------------------


@attrs.frozen
class ProvisionCommand:
    instance_id: str
    service_id: str
    plan_id: str
    platform_region: str
    # The ERS context may carry sm_operator_credentials: never shown by repr (logs, tracebacks).
    context: Mapping[str, Any] = attrs.field(factory=dict, repr=redacted_context)
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    user_agent: str = ""
    organization_guid: str | None = None
    space_guid: str | None = None


@attrs.frozen
class ProvisionResult:
    operation_id: str
    summary: InstanceSummary
    already_existed: bool = False  # an identical repeat of an earlier request
    completed: bool = False  # that earlier provisioning has succeeded (OSB: 200 instead of 202)
    dashboard_url: str = ""


@attrs.frozen
class InstanceView:
    service_id: str
    plan_id: str
    dashboard_url: str
    parameters: Mapping[str, Any]
    summary: InstanceSummary


@attrs.frozen
class UpdateCommand:
    instance_id: str
    service_id: str
    plan_id: str | None = None
    context: Mapping[str, Any] | None = attrs.field(default=None, repr=redacted_context)
    parameters: Mapping[str, Any] | None = None
    accepts_incomplete: bool = False


@attrs.frozen
class UpdateResult:
    operation_id: str | None = None  # None: done synchronously (OSB 200)
    dashboard_url: str = ""
    summary: InstanceSummary | None = None  # None: nothing to show (an ignored update)


@attrs.frozen
class DeprovisionCommand:
    instance_id: str
    service_id: str
    plan_id: str
    user_agent: str = ""


@attrs.frozen
class OperationStatus:
    state: str  # OSB state: "in progress", "succeeded", "failed"
    description: str


# --- helpers -------------------------------------------------------------------------------------------


def request_digest(cmd: ProvisionCommand) -> str:
    """A digest of everything that makes two provisioning requests "the same" (KEB's ``IsEqual``).

    Stored instead of the raw request so that credentials in the context never reach the database.
    """
    canonical = json.dumps(
        {
            "service_id": cmd.service_id,
            "plan_id": cmd.plan_id,
            "platform_region": cmd.platform_region,
            "context": cmd.context,
            "parameters": cmd.parameters,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class InstanceUseCases:
    """The instance endpoints of the broker."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        config: BrokerConfig,
        *,
        notify: Callable[[], None] = lambda: None,
        observer: OperationObserver | None = None,
        reads: StorageReads,
        seed_regions: SeedRegions,
    ) -> None:
        """``notify`` is called after an operation was created, so that workers pick it up at once;
        ``observer`` hears of each accepted operation (logs, metrics); ``reads`` answers the polled endpoints
        (fetch, last_operation) without a unit of work; ``seed_regions`` checks ``colocateControlPlane``."""
        self._seed_regions = seed_regions
        self._uow = uow
        self._reads = reads
        self._clock = clock
        self._ids = ids
        self._config = config
        self._notify = notify
        self._observer: OperationObserver = observer or NoObserver()

    @property
    def config(self) -> BrokerConfig:
        """The settings the answers were decided with (the HTTP adapter words its labels with them)."""
        return self._config

    def _accepted(self, operation: Operation, why: str) -> None:
        """After the commit: tell the observer, wake the workers."""
        self._observer.accepted(operation, why)
        self._notify()

    def _summary(self, instance: Instance, now: datetime) -> InstanceSummary:
        config = self._config
        return instance.summary(
            now, trial_days=config.trial_expiration_days, free_days=config.free_expiration_days
        )

    def _dashboard_url(self, instance_id: str) -> str:
        return f"{self._config.dashboard_landscape_url.rstrip('/')}/?kubeconfigID={instance_id}"

    async def _add_operation(
        self,
        uow: UnitOfWork,
        *,
        instance_id: str,
        plan_id: str,
        kind: OperationType,
        now: datetime,
        why: str,
        pending: bool = True,
        **details: Any,
    ) -> Operation:
        """A new operation and the event that says why it exists; the caller commits, then notifies."""
        operation = Operation.create(
            operation_id=self._ids.new_id(),
            instance_id=instance_id,
            type=kind,
            now=now,
            plan_id=plan_id,
            pending=pending,
            **details,
        )
        await uow.operations.add(operation)
        await uow.events.add(
            OperationEvent(
                instance_id=instance_id, operation_id=operation.id, level="info", message=why, created_at=now
            )
        )
        return operation

    # --- provision --------------------------------------------------------------------------------

    async def _check_colocation(self, cmd: ProvisionCommand, valid: ValidProvisioning) -> None:
        """KEB's ``validateColocate``: a control plane can be colocated only where Gardener has a seed."""
        if valid.parameters.get("colocateControlPlane") is not True:
            return
        seeds = await self._seed_regions.seed_regions(valid.provider)
        plan_regions = self._config.policy.allowed_regions(valid.plan, cmd.platform_region)
        check_colocation(valid.provider, valid.cluster_region, plan_regions, seeds)

    async def provision(self, cmd: ProvisionCommand) -> ProvisionResult:
        """Accept a provisioning request; the operation engine does the work.

        An identical repeat answers with the original operation; one that differs is a conflict.
        """
        valid = validate_provisioning(
            self._config.policy,
            plan_id=cmd.plan_id,
            platform_region=cmd.platform_region,
            parameters=cmd.parameters,
            context=cmd.context,
            catalog=self._config.catalog,
            service_id=cmd.service_id,
            organization_guid=cmd.organization_guid,
            space_guid=cmd.space_guid,
            gvisor_allowed_global_accounts=self._config.gvisor_allowed_global_accounts,
        )
        await self._check_colocation(cmd, valid)
        digest = request_digest(cmd)
        try:
            return await self._provision(cmd, valid=valid, digest=digest)
        except StorageConflictError:
            # A concurrent identical PUT created the instance first; answer as a repeat would.
            return await self._provision(cmd, valid=valid, digest=digest)

    async def _provision(
        self,
        cmd: ProvisionCommand,
        *,
        valid: ValidProvisioning,
        digest: str,
    ) -> ProvisionResult:
        plan = valid.plan
        now = self._clock.now()
        async with self._uow() as uow:
            existing = await uow.instances.get(cmd.instance_id)
            if existing is not None:
                return await self._repeat(uow, existing, digest, now)
            ga = str(cmd.context["globalaccount_id"])
            if (
                plan.is_trial
                and self._config.only_single_trial_per_global_account
                and await uow.instances.exists_for_global_account(ga)
            ):
                raise InvalidRequestError(
                    "trial Kyma was created for the global account, but there is only one allowed"
                )
            operation = await self._add_operation(
                uow,
                instance_id=cmd.instance_id,
                plan_id=plan.id,
                kind=OperationType.PROVISION,
                now=now,
                why="Provisioning requested",
                pending=False,
                request_digest=digest,
                user_agent=cmd.user_agent,
            )
            instance = Instance(
                instance_id=cmd.instance_id,
                service_id=cmd.service_id,
                plan_id=plan.id,
                plan_name=plan.name,
                global_account_id=ga,
                subaccount_id=str(cmd.context["subaccount_id"]),
                user_id=str(cmd.context["user_id"]).lower(),
                platform_region=cmd.platform_region,
                provider=valid.provider,
                cluster_region=valid.cluster_region,
                shoot_name=self._ids.shoot_name(),
                created_at=now,
                updated_at=now,
                parameters=dict(valid.parameters),
                context=public_context(cmd.context),
                eu_access=valid.eu_access,
                dashboard_url=self._dashboard_url(cmd.instance_id),
                last_operation_id=operation.id,
            )
            await uow.instances.add(instance)
            await uow.commit()
            self._accepted(operation, "Provisioning requested")
        # dashboard_url is deliberately blank on a fresh provision (KEB): the runtime does not exist yet.
        return ProvisionResult(operation_id=operation.id, summary=self._summary(instance, now))

    async def _repeat(
        self, uow: UnitOfWork, instance: Instance, digest: str, now: datetime
    ) -> ProvisionResult:
        operations = await uow.operations.list_for_instance(instance.instance_id)
        original = instance.provisioning_repeated(operations, digest)
        completed = original.state is OperationState.SUCCEEDED
        return ProvisionResult(
            operation_id=original.id,
            summary=self._summary(instance, now),
            already_existed=True,
            completed=completed,
            dashboard_url=instance.dashboard_url if completed else "",
        )

    # --- fetch ------------------------------------------------------------------------------------

    async def get(self, instance_id: str) -> InstanceView:
        """GET instance: 404 while provisioning runs or after it failed (keb-reference §1.5)."""
        now = self._clock.now()
        found = await self._reads.instance_with_provisioning(instance_id)
        if found is None:
            raise InstanceNotFoundError(f"instance {instance_id} does not exist")
        instance, provisioning = found.instance, found.provisioning
        if provisioning is not OperationState.SUCCEEDED:
            state = "failed" if provisioning is OperationState.FAILED else "in progress"
            raise InstanceNotFoundError(f"provisioning of instance {instance_id} {state}")
        return InstanceView(
            service_id=instance.service_id,
            plan_id=instance.plan_id,
            dashboard_url=instance.dashboard_url,
            parameters=dict(instance.parameters),
            summary=self._summary(instance, now),
        )

    # --- update -----------------------------------------------------------------------------------

    def _target_plan(self, instance: Instance, plan_id: str | None) -> Plan:
        current = PLANS_BY_ID[instance.plan_id]
        if not plan_id or plan_id == instance.plan_id:
            return current
        target = PLANS_BY_ID.get(plan_id)
        config = self._config.policy.plans.get(current.name)
        allowed = (
            self._config.catalog.plan_upgrades_enabled
            and target is not None
            and config is not None
            and target.name in config.upgradable_to
        )
        if not allowed or target is None:
            raise InvalidRequestError(
                f"plan upgrade from {current.name} to {target.name if target else plan_id} is not allowed"
            )
        return target

    async def update(self, cmd: UpdateCommand) -> UpdateResult:
        """PATCH instance (keb-reference §1.6, with decisions.md §3)."""
        require_service(cmd.service_id)
        if cmd.plan_id is not None:  # optional in an update, but OSB: non-empty when present
            require_plan(cmd.plan_id)
        now = self._clock.now()
        async with self._uow() as uow:
            instance = await uow.instances.get(cmd.instance_id)
            if instance is None:
                raise InstanceNotFoundError(f"instance {cmd.instance_id} does not exist")
            operations = await uow.operations.list_for_instance(cmd.instance_id)
            plan = self._target_plan(instance, cmd.plan_id)
            parameters = dict(cmd.parameters or {})
            if parameters:
                parameters = dict(
                    validate_update(
                        self._config.policy,
                        plan=plan,
                        platform_region=instance.platform_region,
                        provider=instance.provider,
                        cluster_region=instance.cluster_region,
                        parameters=parameters,
                        previous=instance.parameters,
                        context=instance.context,
                        catalog=self._config.catalog,
                        gvisor_allowed_global_accounts=self._config.gvisor_allowed_global_accounts,
                    ).parameters
                )
            decision = instance.update_requested(
                plan_id=plan.id,
                plan_name=plan.name,
                parameters=parameters,
                context=cmd.context,
                operations=operations,
                now=now,
            )
            updated = decision.instance
            if decision.kind is UpdateKind.IGNORED:
                return UpdateResult()
            if decision.kind is UpdateKind.CHANGE and not cmd.accepts_incomplete:
                raise AsyncRequiredError()
            if updated != instance:
                await uow.instances.update(updated)
            summary = self._summary(updated, now)
            started = decision.kind.operation
            if started is None or (
                decision.kind is UpdateKind.CHANGE and not self._config.update_processing_enabled
            ):
                await uow.commit()
                running = decision.running
                if running is None:
                    return UpdateResult(summary=summary)
                return UpdateResult(
                    operation_id=running.id, dashboard_url=instance.dashboard_url, summary=summary
                )
            kind, temporary, why = started
            operation = await self._add_operation(
                uow,
                instance_id=instance.instance_id,
                plan_id=updated.plan_id,
                kind=kind,
                now=now,
                why=why,
                temporary=temporary,
                parameters=parameters if kind is OperationType.UPDATE else None,
            )
            await uow.commit()
            self._accepted(operation, why)
        if temporary:  # suspension and unsuspension: as KEB, 200 while they run in the background
            return UpdateResult(summary=summary)
        return UpdateResult(operation_id=operation.id, dashboard_url=instance.dashboard_url, summary=summary)

    # --- deprovision ------------------------------------------------------------------------------

    async def deprovision(self, cmd: DeprovisionCommand) -> str:
        """DELETE instance; returns the operation id. 410 (InstanceGoneError) for an unknown instance."""
        require_service(cmd.service_id)
        require_plan(cmd.plan_id)
        now = self._clock.now()
        async with self._uow() as uow:
            instance = await uow.instances.get(cmd.instance_id)
            if instance is None:
                raise InstanceGoneError(f"instance {cmd.instance_id} does not exist")
            ongoing = ongoing_deprovisioning(await uow.operations.list_for_instance(cmd.instance_id))
            if ongoing is not None:  # a repeated DELETE answers with it; a failed one is tried again
                return ongoing.id
            operation = await self._add_operation(
                uow,
                instance_id=cmd.instance_id,
                plan_id=instance.plan_id,
                kind=OperationType.DEPROVISION,
                now=now,
                why="Deprovisioning requested",
                user_agent=cmd.user_agent,
            )
            await uow.commit()
            self._accepted(operation, "Deprovisioning requested")
        return operation.id

    # --- last operation ---------------------------------------------------------------------------

    async def last_operation(self, instance_id: str, operation_id: str | None) -> OperationStatus:
        """The state of an operation, or of the instance's latest one.

        An ``operation`` that is not this instance's is ignored (platforms send fixed strings); after a
        finished deprovisioning the archive answers ``succeeded``; an instance that never existed is 404.
        """
        polled = await self._reads.polled_operation(instance_id, operation_id)
        if polled is not None and polled.state is not None:
            return OperationStatus(state=polled.state.osb_state, description=polled.description)
        if polled is not None and polled.archived:
            return OperationStatus(state="succeeded", description=DEPROVISIONED_DESCRIPTION)
        raise OperationNotFoundError("Operation not found")

    # --- expiration -------------------------------------------------------------------------------

    async def expire(self, instance_id: str) -> str:
        """``PUT /expire/service_instance/{id}``: a trial or free instance expires and is suspended."""
        now = self._clock.now()
        async with self._uow() as uow:
            instance = await uow.instances.get(instance_id)
            if instance is None:
                raise InstanceNotFoundError(f"instance {instance_id} does not exist")
            expired = instance.expire(now)
            operations = await uow.operations.list_for_instance(instance_id)
            running = [op for op in operations if op.is_suspension and not op.state.is_final]
            if running:
                operation = running[-1]
            else:
                operation = await self._add_operation(
                    uow,
                    instance_id=instance_id,
                    plan_id=instance.plan_id,
                    kind=OperationType.DEPROVISION,
                    now=now,
                    why="Expiration requested",
                    temporary=True,
                )
            await uow.instances.update(expired)
            await uow.commit()
            if running:
                self._notify()
            else:
                self._accepted(operation, "Expiration requested")
        return operation.id
