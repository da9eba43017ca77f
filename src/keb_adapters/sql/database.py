"""Engines and migrations: SQLite for the embedded run, PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from keb_adapters.files import private_file
from keb_adapters.sql.connection import DatabasePool, DatabaseTls

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory or URI-style database."""
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_engine(
    url: str,
    *,
    echo: bool = False,
    connect_args: dict[str, Any] | None = None,
    tls: DatabaseTls | None = None,
    pool: DatabasePool | None = None,
) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so a writer waits instead of failing.

    A SQLite file is created owner-only (0600) before SQLite opens it; SQLite gives its ``-wal`` and
    ``-shm`` files the database file's mode, so they are owner-only too.
    """
    in_memory = url.startswith("sqlite") and _sqlite_file(url) is None  # one shared connection
    pool_args = {} if in_memory else (pool or DatabasePool()).engine_args()
    if tls is not None and not url.startswith("sqlite"):
        connect_args = {**tls.connect_args(), **(connect_args or {})}
    if url.startswith("sqlite"):
        if (path := _sqlite_file(url)) is not None:
            private_file(path)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": 30, **(connect_args or {})}, **pool_args
        )

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # No pool_pre_ping (a round trip before every request): SqlStorage replaces a dropped connection
    # when its first statement fails, and SQLAlchemy then discards every older pooled connection.
    return create_async_engine(url, echo=echo, connect_args=connect_args or {}, **pool_args)


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


#: The PostgreSQL advisory lock that serialises migrations of replicas starting together ("keb" in ASCII).
MIGRATION_LOCK = 0x6B6562


async def migrate(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Bring the schema to the newest revision (idempotent; safe on every start); returns the revisions
    before and after.

    On PostgreSQL, replicas that start together take turns: a transaction-scoped advisory lock makes the
    second wait until the first committed, and it then finds the schema up to date.
    """
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        before = await current_revision(connection)
        await connection.run_sync(lambda sync: command.upgrade(_alembic_config(sync), "head"))
        return before, await current_revision(connection)


async def current_revision(connection: AsyncConnection) -> str | None:
    return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


def head_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()
