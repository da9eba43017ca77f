"""Landscape jobs: trial and free expiration, free cleanup, deprovision retrigger (KEB's ``cmd/`` jobs).

Each job selects instances with a pure rule over the inventory, then acts through the ordinary use cases,
so it behaves exactly as the broker's API does:

* trial expiration (KEB's trial cleanup, ``expirationPeriod`` 336h): a trial older than the period is
  expired and suspended, as ``PUT /expire/service_instance/{id}`` does;
* free expiration (``freeExpirationPeriod`` 720h): the same for the free plan;
* free cleanup (KEB's free cleanup job, 2160h): a free instance older than that is deprovisioned;
* deprovision retrigger: an instance whose deprovisioning failed is deprovisioned again.

Each action is idempotent (an expired instance is skipped, a running deprovisioning is reused), so running
a job twice, or on several replicas at once, does the work once. ``dry_run`` only reports.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta

import attrs

from keb_domain.errors import KebError
from keb_domain.model.inventory import InfoRuntime
from keb_domain.model.operation import OperationState
from keb_domain.model.plans import KYMA_SERVICE_ID, PLANS_BY_NAME, PlanKind
from keb_domain.ports import Clock, Inventory
from keb_domain.usecases.instances import DeprovisionCommand, InstanceUseCases

_log = logging.getLogger(__name__)

HOUR = 3600.0


class JobName(enum.Enum):
    TRIAL_EXPIRATION = "trial-expiration"
    FREE_EXPIRATION = "free-expiration"
    FREE_CLEANUP = "free-cleanup"
    DEPROVISION_RETRIGGER = "deprovision-retrigger"


@attrs.frozen
class JobPeriods:
    """KEB's defaults, in seconds."""

    trial_expiration: float = 336 * HOUR  # trialCleanup expirationPeriod
    free_expiration: float = 720 * HOUR  # freeExpirationPeriod
    free_cleanup: float = 2160 * HOUR  # freeCleanup expirationPeriod


@attrs.frozen
class JobReport:
    """What a run found and did; ``acted`` is empty in a dry run."""

    job: JobName
    dry_run: bool
    candidates: tuple[str, ...] = ()
    acted: tuple[tuple[str, str], ...] = ()  # (instance id, operation id)
    failed: tuple[tuple[str, str], ...] = ()  # (instance id, reason)


def is_due(job: JobName, runtime: InfoRuntime, now: datetime, periods: JobPeriods) -> bool:
    """Whether the job acts on this instance now (pure)."""
    instance = runtime.instance
    kind = _plan_kind(instance.plan_name)
    age = now - instance.created_at
    if job is JobName.TRIAL_EXPIRATION:
        return kind is PlanKind.TRIAL and not instance.is_expired and age >= _td(periods.trial_expiration)
    if job is JobName.FREE_EXPIRATION:
        return kind is PlanKind.FREE and not instance.is_expired and age >= _td(periods.free_expiration)
    if job is JobName.FREE_CLEANUP:
        deprovisioning = runtime.deprovisioning
        running = deprovisioning is not None and not deprovisioning.state.is_final
        return kind is PlanKind.FREE and age >= _td(periods.free_cleanup) and not running
    deprovisioning = runtime.deprovisioning
    return deprovisioning is not None and deprovisioning.state is OperationState.FAILED


def _td(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _plan_kind(plan_name: str) -> PlanKind | None:
    plan = PLANS_BY_NAME.get(plan_name)
    return plan.kind if plan else None


class LandscapeJobs:
    """Runs one job over every instance of the inventory."""

    def __init__(
        self, inventory: Inventory, instances: InstanceUseCases, clock: Clock, periods: JobPeriods
    ) -> None:
        self._inventory = inventory
        self._instances = instances
        self._clock = clock
        self.periods = periods

    async def run(self, job: JobName, *, dry_run: bool = False) -> JobReport:
        now = self._clock.now()
        candidates = [
            (runtime.instance.instance_id, runtime.instance.plan_id)
            async for runtime in self._inventory.info_runtimes()
            if is_due(job, runtime, now, self.periods)
        ]
        acted: list[tuple[str, str]] = []
        failed: list[tuple[str, str]] = []
        for instance_id, plan_id in candidates:
            if dry_run:
                _log.info("%s (dry run): would act on instance %s", job.value, instance_id)
                continue
            try:
                if job in (JobName.TRIAL_EXPIRATION, JobName.FREE_EXPIRATION):
                    operation_id = await self._instances.expire(instance_id)
                else:
                    operation_id = await self._instances.deprovision(
                        DeprovisionCommand(
                            instance_id, KYMA_SERVICE_ID, plan_id, user_agent=f"keb-job/{job.value}"
                        )
                    )
            except KebError as error:  # gone meanwhile, or changed by another replica
                failed.append((instance_id, error.description))
                _log.warning("%s: instance %s: %s", job.value, instance_id, error.description)
                continue
            acted.append((instance_id, operation_id))
            _log.info("%s: instance %s, operation %s", job.value, instance_id, operation_id)
        return JobReport(
            job, dry_run, tuple(instance_id for instance_id, _ in candidates), tuple(acted), tuple(failed)
        )
