"""An in-process broker behind an ASGI client, driven by a fake clock.

The app runs on the test's own event loop (``httpx.ASGITransport``), so SQL storage, whose connections
belong to one loop, can stand behind it as well as memory storage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import sqlalchemy as sa

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.sql import tables
from keb_adapters.sql.storage import SqlStorage
from keb_app.app import create_app
from keb_app.bootstrap import Services, Storage, build_services
from keb_domain.ports import MachineVolumeSizes, SeedRegions
from tests.integration.conftest import PostgresTemplate, postgres_engine, sqlite_engine
from tests.support import AWS, OSB, SERVICE, FakeClock, SequentialIds, provision_body, settings_for_tests


def instance_path(instance_id: str, region: str | None = None) -> str:
    """The OSB path of an instance, with or without a platform region."""
    prefix = f"/oauth/{region}/v2" if region else "/oauth/v2"
    return f"{prefix}/service_instances/{instance_id}"


@attrs.define(repr=False)
class Broker:
    """The app plus handles on what stands behind it."""

    client: httpx.AsyncClient
    services: Services
    clock: FakeClock
    kcp: MemoryControlPlane

    def __repr__(self) -> str:  # Hypothesis prints fixtures of failing examples; keep it to one line
        return f"Broker(storage={type(self.services.storage).__name__}, now={self.clock.now().isoformat()})"

    async def settle(self, rounds: int = 200) -> None:
        """Run the workers, moving the clock to each next due time, until no operation is unfinished."""
        for _ in range(rounds):
            due = await self.services.storage.next_due_at()
            if due is None:
                return
            if due > self.clock.now():
                self.clock.current = due
            await self.services.engine.run_once()
        raise AssertionError("operations did not settle")

    async def step(self) -> None:
        """Run the workers once without moving the clock: due operations advance until they wait."""
        await self.services.engine.run_once()

    async def osb(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**OSB, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def provision(
        self, instance_id: str, body: dict[str, Any] | None = None, region: str | None = None
    ) -> str:
        """PUT an instance (the default aws body unless given); returns the operation id."""
        response = await self.osb(
            "PUT", instance_path(instance_id, region), json=body if body is not None else provision_body()
        )
        assert response.status_code == 202, response.text
        return str(response.json()["operation"])

    async def provisioned(
        self, instance_id: str, body: dict[str, Any] | None = None, region: str | None = None
    ) -> str:
        """Provision and run the workers until it succeeded; returns the provisioning operation id."""
        operation = await self.provision(instance_id, body, region)
        await self.settle()
        state = await self.last_operation(instance_id, operation)
        assert state == "succeeded", state
        return operation

    async def deprovision(self, instance_id: str, plan_id: str = AWS) -> httpx.Response:
        return await self.osb(
            "DELETE", instance_path(instance_id), params={"service_id": SERVICE, "plan_id": plan_id}
        )

    async def patch(
        self, instance_id: str, body: dict[str, Any], *, asynchronous: bool = True
    ) -> httpx.Response:
        params = {"accepts_incomplete": "true"} if asynchronous else {}
        return await self.osb("PATCH", instance_path(instance_id), params=params, json=body)

    async def last_operation(self, instance_id: str, operation: str | None = None) -> str:
        """The OSB state of an operation (or of the instance's latest one)."""
        params = {"operation": operation} if operation else {}
        response = await self.osb("GET", f"{instance_path(instance_id)}/last_operation", params=params)
        assert response.status_code == 200, response.text
        return str(response.json()["state"])


async def make_broker(
    env: dict[str, str] | None = None,
    ready_after: float = 3.0,
    *,
    storage: Storage | None = None,
    kcp: MemoryControlPlane | None = None,
    clock: FakeClock | None = None,
    seed_regions: SeedRegions | None = None,
    volume_sizes: MachineVolumeSizes | None = None,
) -> AsyncIterator[Broker]:
    """A broker over memory storage (or the given storage), with workers that run only when told to."""
    clock = clock or FakeClock()
    kcp = kcp or MemoryControlPlane(clock, ready_after=ready_after, deletion_delay=2.0)
    services = build_services(
        settings_for_tests(env),
        storage=storage or MemoryStorage(),
        control_plane=kcp,
        clock=clock,
        ids=SequentialIds(),
        run_engine=False,
        seed_regions=seed_regions,
        volume_sizes=volume_sizes,
    )
    await services.start()
    try:
        async with asgi_client(services) as client:
            yield Broker(client, services, clock, kcp)
    finally:
        await services.stop()


def asgi_client(services: Services) -> httpx.AsyncClient:
    """An HTTP client for the app around ``services``, on the caller's event loop (no lifespan)."""
    app = create_app(services, manage_services=False)
    # Litestar's precise ASGI callable types are narrower than the loose ones httpx declares.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://keb.test")


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    async for value in make_broker():
        yield value


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def any_broker(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_template: PostgresTemplate,
) -> AsyncIterator[Broker]:
    """A broker on memory storage, on SQLite and on PostgreSQL."""
    if request.param == "memory":
        async for broker in make_broker():
            yield broker
        return
    engines = (
        sqlite_engine(sqlite_template, tmp_path)
        if request.param == "sqlite"
        else postgres_engine(postgres_template)
    )
    async for engine in engines:
        async for broker in make_broker(storage=SqlStorage(engine)):
            yield broker


async def dump(storage: object) -> list[object]:
    """Everything the storage holds, in a form two calls can compare: every row of every table."""
    if isinstance(storage, MemoryStorage):
        leases = sorted((key, lease.owner, lease.until) for key, lease in storage.leases.items())
        return [
            dict(storage.instances),
            dict(storage.operations),
            dict(storage.archive),
            list(storage.events),
            dict(storage.bindings),
            leases,
        ]
    assert isinstance(storage, SqlStorage), storage
    rows: list[object] = []
    async with storage.engine.connect() as connection:
        for table in tables.metadata.sorted_tables:
            result = await connection.execute(sa.select(table))
            rows.append((table.name, sorted(map(repr, result.all()))))
    return rows
