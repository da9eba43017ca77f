"""Several HTTP worker processes, each with its own engine, on one database: every operation runs once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from kubernetes import client, config

from keb_adapters.sql.database import create_engine, current_revision, head_revision, migrate
from tests.integration.conftest import POSTGRES_URL, postgres_problem, run_apart
from tests.integration.serving.support import running_broker
from tests.support import OSB, provision_body

INSTANCES = 12
FAST = {
    "APP_HTTP_WORKERS": "2",
    "APP_LOCAL_LANDSCAPE_READY_AFTER": "200ms",
    "APP_OPERATION_POLL_INTERVAL": "100ms",
}


@pytest.fixture
def private_postgres() -> Iterator[str]:
    """A database of its own on the test PostgreSQL server, dropped afterwards."""
    problem = run_apart(postgres_problem())
    if problem is not None:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem})")
    name = f"keb_serve_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    run_apart(run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        run_apart(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def provision_all_and_wait(port: int) -> dict[str, str]:
    """Provision INSTANCES runtimes over HTTP and poll until none is in progress; state per instance."""
    states: dict[str, str] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=OSB, timeout=30) as http:
        for number in range(INSTANCES):
            body = provision_body(sa=f"sa-{number}")
            response = http.put(f"/oauth/v2/service_instances/inst-{number}", json=body)
            assert response.status_code == 202, response.text
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for number in range(INSTANCES):
                response = http.get(f"/oauth/v2/service_instances/inst-{number}/last_operation")
                assert response.status_code == 200, response.text
                states[f"inst-{number}"] = response.json()["state"]
            if "in progress" not in states.values():
                break
            time.sleep(0.2)
    return states


def runtime_count(data_dir: Path) -> int:
    """Runtime CRs in the landscape's KCP: one per instance when nothing ran twice."""
    api = config.new_client_from_config(str(data_dir / "landscape" / "kubeconfigs" / "kcp.yaml"))
    try:
        listed = client.CustomObjectsApi(api).list_namespaced_custom_object(
            "infrastructuremanager.kyma-project.io", "v1", "kcp-system", "runtimes"
        )
    finally:
        api.close()
    return len(listed["items"])


def test_two_workers_on_sqlite_provision_every_runtime_once(tmp_path: Path) -> None:
    """Two HTTP workers share the SQLite file: every provisioning succeeds, with one Runtime CR each."""
    data_dir = tmp_path / "keb"
    with running_broker(data_dir, FAST) as broker:
        states = provision_all_and_wait(broker.port)
        assert runtime_count(data_dir) == INSTANCES
    assert set(states.values()) == {"succeeded"}, states
    assert "HTTP worker processes" in broker.log_text()


def test_two_workers_on_postgresql_provision_every_runtime_once(
    tmp_path: Path, private_postgres: str
) -> None:
    """Two HTTP workers share PostgreSQL (migrated once, before them): one Runtime CR per instance."""
    data_dir = tmp_path / "keb"
    with running_broker(data_dir, {**FAST, "APP_DATABASE_URL": private_postgres}) as broker:
        states = provision_all_and_wait(broker.port)
        assert runtime_count(data_dir) == INSTANCES
    assert set(states.values()) == {"succeeded"}, states
    # Alembic's own lines stay below WARNING (keb_app.logs.PAYLOAD_LOGGERS); keb says when it migrated.
    assert broker.log_text().count("database schema migrated from an empty database") == 1


def test_replicas_starting_together_migrate_postgresql_once(private_postgres: str) -> None:
    """Three migrations at once on an empty database (the advisory lock): all succeed, one schema results."""

    async def together() -> list[str | None]:
        engines = [create_engine(private_postgres) for _ in range(3)]
        try:
            await asyncio.gather(*(migrate(engine) for engine in engines))
            async with engines[0].connect() as connection:
                return [await current_revision(connection)]
        finally:
            for engine in engines:
                await engine.dispose()

    assert run_apart(together()) == [head_revision()]
