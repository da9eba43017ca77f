"""Use cases of the OSB instance endpoints: provision, fetch, update, deprovision, last_operation, expire.

Each opens a unit of work, loads what it needs, asks the domain model, saves and commits. They know no
HTTP: results say what happened (created, already there, synchronous) and errors are ``KebError``s.
Every check that can refuse a request runs before the first write, so a refused request changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from keb_domain.errors import (
    AsyncRequiredError,
    InstanceConflictError,
    InstanceGoneError,
    InstanceNotFoundError,
    InvalidParametersError,
    InvalidRequestError,
    OperationNotFoundError,
    StorageConflictError,
    UnprocessableError,
)
from keb_domain.model.catalog import check_guid, offered_plan, require_plan, require_service
from keb_domain.model.instance import Instance, is_external_licence, public_context
from keb_domain.model.operation import Operation, OperationState, OperationType, first_provisioning
from keb_domain.model.parameters import (
    TRIAL_DROPPED_PARAMETERS,
    check_access_control_list,
    check_additional_volume_size,
    check_audit_log_access_update,
    check_colocation,
    check_gvisor,
    check_ingress_filtering,
    check_internal_only_machines,
    check_semantics,
    check_size,
    check_trial_parameters,
    validate_against_schema,
)
from keb_domain.model.plans import PLANS_BY_ID, Plan, PlanKind, Provider
from keb_domain.model.regions import EU_FORCED_REGION, is_eu_access
from keb_domain.model.schemas import plan_schemas
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
MAX_ID_LENGTH = 255  # ids are stored in varchar(255) columns, as in KEB's schema
REQUIRED_CONTEXT = (
    ("globalaccount_id", "global account ID"),
    ("subaccount_id", "subaccount ID"),
    ("user_id", "user ID"),
)


# --- commands and results ------------------------------------------------------------------------------


@attrs.frozen
class ProvisionCommand:
    instance_id: str
    service_id: str
    plan_id: str
    platform_region: str
    context: Mapping[str, Any] = attrs.field(factory=dict)
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    user_agent: str = ""
    organization_guid: str | None = None
    space_guid: str | None = None


@attrs.frozen
class ProvisionResult:
    operation_id: str
    already_existed: bool  # an identical repeat of an earlier request
    completed: bool  # that earlier provisioning has succeeded (OSB: 200 instead of 202)
    dashboard_url: str
    labels: Mapping[str, str]


@attrs.frozen
class InstanceView:
    service_id: str
    plan_id: str
    dashboard_url: str
    parameters: Mapping[str, Any]
    labels: Mapping[str, str]


@attrs.frozen
class UpdateCommand:
    instance_id: str
    service_id: str
    plan_id: str | None = None
    context: Mapping[str, Any] | None = None
    parameters: Mapping[str, Any] | None = None
    accepts_incomplete: bool = False


@attrs.frozen
class UpdateResult:
    operation_id: str | None  # None: done synchronously (OSB 200)
    dashboard_url: str
    labels: Mapping[str, str]


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


def check_context(context: Mapping[str, Any]) -> None:
    for key, label in REQUIRED_CONTEXT:
        value = context.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequestError(f"context.{key}: the {label} must not be empty")
        if len(value) > MAX_ID_LENGTH:
            raise InvalidRequestError(
                f"context.{key}: the {label} must be at most {MAX_ID_LENGTH} characters"
            )


def latest_deprovisioning(operations: list[Operation]) -> Operation | None:
    candidates = [op for op in operations if op.type is OperationType.DEPROVISION and not op.temporary]
    return candidates[-1] if candidates else None


def unfinished(operations: list[Operation]) -> list[Operation]:
    return [op for op in operations if not op.state.is_final]


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

    def _accepted(self, operation: Operation, why: str) -> None:
        """After the commit: tell the observer, wake the workers."""
        self._observer.accepted(operation, why)
        self._notify()

    # --- labels -----------------------------------------------------------------------------------

    def labels(self, instance: Instance, now: datetime) -> dict[str, str]:
        """``metadata.labels`` of instance responses (KEB's ``response_labels.go``)."""
        labels = {"Name": instance.cluster_name}
        if instance.runtime_id:
            labels["KubeconfigURL"] = (
                f"{self._config.broker_url.rstrip('/')}/kubeconfig/{instance.instance_id}"
            )
        plan = PLANS_BY_ID.get(instance.plan_id)
        if plan is not None and plan.kind in (PlanKind.TRIAL, PlanKind.FREE):
            days = self._config.trial_expiration_days if plan.is_trial else self._config.free_expiration_days
            left = (instance.created_at + timedelta(days=days) - now).days
            key = "Trial account expiration details" if plan.is_trial else "Free plan expiration details"
            if instance.is_expired or left < 0:
                labels[key] = "Your cluster has expired."
            elif left == 0:
                labels[key] = "Your cluster expires today."
            elif left == 1:
                labels[key] = "Your cluster expires tomorrow."
            else:
                labels[key] = f"Your cluster expires in {left} days."
        return labels

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
        await uow.events.add(OperationEvent(instance_id, operation.id, "info", why, now))
        return operation

    # --- provision --------------------------------------------------------------------------------

    def _validate_provisioning(self, cmd: ProvisionCommand) -> tuple[Plan, dict[str, Any], Provider, str]:
        """All request checks that need no storage; returns the plan, parameters, provider, cluster region."""
        config = self._config
        require_service(cmd.service_id)
        require_plan(cmd.plan_id)
        check_guid("organization_guid", cmd.organization_guid)
        check_guid("space_guid", cmd.space_guid)
        plan = offered_plan(config.policy, config.catalog, cmd.plan_id, cmd.platform_region)
        if plan is None:
            raise InvalidRequestError(
                f"plan_id: {cmd.plan_id!r} is not in the catalog of platform region {cmd.platform_region}"
            )
        check_context(cmd.context)
        parameters = dict(cmd.parameters)
        check_size(parameters)
        schemas = plan_schemas(config.policy, plan, cmd.platform_region, config.catalog.schema_options)
        if schemas is None:  # offered_plan() said it is offered; keep mypy and the reader honest
            raise InvalidRequestError(f"plan_id: {cmd.plan_id!r} is not offered in {cmd.platform_region}")
        check_ingress_filtering(
            plan,
            parameters,
            config.catalog.schema_options.ingress_filtering_plans,
            is_external_licence(cmd.context),
        )
        self._check_switched_parameters(plan, parameters, str(cmd.context.get("globalaccount_id", "")))
        if plan.is_trial:
            for dropped in TRIAL_DROPPED_PARAMETERS:  # KEB silently drops them for trial
                parameters.pop(dropped, None)
            check_trial_parameters(parameters)
            schema_input = {k: v for k, v in parameters.items() if k not in ("region", "provider")}
            validate_against_schema(schemas[0], schema_input)
            provider = (
                Provider.from_trial_parameter(str(parameters["provider"]))
                if parameters.get("provider")
                else config.policy.default_trial_provider
            )
            if is_eu_access(cmd.platform_region) and provider not in EU_FORCED_REGION:
                raise InvalidParametersError(
                    f"provider: {provider.keb_name} trials are not offered in the EU Access platform region "
                    f"{cmd.platform_region}; choose {' or '.join(p.keb_name for p in EU_FORCED_REGION)}"
                )
            region_param = parameters.get("region")
            cluster_region = config.policy.trial_cluster_region(
                provider, cmd.platform_region, str(region_param) if region_param else None
            )
        else:
            validate_against_schema(schemas[0], parameters)
            if plan.is_free:
                free_provider = config.policy.free_provider(cmd.platform_region)
                if free_provider is None:
                    raise InvalidRequestError(f"plan free is not offered in {cmd.platform_region}")
                provider = free_provider
                cluster_region = config.policy.free_cluster_region(
                    provider, cmd.platform_region, str(parameters["region"])
                )
            else:
                if plan.provider is None:
                    raise InvalidRequestError(f"plan {plan.name} has no provider")
                provider = plan.provider
                cluster_region = str(parameters["region"])
            check_semantics(
                policy=config.policy,
                plan=plan,
                provider=provider,
                cluster_region=cluster_region,
                parameters=parameters,
            )
            if is_external_licence(cmd.context):
                check_internal_only_machines(config.policy.plans.get(plan.name), parameters)
            # Parameters the plan's schema does not name are accepted and dropped, as KEB's typed
            # parameters drop them (APP_BROKER_REJECT_UNSUPPORTED_PARAMETERS refuses them instead).
            known = schemas[0].get("properties", {})
            parameters = {key: value for key, value in parameters.items() if key in known}
        return plan, parameters, provider, cluster_region

    def _check_switched_parameters(
        self, plan: Plan, parameters: Mapping[str, Any], global_account_id: str
    ) -> None:
        """KEB's checks of the parameters its switches offer, on provisioning and update alike; they run
        whether or not the plan's schema shows the parameter, as KEB's do."""
        options = self._config.catalog.schema_options
        check_additional_volume_size(plan, parameters, options.additional_volume_plans)
        check_access_control_list(plan, parameters, options.acl_plans)
        check_gvisor(parameters, global_account_id, self._config.gvisor_allowed_global_accounts)

    async def _check_colocation(
        self,
        cmd: ProvisionCommand,
        plan: Plan,
        parameters: Mapping[str, Any],
        provider: Provider,
        region: str,
    ) -> None:
        """KEB's ``validateColocate``: a control plane can be colocated only where Gardener has a seed."""
        if parameters.get("colocateControlPlane") is not True:
            return
        seeds = await self._seed_regions.seed_regions(provider)
        plan_regions = self._config.policy.allowed_regions(plan, cmd.platform_region)
        check_colocation(provider, region, plan_regions, seeds)

    async def provision(self, cmd: ProvisionCommand) -> ProvisionResult:
        """Accept a provisioning request; the operation engine does the work.

        An identical repeat answers with the original operation; one that differs is a conflict.
        """
        plan, parameters, provider, cluster_region = self._validate_provisioning(cmd)
        await self._check_colocation(cmd, plan, parameters, provider, cluster_region)
        digest = request_digest(cmd)
        try:
            return await self._provision(
                cmd,
                plan=plan,
                parameters=parameters,
                provider=provider,
                cluster_region=cluster_region,
                digest=digest,
            )
        except StorageConflictError:
            # A concurrent identical PUT created the instance first; answer as a repeat would.
            return await self._provision(
                cmd,
                plan=plan,
                parameters=parameters,
                provider=provider,
                cluster_region=cluster_region,
                digest=digest,
            )

    async def _provision(
        self,
        cmd: ProvisionCommand,
        *,
        plan: Plan,
        parameters: dict[str, Any],
        provider: Provider,
        cluster_region: str,
        digest: str,
    ) -> ProvisionResult:
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
                provider=provider,
                cluster_region=cluster_region,
                shoot_name=self._ids.shoot_name(),
                created_at=now,
                updated_at=now,
                parameters=parameters,
                context=public_context(cmd.context),
                eu_access=is_eu_access(cmd.platform_region),
                dashboard_url=self._dashboard_url(cmd.instance_id),
                last_operation_id=operation.id,
            )
            await uow.instances.add(instance)
            await uow.commit()
            self._accepted(operation, "Provisioning requested")
        # dashboard_url is deliberately blank on a fresh provision (KEB): the runtime does not exist yet.
        return ProvisionResult(operation.id, False, False, "", self.labels(instance, now))

    async def _repeat(
        self, uow: UnitOfWork, instance: Instance, digest: str, now: datetime
    ) -> ProvisionResult:
        operations = await uow.operations.list_for_instance(instance.instance_id)
        original = first_provisioning(operations)
        if original is None or original.request_digest != digest:
            raise InstanceConflictError(
                f"instance {instance.instance_id} already exists with different attributes"
            )
        completed = original.state is OperationState.SUCCEEDED
        return ProvisionResult(
            original.id,
            True,
            completed,
            instance.dashboard_url if completed else "",
            self.labels(instance, now),
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
            labels=self.labels(instance, now),
        )

    # --- update -----------------------------------------------------------------------------------

    def _validate_update(
        self, instance: Instance, plan: Plan, parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Check an update's parameters; returns those the update may change.

        What the update schema does not name (``region``, ``networking``, ``modules``, or anything unknown)
        is accepted, as KEB does, but not applied: storing it would show settings the runtime never got.
        """
        config = self._config
        check_size(parameters)
        schemas = plan_schemas(config.policy, plan, instance.platform_region, config.catalog.schema_options)
        if schemas is None:
            raise UnprocessableError(
                f"plan {plan.name} is no longer offered in {instance.platform_region}; "
                "the instance cannot be updated"
            )
        validate_against_schema(schemas[1], parameters)
        check_semantics(
            policy=config.policy,
            plan=plan,
            provider=instance.provider,
            cluster_region=instance.cluster_region,
            parameters=parameters,
            previous=instance.parameters,
        )
        if is_external_licence(instance.context):
            check_internal_only_machines(config.policy.plans.get(plan.name), parameters)
        check_audit_log_access_update(plan, parameters, instance.parameters)
        check_ingress_filtering(
            plan,
            parameters,
            config.catalog.schema_options.ingress_filtering_plans,
            is_external_licence(instance.context),
        )
        self._check_switched_parameters(plan, parameters, instance.global_account_id)
        previous = instance.parameters.get("colocateControlPlane") is True
        if "colocateControlPlane" in parameters and parameters["colocateControlPlane"] is not previous:
            # KEB's update schema has no colocateControlPlane and its update drops it; keb refuses a change
            # rather than accept it silently. The provisioned value may be sent back unchanged.
            raise InvalidParametersError("colocateControlPlane cannot be changed after provisioning")
        updatable = schemas[1].get("properties", {})
        return {key: value for key, value in parameters.items() if key in updatable}

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
                parameters = self._validate_update(instance, plan, parameters)
            if instance.is_expired:
                if cmd.context and cmd.context.get("globalaccount_id"):
                    return UpdateResult(None, "", {})
                raise InvalidRequestError("cannot update an expired instance")
            original = first_provisioning(operations)
            if original is not None and original.state is OperationState.FAILED:
                raise UnprocessableError("Unable to process an update of a failed instance")
            if latest_deprovisioning(operations) is not None:
                raise UnprocessableError("Unable to process an update of a deprovisioned instance")
            context = {**instance.context, **public_context(cmd.context or {})}
            current_plan = PLANS_BY_ID[instance.plan_id]
            if current_plan.is_trial and cmd.context and "active" in cmd.context:
                wanted_active = cmd.context["active"] is not False
                if wanted_active == instance.suspended:
                    return await self._flip_activity(
                        uow,
                        instance=instance,
                        operations=operations,
                        context=context,
                        active=wanted_active,
                        now=now,
                    )
            merged = {**instance.parameters, **parameters}
            plan_changes = plan.id != instance.plan_id
            if merged == dict(instance.parameters) and not plan_changes:
                if context != dict(instance.context):
                    await uow.instances.update(instance.with_context(context, now))
                    await uow.commit()
                running = [op for op in unfinished(operations) if op.type is OperationType.UPDATE]
                if running:
                    return UpdateResult(running[-1].id, instance.dashboard_url, self.labels(instance, now))
                return UpdateResult(None, "", self.labels(instance, now))
            if not cmd.accepts_incomplete:
                raise AsyncRequiredError()
            updated = instance.with_parameters(merged, now).with_context(context, now)
            if plan_changes:
                updated = updated.with_plan(plan.id, plan.name, now)
            if not self._config.update_processing_enabled:
                await uow.instances.update(updated)
                await uow.commit()
                return UpdateResult(None, "", self.labels(updated, now))
            await uow.instances.update(updated)
            operation = await self._add_operation(
                uow,
                instance_id=instance.instance_id,
                plan_id=plan.id,
                kind=OperationType.UPDATE,
                now=now,
                why="Update requested",
                parameters=parameters,
            )
            await uow.commit()
            self._accepted(operation, "Update requested")
        return UpdateResult(operation.id, instance.dashboard_url, self.labels(updated, now))

    async def _flip_activity(
        self,
        uow: UnitOfWork,
        *,
        instance: Instance,
        operations: list[Operation],
        context: dict[str, Any],
        active: bool,
        now: datetime,
    ) -> UpdateResult:
        """Trial ``context.active``: false suspends (temporary deprovision), true unsuspends (provision).

        As KEB, the answer is 200 while the operation runs in the background.
        """
        if active:
            if instance.is_expired:
                raise InvalidRequestError("cannot unsuspend an expired instance")
            suspensions = [op for op in operations if op.is_suspension]
            if suspensions and suspensions[-1].state is OperationState.FAILED:
                raise UnprocessableError(
                    "Unable to unsuspend: the preceding suspension failed; suspend it again first"
                )
        updated = instance.with_context(context, now)
        await uow.instances.update(updated)
        why = "Unsuspension requested" if active else "Suspension requested"
        operation = await self._add_operation(
            uow,
            instance_id=instance.instance_id,
            plan_id=instance.plan_id,
            kind=OperationType.PROVISION if active else OperationType.DEPROVISION,
            now=now,
            why=why,
            temporary=True,
        )
        await uow.commit()
        self._accepted(operation, why)
        return UpdateResult(None, "", self.labels(updated, now))

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
            latest = latest_deprovisioning(await uow.operations.list_for_instance(cmd.instance_id))
            if latest is not None and latest.state is not OperationState.FAILED:
                return latest.id
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
            return OperationStatus(polled.state.osb_state, polled.description)
        if polled is not None and polled.archived:
            return OperationStatus("succeeded", DEPROVISIONED_DESCRIPTION)
        raise OperationNotFoundError("Operation not found")

    # --- expiration -------------------------------------------------------------------------------

    async def expire(self, instance_id: str) -> str:
        """``PUT /expire/service_instance/{id}``: a trial or free instance expires and is suspended."""
        now = self._clock.now()
        async with self._uow() as uow:
            instance = await uow.instances.get(instance_id)
            if instance is None:
                raise InstanceNotFoundError(f"instance {instance_id} does not exist")
            plan = PLANS_BY_ID[instance.plan_id]
            if plan.kind not in (PlanKind.TRIAL, PlanKind.FREE):
                raise InvalidParametersError(f"plan {plan.name} does not expire; only trial and free do")
            operations = await uow.operations.list_for_instance(instance_id)
            running = [op for op in unfinished(operations) if op.is_suspension]
            expired = instance.expire(now) if not instance.is_expired else instance
            expired = expired.with_context({**expired.context, "active": False}, now)
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
