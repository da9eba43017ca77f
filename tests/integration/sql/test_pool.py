"""The engine's pool keeps its connections: a steady load reuses them instead of opening new ones."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from keb_adapters.sql.connection import DatabasePool
from keb_adapters.sql.database import create_engine


async def _opened_under_load(path: Path, pool: DatabasePool) -> int:
    engine = create_engine(f"sqlite+aiosqlite:///{path}", pool=pool)
    opened = 0

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _count(_dbapi: Any, _record: Any) -> None:
        nonlocal opened
        opened += 1

    async def read() -> None:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
            await asyncio.sleep(0.001)

    try:
        for _ in range(20):  # twenty waves of eight concurrent reads
            await asyncio.gather(*(read() for _ in range(8)))
    finally:
        await engine.dispose()
    return opened


async def test_idle_connections_are_reused_across_waves_of_reads(tmp_path: Path) -> None:
    """With as many idle connections as concurrent reads, 160 reads open 8 connections, not 160."""
    assert await _opened_under_load(tmp_path / "a.db", DatabasePool(max_open=8, max_idle=8)) == 8


async def test_connections_beyond_the_idle_count_are_closed_and_reopened(tmp_path: Path) -> None:
    """KEB's default shape (8 open, 2 idle): each wave reopens what it cannot keep (the churn avoided)."""
    assert await _opened_under_load(tmp_path / "b.db", DatabasePool(max_open=8, max_idle=2)) > 8 * 5
