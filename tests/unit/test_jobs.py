"""Which instances each landscape job acts on, and the jobs' settings."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from keb_domain.errors import ConfigurationError
from keb_domain.model.inventory import InfoRuntime
from keb_domain.model.operation import OperationState
from keb_domain.usecases.instances import DeprovisionCommand
from keb_domain.usecases.jobs import JobName, JobPeriods, is_due
from tests.support import FREE, SERVICE, TRIAL, settings_for_tests
from tests.unit.harness import make_core, provision_command

PERIODS = JobPeriods()


async def runtime_of(plan_id: str, *, fail_deletion: bool = False) -> tuple[InfoRuntime, datetime]:
    core = make_core()
    params = {"name": "x"} if plan_id == TRIAL else {"name": "x", "region": "eu-central-1"}
    await core.instances.provision(provision_command("i-1", plan_id, params))
    await core.settle()
    deprovisioning = None
    if fail_deletion:
        from keb_domain.errors import ClusterError

        core.kcp.fail_next("delete_kyma", ClusterError("refused"))
        op_id = await core.instances.deprovision(DeprovisionCommand("i-1", SERVICE, plan_id))
        await core.settle()
        deprovisioning = core.operation(op_id)
        assert deprovisioning.state is OperationState.FAILED
    instance = core.instance("i-1")
    return InfoRuntime(instance, None, deprovisioning, instance.updated_at), instance.created_at


@pytest.mark.parametrize(
    ("job", "plan", "age_hours", "due"),
    [
        (JobName.TRIAL_EXPIRATION, TRIAL, 335, False),
        (JobName.TRIAL_EXPIRATION, TRIAL, 336, True),
        (JobName.TRIAL_EXPIRATION, FREE, 9999, False),
        (JobName.FREE_EXPIRATION, FREE, 719, False),
        (JobName.FREE_EXPIRATION, FREE, 720, True),
        (JobName.FREE_EXPIRATION, TRIAL, 9999, False),
        (JobName.FREE_CLEANUP, FREE, 2159, False),
        (JobName.FREE_CLEANUP, FREE, 2160, True),
        (JobName.DEPROVISION_RETRIGGER, FREE, 9999, False),
    ],
)
async def test_each_job_acts_from_its_period_on(job: JobName, plan: str, age_hours: int, due: bool) -> None:
    """KEB's periods: trial 336h, free expiration 720h, free cleanup 2160h, counted from creation."""
    runtime, created = await runtime_of(plan)
    assert is_due(job, runtime, created + timedelta(hours=age_hours), PERIODS) is due


async def test_an_expired_trial_is_not_expired_again() -> None:
    """Expiration is idempotent: an instance already expired is not a candidate."""
    runtime, created = await runtime_of(TRIAL)
    expired = InfoRuntime(
        runtime.instance.expire(runtime.instance.created_at), None, None, runtime.modified_at
    )
    assert not is_due(JobName.TRIAL_EXPIRATION, expired, created + timedelta(days=30), PERIODS)


async def test_the_retrigger_picks_failed_deprovisionings_only() -> None:
    """An instance whose deprovisioning failed is a candidate, whatever its age."""
    runtime, created = await runtime_of(FREE, fail_deletion=True)
    assert is_due(JobName.DEPROVISION_RETRIGGER, runtime, created, PERIODS)


def test_job_settings_use_kebs_periods_and_refuse_unknown_jobs() -> None:
    """Defaults are KEB's, schedules are off unless APP_JOBS_INTERVAL is set, and a bad name is refused."""
    settings = settings_for_tests()
    assert settings.job_periods == JobPeriods(336 * 3600.0, 720 * 3600.0, 2160 * 3600.0)
    assert settings.jobs_interval == 0
    assert (
        settings_for_tests({"APP_TRIAL_CLEANUP_EXPIRATION_PERIOD": "1h"}).job_periods.trial_expiration == 3600
    )
    with pytest.raises(ConfigurationError, match="APP_JOBS: unknown job"):
        settings_for_tests({"APP_JOBS": "trial-expiration,nope"})
