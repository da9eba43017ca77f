"""Operations survive the broker: SQLite on disk, a control plane that outlives it (it stands for KCP).

The brokers run on the real clock with short timings; waiting is bounded polling of that background
work. KCP keeps its own fake clock, so a Runtime CR becomes Ready exactly when a test says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from keb_adapters.kubernetes.resources import KcpResources
from keb_adapters.memory.clusters import MemoryControlPlane, MemoryGardener, MemoryRuntimeClusters
from keb_adapters.memory.landscape_facts import MemoryMachineVolumeSizes, MemorySeedRegions
from keb_adapters.memory.runtime_config import MemoryRuntimeConfiguration
from keb_adapters.sql import tables as t
from keb_adapters.sql.database import create_engine
from keb_adapters.system import SystemClock
from keb_app.bootstrap import Services, build_services
from keb_domain.model.operation import Operation, OperationState
from tests.integration.http.conftest import asgi_client, instance_path
from tests.support import OSB, FakeClock, memory_pools, provision_body, settings_for_tests

READY_AFTER = 60.0  # on KCP's own clock: a new runtime is Ready once a test advances it this far


def outliving_kcp() -> tuple[MemoryControlPlane, FakeClock]:
    """The control plane that outlives every broker of a test, and the clock its KIM simulation reads."""
    kcp_clock = FakeClock()
    return MemoryControlPlane(kcp_clock, ready_after=READY_AFTER), kcp_clock


def settings_env(data_dir: Path, lease: str = "30s") -> dict[str, str]:
    return {
        "APP_DATA_DIR": str(data_dir),
        "APP_OPERATION_POLL_INTERVAL": "50ms",
        "APP_OPERATION_RECOVERY_DELAY": lease,
    }


def broker(
    data_dir: Path, kcp: MemoryControlPlane, *, lease: str = "30s", run_engine: bool, stalling: bool = False
) -> Services:
    """A broker on the SQLite file in ``data_dir`` (no storage override: the composition root's own)."""
    clock = SystemClock()
    return build_services(
        settings_for_tests(settings_env(data_dir, lease)),
        control_plane=StallingControlPlane(kcp) if stalling else kcp,
        gardener=MemoryGardener(kcp, clock),
        runtime_clusters=MemoryRuntimeClusters(kcp, clock),
        credentials_bindings=memory_pools(kcp),
        runtime_configuration=MemoryRuntimeConfiguration(),
        seed_regions=MemorySeedRegions(),
        volume_sizes=MemoryMachineVolumeSizes(),
        clock=clock,
        run_engine=run_engine,
        idle_poll=0.05,
    )


async def provision(services: Services, instance_id: str = "inst-1") -> str:
    async with asgi_client(services) as client:
        response = await client.put(instance_path(instance_id), headers=OSB, json=provision_body())
    assert response.status_code == 202, response.text
    return str(response.json()["operation"])


async def read_operation(services: Services, operation_id: str) -> Operation:
    async with services.storage() as uow:
        found = await uow.operations.get(operation_id)
    assert found is not None
    return found


async def until_finished(services: Services, operation_id: str, seconds: float = 15.0) -> Operation:
    """Poll the operation (bounded) until it succeeded or failed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        operation = await read_operation(services, operation_id)
        if operation.state.is_final:
            return operation
        await asyncio.sleep(0.05)
    raise AssertionError(f"operation {operation_id} did not finish within {seconds}s")


async def lease_of(data_dir: Path, operation_id: str) -> tuple[str | None, datetime | None]:
    """The lease columns, read with a connection of our own."""
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'keb.db'}")
    try:
        async with engine.connect() as connection:
            query = sa.select(t.operations.c.lease_owner, t.operations.c.lease_until).where(
                t.operations.c.id == operation_id
            )
            row = (await connection.execute(query)).one()
        return row.lease_owner, row.lease_until
    finally:
        await engine.dispose()


async def test_an_operation_stopped_between_stages_finishes_after_a_restart(tmp_path: Path) -> None:
    """Runtime CR created but not Ready, broker gone; a new broker on the same file finishes the job."""
    kcp, kcp_clock = outliving_kcp()
    first = broker(tmp_path, kcp, run_engine=False)
    await first.start()
    operation_id = await provision(first)
    await first.engine.run_once()  # runs until the operation waits for the Runtime CR
    stopped = await read_operation(first, operation_id)
    await first.stop()  # engine stopped, database engine disposed
    assert stopped.state is OperationState.IN_PROGRESS
    assert "create_runtime_resource" in stopped.finished_stages
    (runtime,) = kcp.runtimes.values()
    assert runtime["status"]["state"] != "Ready"
    assert kcp.kymas == {}

    kcp_clock.advance(READY_AFTER)  # KIM finished while no broker was running
    second = broker(tmp_path, kcp, run_engine=True)
    await second.start()
    try:
        finished = await until_finished(second, operation_id)
    finally:
        await second.stop()
    assert finished.state is OperationState.SUCCEEDED
    assert list(kcp.runtimes) == [stopped.runtime_id.lower()]  # the same runtime, not a second one
    assert list(kcp.kymas) == [stopped.runtime_id.lower()]


class StallingControlPlane(KcpResources):
    """KCP whose Runtime creation reaches the server and then never answers: a worker dies mid-step."""

    def __init__(self, inner: MemoryControlPlane, answer_after: float | None = None) -> None:
        self.inner = inner
        self.stalled = asyncio.Event()
        self.answer_after = answer_after  # None: never

    async def get_runtime(self, name: str) -> dict[str, Any] | None:
        return await self.inner.get_runtime(name)

    async def create_runtime(self, body: Mapping[str, Any]) -> dict[str, Any]:
        created = await self.inner.create_runtime(body)
        self.stalled.set()
        if self.answer_after is not None:
            await asyncio.sleep(self.answer_after)
            return created
        await asyncio.Event().wait()  # never set: the answer never comes
        raise AssertionError("unreachable")

    async def replace_runtime(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.inner.replace_runtime(body)

    async def delete_runtime(self, name: str) -> None:
        await self.inner.delete_runtime(name)

    async def get_kyma(self, name: str) -> dict[str, Any] | None:
        return await self.inner.get_kyma(name)

    async def create_kyma(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.inner.create_kyma(body)

    async def replace_kyma(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self.inner.replace_kyma(body)

    async def delete_kyma(self, name: str) -> None:
        await self.inner.delete_kyma(name)

    async def get_runtime_kubeconfig(self, runtime_id: str) -> str:
        return await self.inner.get_runtime_kubeconfig(runtime_id)


async def test_an_operation_whose_worker_hangs_is_taken_over_after_the_lease(tmp_path: Path) -> None:
    """A step hung mid-way keeps its lease; another broker waits for the lease to expire, then finishes."""
    kcp, kcp_clock = outliving_kcp()
    first = broker(tmp_path, kcp, lease="2s", run_engine=True, stalling=True)
    stalling = first.control_plane
    assert isinstance(stalling, StallingControlPlane)
    await first.start()
    try:
        operation_id = await provision(first)
        await asyncio.wait_for(stalling.stalled.wait(), timeout=10)
        owner, lease_until = await lease_of(tmp_path, operation_id)
        assert owner is not None
        assert lease_until is not None

        kcp_clock.advance(READY_AFTER)
        second = broker(tmp_path, kcp, lease="2s", run_engine=False)
        await second.start()
        try:
            probe = await second.storage.claim_due(lease_until, "probe", lease_until, 10)
            assert probe == []  # still leased: nobody may take it over yet
            await second.engine.start()
            finished = await until_finished(second, operation_id)
        finally:
            await second.stop()
    finally:
        await first.stop()  # its release is a no-op now: the lease is no longer its own
    assert finished.state is OperationState.SUCCEEDED
    assert finished.updated_at > lease_until
    assert len(kcp.runtimes) == 1  # the create that reached KCP was found, not repeated


async def test_a_stop_mid_step_releases_the_lease_so_the_next_broker_continues_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopped mid-step with a 120 s lease, a broker releases it; a restarted one finishes within seconds."""
    kcp, kcp_clock = outliving_kcp()
    first = broker(tmp_path, kcp, lease="120s", run_engine=True, stalling=True)
    stalling = first.control_plane
    assert isinstance(stalling, StallingControlPlane)
    await first.start()
    try:
        operation_id = await provision(first)
        await asyncio.wait_for(stalling.stalled.wait(), timeout=10)
    finally:
        with caplog.at_level(logging.INFO, logger="keb.engine"):
            await first.stop(deadline=time.monotonic() + 0.2)  # the step never ends: cancelled at the grace
    assert await lease_of(tmp_path, operation_id) == (None, None)
    assert f"operation(s) stopped mid-step, to be continued at once by the next engine: {operation_id}" in (
        caplog.text
    )
    assert "the operation engine stopped" in caplog.text

    kcp_clock.advance(READY_AFTER)
    second = broker(tmp_path, kcp, lease="120s", run_engine=True)
    started = time.monotonic()
    await second.start()
    try:
        finished = await until_finished(second, operation_id, seconds=10.0)
    finally:
        await second.stop()
    assert finished.state is OperationState.SUCCEEDED
    assert time.monotonic() - started < 10.0  # far below the 120 s lease
    assert len(kcp.runtimes) == 1


async def test_a_stop_lets_a_running_step_finish_within_the_grace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A step that ends within the grace period is not cancelled: its stage is recorded, no lease kept."""
    kcp, _ = outliving_kcp()
    slow = StallingControlPlane(kcp, answer_after=0.5)
    clock = SystemClock()
    services = build_services(
        settings_for_tests(settings_env(tmp_path, "120s")),
        control_plane=slow,
        gardener=MemoryGardener(kcp, clock),
        runtime_clusters=MemoryRuntimeClusters(kcp, clock),
        credentials_bindings=memory_pools(kcp),
        runtime_configuration=MemoryRuntimeConfiguration(),
        seed_regions=MemorySeedRegions(),
        volume_sizes=MemoryMachineVolumeSizes(),
        clock=clock,
        idle_poll=0.05,
    )
    await services.start()
    try:
        operation_id = await provision(services)
        await asyncio.wait_for(slow.stalled.wait(), timeout=10)
    finally:
        with caplog.at_level(logging.INFO, logger="keb.engine"):
            await services.stop(deadline=time.monotonic() + 10.0)
    probe = broker(tmp_path, kcp, run_engine=False)
    await probe.start()
    try:
        operation = await read_operation(probe, operation_id)
    finally:
        await probe.stop()
    assert "create_runtime_resource" in operation.finished_stages
    assert await lease_of(tmp_path, operation_id) == (None, None)
    assert "released the lease" not in caplog.text
