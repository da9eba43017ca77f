"""Fixtures for tests against real adapters: SQLite, the machine's PostgreSQL, the HTTP app.

Every test gets an empty, migrated database. Migrating costs a tenth of a second or more, so it happens
once per session into a template (a SQLite file that each test copies, a PostgreSQL schema whose tables
each test empties first) rather than once per test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql import tables
from keb_adapters.sql.database import create_engine, migrate

POSTGRES_URL = os.environ.get("KEB_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
T = TypeVar("T")


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a thread of its own, away from the tests' event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def postgres_problem() -> str | None:
    """None when PostgreSQL answers; otherwise why not."""
    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        connection = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


@attrs.frozen
class PostgresTemplate:
    """A migrated schema for the session, or why PostgreSQL cannot be used."""

    schema: str | None
    problem: str | None = None

    def require(self) -> str:
        """The schema; skips the test when PostgreSQL is unreachable, or fails it under CI=true."""
        if self.schema is None:
            message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({self.problem})"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        return self.schema


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    """A schema of the test PostgreSQL, migrated once for the session and dropped at its end."""
    problem = run_apart(postgres_problem())
    if problem is not None:
        yield PostgresTemplate(None, problem)
        return
    schema = f"keb_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        admin = create_engine(POSTGRES_URL)
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
        engine = create_engine(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    async def drop() -> None:
        admin = create_engine(POSTGRES_URL)
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()

    run_apart(create())
    try:
        yield PostgresTemplate(schema)
    finally:
        run_apart(drop())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once for the session; tests work on copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "keb.db"

    async def create() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    run_apart(create())
    return path


async def postgres_engine(template: PostgresTemplate) -> AsyncIterator[AsyncEngine]:
    """An engine on the session's migrated schema, its tables emptied."""
    schema = template.require()
    engine = create_engine(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        names = ", ".join(f'"{table.name}"' for table in tables.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        yield engine
    finally:
        await engine.dispose()


async def sqlite_engine(template: Path, directory: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh copy of the migrated SQLite template, as ``directory/keb.db``."""
    shutil.copyfile(template, directory / "keb.db")
    engine = create_engine(f"sqlite+aiosqlite:///{directory / 'keb.db'}")
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def sql_engine(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_template: PostgresTemplate,
) -> AsyncIterator[AsyncEngine]:
    """An empty migrated database, once on SQLite and once on PostgreSQL."""
    engines = (
        sqlite_engine(sqlite_template, tmp_path)
        if request.param == "sqlite"
        else postgres_engine(postgres_template)
    )
    async for engine in engines:
        yield engine
