"""A database outage answers 503 with Retry-After and changes nothing; the broker recovers by itself.

issue 9, Found 6: the broker answered 500 while its database was down. Now every request that needs the
database answers 503 with an OSB body and ``Retry-After``, and once the database is back the same process
serves again and its operations finish, each exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keb_adapters.memory.clusters import MemoryControlPlane, MemoryGardener, MemoryRuntimeClusters
from keb_adapters.sql.database import create_engine, migrate
from keb_adapters.sql.storage import SqlStorage
from keb_adapters.system import SystemClock
from keb_app.bootstrap import Services, build_services
from keb_domain.model.operation import OperationState
from tests.integration.http.conftest import Broker, asgi_client, instance_path, make_broker
from tests.support import AWS, OSB, SERVICE, FakeClock, provision_body, settings_for_tests

from .private_postgres import private_postgres

READY_AFTER = 60.0


def assert_unavailable(response: httpx.Response) -> None:
    """503, ``Retry-After: 5`` and an OSB error body."""
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert "unavailable" in response.json()["description"]


async def requests_needing_the_database(client: httpx.AsyncClient, instance_id: str) -> list[httpx.Response]:
    """A provisioning, a fetch, a poll, an update, a bind and a deprovisioning of one instance."""
    path = instance_path(instance_id)
    query = {"service_id": SERVICE, "plan_id": AWS}
    binding = {"service_id": SERVICE, "plan_id": AWS}
    return [
        await client.put(instance_path("during-outage"), headers=OSB, json=provision_body(ga="ga-x")),
        await client.get(path, headers=OSB),
        await client.get(f"{path}/last_operation", headers=OSB),
        await client.patch(
            path, headers=OSB, json={"service_id": SERVICE, "parameters": {"autoScalerMax": 25}}
        ),
        await client.put(f"{path}/service_bindings/b-1", headers=OSB, json=binding),
        await client.delete(path, headers=OSB, params=query),
    ]


@pytest.fixture
async def sqlite_broker(tmp_path: Path) -> AsyncIterator[Broker]:
    """A broker over a SQLite file of its own in ``tmp_path``."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'keb.db'}")
    await migrate(engine)
    try:
        async for broker in make_broker(storage=SqlStorage(engine)):
            yield broker
    finally:
        await engine.dispose()


async def test_an_unopenable_sqlite_file_is_503_and_recovers(sqlite_broker: Broker, tmp_path: Path) -> None:
    """With keb.db unopenable every database route answers 503; put back, the same broker serves again."""
    await sqlite_broker.provisioned("i-1")
    storage = sqlite_broker.services.storage
    assert isinstance(storage, SqlStorage)
    database = tmp_path / "keb.db"
    await storage.dispose()  # close pooled connections (and checkpoint the WAL) as a restart would
    database.rename(tmp_path / "keb.db.away")
    database.mkdir()  # a directory where the file was: SQLite cannot open it

    for response in await requests_needing_the_database(sqlite_broker.client, "i-1"):
        assert_unavailable(response)
    catalog = await sqlite_broker.osb("GET", "/oauth/v2/catalog")
    assert catalog.status_code == 200  # what needs no database still works

    database.rmdir()
    (tmp_path / "keb.db.away").rename(database)
    fetched = await sqlite_broker.osb("GET", instance_path("i-1"))
    assert fetched.status_code == 200, fetched.text
    async with storage() as uow:
        assert await uow.instances.get("during-outage") is None
        assert [op.type.value for op in await uow.operations.list_for_instance("i-1")] == ["provision"]


# --- PostgreSQL stopped and started while operations run -----------------------------------------------


def live_broker_on(url: str, kcp: MemoryControlPlane) -> Services:
    """The composition root's own PostgreSQL storage and a running engine, on the real clock."""
    clock = SystemClock()
    env = {
        "APP_DATABASE_URL": url,
        "APP_OPERATION_POLL_INTERVAL": "50ms",
        "APP_OPERATION_RECOVERY_DELAY": "10m",  # recovery must not wait for leases to expire
    }
    return build_services(
        settings_for_tests(env),
        control_plane=kcp,
        gardener=MemoryGardener(kcp, clock),
        runtime_clusters=MemoryRuntimeClusters(kcp, clock),
        clock=clock,
        run_engine=True,
        idle_poll=0.05,
    )


async def states(services: Services, operation_ids: list[str]) -> list[OperationState]:
    found = []
    async with services.storage() as uow:
        for operation_id in operation_ids:
            operation = await uow.operations.get(operation_id)
            assert operation is not None
            found.append(operation.state)
    return found


async def eventually(check: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds}s")
        await asyncio.sleep(0.05)


@pytest.mark.postgres
async def test_postgresql_stopped_during_provisioning_gives_503s_and_every_operation_finishes_once() -> None:
    """A private PostgreSQL stopped mid-provisioning: 503s while down; after its start, all succeed once."""
    with private_postgres() as cluster:
        kcp_clock = FakeClock()
        kcp = MemoryControlPlane(kcp_clock, ready_after=READY_AFTER)
        services = live_broker_on(cluster.url, kcp)
        await services.start()
        try:
            async with asgi_client(services) as client:
                operations = []
                for n in range(3):
                    body = provision_body(ga=f"ga-{n}", sa=f"sa-{n}")
                    response = await client.put(instance_path(f"i-{n}"), headers=OSB, json=body)
                    assert response.status_code == 202, response.text
                    operations.append(response.json()["operation"])

                async def runtimes_created() -> bool:
                    return len(kcp.runtimes) == 3

                await eventually(runtimes_created)  # each operation now waits for its Runtime CR

                cluster.stop()
                for response in await requests_needing_the_database(client, "i-0"):
                    assert_unavailable(response)
                await asyncio.sleep(0.5)  # the engine meets the outage too, and keeps trying
                kcp_clock.advance(READY_AFTER)  # KIM made the runtimes Ready meanwhile
                cluster.start()

                async def all_succeeded() -> bool:
                    return await states(services, operations) == [OperationState.SUCCEEDED] * 3

                await eventually(all_succeeded)
                assert len(kcp.runtimes) == 3  # one Runtime CR and one Kyma CR each: nothing done twice
                assert len(kcp.kymas) == 3
                polled = await client.get(f"{instance_path('i-0')}/last_operation", headers=OSB)
                assert polled.json()["state"] == "succeeded"
                async with services.storage() as uow:
                    assert await uow.instances.get("during-outage") is None
        finally:
            await services.stop()
