"""A ``/runtimes`` page costs a fixed, small number of SQL statements, however large it is (PostgreSQL).

Counted with SQLAlchemy's ``before_cursor_execute`` event over a database of a few thousand runtimes: a
page of 100 must not read operations or bindings runtime by runtime.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql.inventory import SqlInventory
from keb_domain.model.inventory import RuntimeFilter, RuntimeState
from tests.integration.conftest import PostgresTemplate, postgres_engine
from tests.integration.inventory.loading import HISTORIES, bulk_load, large_fleet

RUNTIMES = 3000
MAX_STATEMENTS = 6  # count, page of ids, instances, operations, archive rows, bindings

pytestmark = pytest.mark.postgres


@pytest.fixture
async def crowded(postgres_template: PostgresTemplate) -> AsyncIterator[AsyncEngine]:
    """PostgreSQL holding 3000 live runtimes (7000 operations), 300 archived ones and 429 bindings."""
    async for engine in postgres_engine(postgres_template):
        await bulk_load(engine, large_fleet(RUNTIMES))
        yield engine


@contextlib.contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements the engine sends while the block runs."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))  # (connection, cursor, statement, parameters, context, executemany)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


QUERIES = {
    "default": (RuntimeFilter(), False),
    "default-with-bindings": (RuntimeFilter(), True),
    "live-and-archive-with-bindings": (
        RuntimeFilter(states=(RuntimeState.SUCCEEDED, RuntimeState.DEPROVISIONED)),
        True,
    ),
    "account-and-states": (
        RuntimeFilter(
            accounts=tuple(f"ga-{n}" for n in range(25)),
            states=(RuntimeState.SUCCEEDED, RuntimeState.ERROR, RuntimeState.PROVISIONING),
        ),
        True,
    ),
}


@pytest.mark.parametrize(("query", "bindings"), list(QUERIES.values()), ids=list(QUERIES))
async def test_a_page_costs_the_same_statements_whatever_its_size(
    crowded: AsyncEngine, query: RuntimeFilter, bindings: bool
) -> None:
    """Pages of 10 and 100 runtimes take the same number of statements, at most six; a page of one, which
    holds one kind of row only, takes no more."""
    inventory = SqlInventory(crowded)
    await inventory.runtimes(query, offset=0, limit=1, bindings=bindings)  # the connection is set up
    counts: dict[int, int] = {}
    for size in (1, 10, 100):
        with counting(crowded) as statements:
            page = await inventory.runtimes(query, offset=size * 5, limit=size, bindings=bindings)
        assert len(page.records) == size  # a full page: every record's operations were read
        assert all(record.operations for record in page.records if record.instance is not None)
        counts[size] = len(statements)
    assert counts[1] <= counts[10] == counts[100], counts
    assert counts[100] <= MAX_STATEMENTS, counts


async def test_a_large_page_reads_everything_it_shows(crowded: AsyncEngine) -> None:
    """The batch reads lose nothing: a page of 100 holds each runtime's operations and bindings."""
    page = await SqlInventory(crowded).runtimes(RuntimeFilter(), offset=700, limit=100, bindings=True)
    assert [r.instance_id for r in page.records] == [f"i-{n:02d}" for n in range(700, 800)]
    assert [len(r.operations) for r in page.records] == [
        len(HISTORIES[n % len(HISTORIES)]) for n in range(700, 800)
    ]
    assert [bool(r.bindings) for r in page.records] == [n % 7 == 0 for n in range(700, 800)]
    assert page.total == RUNTIMES
