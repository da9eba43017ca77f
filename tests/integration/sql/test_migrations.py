"""Migrations: idempotent, up to the newest revision, and ``keb migrate`` creates the schema."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql.database import create_engine, current_revision, head_revision, migrate
from keb_adapters.sql.storage import SqlStorage
from tests.builders import instance
from tests.integration.conftest import POSTGRES_URL, postgres_problem

TABLES = {"instances", "operations", "instances_archived", "events"}
KEB = Path(sys.executable).parent / "keb"


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))


async def revision_of(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await current_revision(connection)


async def test_a_migrated_database_is_at_the_newest_revision(sql_engine: AsyncEngine) -> None:
    """After migrate the database carries the head revision and the broker's tables."""
    assert await revision_of(sql_engine) == head_revision()
    assert await table_names(sql_engine) >= TABLES


async def test_migrating_again_changes_nothing(sql_engine: AsyncEngine) -> None:
    """migrate on an up-to-date database is a no-op that keeps the data."""
    async with SqlStorage(sql_engine)() as uow:
        await uow.instances.add(instance())
        await uow.commit()
    await migrate(sql_engine)
    await migrate(sql_engine)
    assert await revision_of(sql_engine) == head_revision()
    async with SqlStorage(sql_engine)() as uow:
        assert await uow.instances.get("inst-1") is not None


@attrs.frozen
class Finished:
    returncode: int
    stderr: str


async def run_keb(*args: str, env: dict[str, str]) -> Finished:
    """The keb command line as a subprocess, with only the given APP_* settings."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("APP_")}
    process = await asyncio.create_subprocess_exec(
        str(KEB), *args, env={**base, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return Finished(process.returncode, stderr.decode())


async def test_keb_migrate_creates_the_sqlite_schema_in_the_data_dir(tmp_path: Path) -> None:
    """`keb migrate` with APP_DATA_DIR creates keb.db there, at the head revision."""
    data_dir = tmp_path / "data"
    result = await run_keb("migrate", env={"APP_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'keb.db'}")
    try:
        assert await table_names(engine) >= TABLES
        assert await revision_of(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_keb_migrate_reports_a_bad_setting(tmp_path: Path) -> None:
    """A bad configuration stops `keb migrate` with a message naming the variable."""
    result = await run_keb(
        "migrate", env={"APP_DATA_DIR": str(tmp_path), "APP_OPERATION_RECOVERY_DELAY": "soon"}
    )
    assert result.returncode != 0
    assert "APP_OPERATION_RECOVERY_DELAY" in result.stderr


@pytest.fixture
async def fresh_postgres_database() -> AsyncIterator[str]:
    """The URL (postgresql://, as operators write it) of a new, empty PostgreSQL database."""
    problem = await postgres_problem()
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    name = f"keb_cli_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


@pytest.mark.postgres
async def test_keb_migrate_creates_the_postgresql_schema(fresh_postgres_database: str) -> None:
    """`keb migrate` with APP_DATABASE_URL=postgresql://... creates the tables in that database."""
    result = await run_keb("migrate", env={"APP_DATABASE_URL": fresh_postgres_database})
    assert result.returncode == 0, result.stderr
    engine = create_engine(fresh_postgres_database.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        assert await table_names(engine) >= TABLES
        assert await revision_of(engine) == head_revision()
    finally:
        await engine.dispose()
