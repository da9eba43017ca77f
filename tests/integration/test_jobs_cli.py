"""The landscape jobs through ``keb job``, on the SQLite database of a data directory."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.metrics import samples
from keb_app import cli
from keb_app.bootstrap import Services, build_services
from keb_domain.errors import ClusterError
from keb_domain.model.instance import Instance
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.usecases.instances import DeprovisionCommand, ProvisionCommand
from tests.support import AWS, FREE, SERVICE, TRIAL, FakeClock, context, settings_for_tests

DAY = 86400.0


def env(data_dir: Path) -> dict[str, str]:
    return {
        "APP_DATA_DIR": str(data_dir),
        "APP_OPERATION_POLL_INTERVAL": "1s",
        "APP_DATABASE_SECRET_KEY": "0123456789abcdef0123456789abcdef",
    }


def broker(data_dir: Path, clock: FakeClock, kcp: MemoryControlPlane) -> Services:
    return build_services(settings_for_tests(env(data_dir)), control_plane=kcp, clock=clock, run_engine=False)


async def settle(services: Services) -> None:
    for _ in range(50):
        if not await services.engine.run_once():
            return
    raise AssertionError("operations did not settle")


async def seed(data_dir: Path) -> None:
    """A 15-day-old trial, a 31-day-old and a 91-day-old free instance, an aws one whose deletion failed."""
    now = datetime.now(UTC)
    kcp = MemoryControlPlane(FakeClock(now))
    for instance_id, plan, age_days in (
        ("trial-1", TRIAL, 15),
        ("free-1", FREE, 31),
        ("free-2", FREE, 91),
        ("aws-1", AWS, 1),
    ):
        services = broker(data_dir, FakeClock(now - timedelta(days=age_days)), kcp)
        await services.start()
        try:
            params = (
                {"name": instance_id} if plan == TRIAL else {"name": instance_id, "region": "eu-central-1"}
            )
            await services.instances.provision(
                ProvisionCommand(
                    instance_id=instance_id,
                    service_id=SERVICE,
                    plan_id=plan,
                    platform_region="cf-eu10",
                    context=context(ga=f"ga-{instance_id}", sa=f"sa-{instance_id}"),
                    parameters=params,
                )
            )
            await settle(services)
            if instance_id == "aws-1":
                kcp.fail_next("delete_kyma", ClusterError("simulated: kyma deletion refused"))
                await services.instances.deprovision(DeprovisionCommand("aws-1", SERVICE, AWS))
                await settle(services)
        finally:
            await services.stop()


async def read(data_dir: Path, instance_id: str) -> tuple[Instance | None, list[Operation]]:
    services = broker(data_dir, FakeClock(), MemoryControlPlane(FakeClock()))
    await services.start()
    try:
        async with services.storage() as uow:
            return await uow.instances.get(instance_id), await uow.operations.list_for_instance(instance_id)
    finally:
        await services.stop()


def keb(monkeypatch: pytest.MonkeyPatch, data_dir: Path, *args: str) -> int:
    """``keb job ...`` as a CronJob runs it, with the local landscape standing in for KCP."""
    for key, value in env(data_dir).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exited:
        cli.main(["job", *args])
    return int(exited.value.code or 0)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    asyncio.run(seed(tmp_path))
    return tmp_path


def test_trial_expiration_dry_run_changes_nothing_then_the_run_suspends(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dry run only names the old trial; the run expires and suspends it, once."""
    assert keb(monkeypatch, data_dir, "trial-expiration", "--dry-run") == 0
    assert "would act on instance trial-1" in capsys.readouterr().out
    instance, operations = asyncio.run(read(data_dir, "trial-1"))
    assert instance is not None
    assert not instance.is_expired
    assert len(operations) == 1
    assert keb(monkeypatch, data_dir, "trial-expiration") == 0
    assert "acted on 1 instance(s)" in capsys.readouterr().out
    instance, operations = asyncio.run(read(data_dir, "trial-1"))
    assert instance is not None
    assert instance.is_expired
    assert instance.suspended
    assert [op.temporary for op in operations if op.type is OperationType.DEPROVISION] == [True]
    assert keb(monkeypatch, data_dir, "trial-expiration") == 0
    assert "acted on 0 instance(s)" in capsys.readouterr().out


def test_free_expiration_and_cleanup_pick_their_ages(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Free instances expire after 720h; the cleanup deprovisions only those older than 2160h."""
    assert keb(monkeypatch, data_dir, "free-expiration") == 0
    out = capsys.readouterr().out
    assert "instance free-1" in out
    assert "instance free-2" in out
    assert keb(monkeypatch, data_dir, "free-cleanup", "--dry-run") == 0
    assert "would act on instance free-2" in capsys.readouterr().out
    _, before = asyncio.run(read(data_dir, "free-2"))
    assert keb(monkeypatch, data_dir, "free-cleanup") == 0
    _, after = asyncio.run(read(data_dir, "free-2"))
    _, untouched = asyncio.run(read(data_dir, "free-1"))
    new = [op for op in after if op.id not in {b.id for b in before}]
    assert [(op.type, op.temporary) for op in new] == [(OperationType.DEPROVISION, False)]
    assert not [op for op in untouched if op.type is OperationType.DEPROVISION and not op.temporary]


def test_deprovision_retrigger_retries_a_failed_deprovisioning(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dry run names the instance whose deletion failed; the run starts a new deprovisioning, once."""
    _, before = asyncio.run(read(data_dir, "aws-1"))
    assert [op.state for op in before if op.type is OperationType.DEPROVISION] == [OperationState.FAILED]
    assert keb(monkeypatch, data_dir, "deprovision-retrigger", "--dry-run") == 0
    assert "would act on instance aws-1" in capsys.readouterr().out
    assert asyncio.run(read(data_dir, "aws-1"))[1] == before
    assert keb(monkeypatch, data_dir, "deprovision-retrigger") == 0
    _, after = asyncio.run(read(data_dir, "aws-1"))
    pending = [op for op in after if op.type is OperationType.DEPROVISION and not op.state.is_final]
    assert len(pending) == 1
    assert keb(monkeypatch, data_dir, "deprovision-retrigger") == 0
    assert "acted on 0 instance(s)" in capsys.readouterr().out


async def test_in_process_schedule_runs_the_configured_jobs(tmp_path: Path) -> None:
    """With APP_JOBS set, one scheduled round runs only the named jobs, through the same use cases."""
    clock = FakeClock(datetime.now(UTC) - timedelta(days=40))
    settings = settings_for_tests({**env(tmp_path), "APP_JOBS": "free-expiration", "APP_JOBS_INTERVAL": "1h"})
    services = build_services(
        settings,
        storage=MemoryStorage(),
        control_plane=MemoryControlPlane(clock),
        clock=clock,
        run_engine=False,
    )
    for instance_id, plan, params in (
        ("trial-1", TRIAL, {"name": "t"}),
        ("free-1", FREE, {"name": "f", "region": "eu-central-1"}),
    ):
        await services.instances.provision(
            ProvisionCommand(
                instance_id=instance_id,
                service_id=SERVICE,
                plan_id=plan,
                platform_region="cf-eu10",
                context=context(ga=f"ga-{instance_id}", sa=f"sa-{instance_id}"),
                parameters=params,
            )
        )
    await settle(services)
    clock.advance(40 * DAY)
    reports = await services.run_scheduled_jobs()
    assert [(r.job.value, r.candidates) for r in reports] == [("free-expiration", ("free-1",))]
    async with services.storage() as uow:
        free, trial = await uow.instances.get("free-1"), await uow.instances.get("trial-1")
    assert free is not None
    assert trial is not None
    assert free.is_expired
    assert not trial.is_expired
    found = samples(services.metrics.render(None, clock.now()).decode())
    assert found['keb_job_runs_total{job="free-expiration"}'] == 1
    assert found['keb_job_instances_total{job="free-expiration",outcome="acted"}'] == 1
    assert found['keb_job_instances_total{job="free-expiration",outcome="failed"}'] == 0
    assert found['keb_job_runs_total{job="trial-expiration"}'] == 0
