"""The polled endpoints over SQL: one statement per request, and no ping before it.

Platforms poll ``last_operation`` and fetch instances and bindings all the time, so each is one indexed
query; a pooled connection that the server dropped is replaced when that query finds it dead.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql import tables
from keb_adapters.sql.database import create_engine
from keb_adapters.sql.storage import SqlStorage
from tests.integration.conftest import POSTGRES_URL, PostgresTemplate
from tests.integration.http.conftest import Broker, instance_path, make_broker
from tests.support import AWS, SERVICE


@contextmanager
def statements(storage: SqlStorage) -> Iterator[list[str]]:
    """The SQL statements the storage sends while the block runs, on its engine and, for a SQLite file, on
    the synchronous engine of its single-query reads."""
    sent: list[str] = []
    engines = [storage.engine.sync_engine]
    if storage.sqlite_reads is not None:
        engines.append(storage.sqlite_reads)

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", record)


async def sql_broker(storage: SqlStorage) -> AsyncIterator[Broker]:
    async for broker in make_broker(storage=storage):
        yield broker


async def bound(broker: Broker) -> str:
    """Provision ``inst-1`` to success and bind ``b1``; returns the binding's path."""
    await broker.provisioned("inst-1")
    path = f"{instance_path('inst-1')}/service_bindings/b1"
    response = await broker.osb("PUT", path, json={"service_id": SERVICE, "plan_id": AWS})
    assert response.status_code == 201, response.text
    return path


async def test_polled_endpoints_send_one_statement_each(sql_engine: AsyncEngine) -> None:
    """last_operation, GET instance, GET binding and binding last_operation each send one SQL statement."""
    storage = SqlStorage(sql_engine)
    async for broker in sql_broker(storage):
        binding = await bound(broker)
        paths = {
            "last_operation": f"{instance_path('inst-1')}/last_operation",
            "instance": instance_path("inst-1"),
            "binding": binding,
            "binding last_operation": f"{binding}/last_operation",
        }
        for name, path in paths.items():
            with statements(storage) as sent:
                response = await broker.osb("GET", path)
            assert response.status_code == 200, (name, response.text)
            assert len(sent) == 1, (name, sent)


async def test_an_unknown_instance_costs_one_statement_too(sql_engine: AsyncEngine) -> None:
    """Polling an instance that never existed is one statement and a 404."""
    storage = SqlStorage(sql_engine)
    async for broker in sql_broker(storage):
        with statements(storage) as sent:
            response = await broker.osb("GET", f"{instance_path('nobody')}/last_operation")
        assert response.status_code == 404
        assert len(sent) == 1, sent


@pytest.fixture
async def named_postgres(postgres_template: PostgresTemplate) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """An engine on the session's schema whose connections carry an application name of their own, so
    that a test can terminate exactly them."""
    schema = postgres_template.require()
    name = f"keb-test-{uuid.uuid4().hex[:12]}"
    engine = create_engine(
        POSTGRES_URL, connect_args={"server_settings": {"search_path": schema, "application_name": name}}
    )
    try:
        names = ", ".join(f'"{table.name}"' for table in tables.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        yield engine, name
    finally:
        await engine.dispose()


async def terminate(application_name: str) -> int:
    """Terminate the server backends of this application name only; returns how many there were."""
    admin = create_engine(POSTGRES_URL)
    try:
        async with admin.connect() as connection:
            result = await connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name = :name"
                ),
                {"name": application_name},
            )
            return int(result.scalar_one())
    finally:
        await admin.dispose()


@pytest.mark.postgres
async def test_the_broker_recovers_after_its_connections_were_killed(
    named_postgres: tuple[AsyncEngine, str],
) -> None:
    """After the server terminated every pooled connection, reads and writes succeed at the first try."""
    engine, name = named_postgres
    async for broker in sql_broker(SqlStorage(engine)):
        binding = await bound(broker)
        assert await terminate(name) >= 1
        assert await broker.last_operation("inst-1") == "succeeded"
        assert (await broker.osb("GET", instance_path("inst-1"))).status_code == 200
        assert await terminate(name) >= 1
        assert (await broker.osb("GET", binding)).status_code == 200
        assert await terminate(name) >= 1
        await broker.provision("inst-2")  # a unit of work whose first statement finds its connection dead
        assert await broker.last_operation("inst-2") == "in progress"
