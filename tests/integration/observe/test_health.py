"""``/healthz`` (alive) and ``/readyz`` (database reachable at the newest schema, engine running)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.sql.database import create_engine
from keb_adapters.sql.storage import SqlStorage
from keb_app.app import create_status_app
from keb_app.bootstrap import Services, build_services
from tests.integration.http.conftest import asgi_client
from tests.support import FakeClock, SequentialIds, settings_for_tests

UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"  # port 9 (discard): nothing listens


def services_over(engine: AsyncEngine, *, run_engine: bool = False) -> Services:
    clock = FakeClock()
    return build_services(
        settings_for_tests(),
        storage=SqlStorage(engine),
        control_plane=MemoryControlPlane(clock),
        clock=clock,
        ids=SequentialIds(),
        run_engine=run_engine,
    )


def clients(services: Services) -> list[httpx.AsyncClient]:
    """The main app and the status port's app, both around ``services``."""
    status = httpx.ASGITransport(app=create_status_app(services))  # type: ignore[arg-type]
    return [asgi_client(services), httpx.AsyncClient(transport=status, base_url="http://status.test")]


@pytest.fixture
async def unreachable() -> AsyncIterator[AsyncEngine]:
    engine = create_engine(UNREACHABLE)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_ready_when_the_database_is_migrated(sql_engine: AsyncEngine) -> None:
    """On a migrated database both ports answer 200 ready, and /healthz says ok."""
    services = services_over(sql_engine)
    for client in clients(services):
        async with client:
            ready = await client.get("/readyz")
            assert (ready.status_code, ready.json()["status"]) == (200, "ready")
            assert ready.json()["checks"] == {"database": "ok"}
            assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_not_ready_when_the_database_is_unreachable(unreachable: AsyncEngine) -> None:
    """With PostgreSQL unreachable readiness is 503 naming the database; liveness and metrics still answer."""
    services = services_over(unreachable)
    for client in clients(services):
        async with client:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"].startswith("not reachable")
            assert "database" in ready.json()["description"]
            assert "postgres@" not in ready.text
            assert (await client.get("/healthz")).status_code == 200
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            assert "kcp_keb_v2_operations_provisioning_succeeded_total" in metrics.text
            assert "kcp_keb_v2_instances_total " not in metrics.text  # state metrics need the database


async def test_not_ready_before_the_schema_is_migrated(tmp_path: Path) -> None:
    """An empty database is reachable but not at the newest migration: 503 saying which revision."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        async with asgi_client(services_over(engine)) as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert "schema at revision none" in ready.json()["checks"]["database"]
    finally:
        await engine.dispose()


async def test_not_ready_while_the_engine_is_stopped(sql_engine: AsyncEngine) -> None:
    """A process meant to run operations is ready only while its engine runs."""
    services = services_over(sql_engine, run_engine=True)
    async with asgi_client(services) as client:
        assert (await client.get("/readyz")).json()["checks"]["engine"] != "ok"
        await services.engine.start()
        try:
            ready = await client.get("/readyz")
            assert (ready.status_code, ready.json()["checks"]["engine"]) == (200, "ok")
        finally:
            await services.engine.stop()
        assert (await client.get("/readyz")).status_code == 503


async def test_health_and_metrics_need_no_token_in_local_mode(
    sql_engine: AsyncEngine, tmp_path: Path
) -> None:
    """With token checks on, /healthz, /readyz and /metrics still answer without a token."""
    clock = FakeClock()
    services = build_services(
        settings_for_tests({"APP_AUTH_MODE": "local", "APP_DATA_DIR": str(tmp_path)}),
        storage=SqlStorage(sql_engine),
        control_plane=MemoryControlPlane(clock),
        clock=clock,
        ids=SequentialIds(),
        run_engine=False,
    )
    async with asgi_client(services) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/oauth/v2/catalog")).status_code == 401
