"""``/info/runtimes`` over SQL storage: one streamed query, and a response sent item by item.

The inventory reads from a server-side cursor (``stream_results``), so the broker never holds every
instance at once; the HTTP response is a Litestar ``Stream`` whose ASGI body arrives in pieces.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.sql.inventory import SqlInventory
from keb_adapters.sql.storage import SqlStorage
from keb_app.app import create_app
from tests.integration.http.conftest import Broker, make_broker
from tests.integration.inventory.loading import bulk_load, large_fleet

RUNTIMES = 1200  # more than one fetch of the cursor (500 rows)


@pytest.fixture
async def loaded(sql_engine: AsyncEngine) -> AsyncEngine:
    """SQLite or PostgreSQL holding 1200 runtimes, 120 archived ones and bindings."""
    await bulk_load(sql_engine, large_fleet(RUNTIMES))
    return sql_engine


@pytest.fixture
async def sql_broker(loaded: AsyncEngine) -> AsyncIterator[Broker]:
    async for broker in make_broker(storage=SqlStorage(loaded)):
        yield broker


async def test_the_stream_is_one_query_on_a_server_side_cursor(loaded: AsyncEngine) -> None:
    """All 1200 items come from a single statement executed with ``stream_results``."""
    executed: list[dict[str, Any]] = []

    def record(*args: Any) -> None:  # connection, cursor, statement, parameters, context, executemany
        executed.append(dict(args[4].execution_options))

    event.listen(loaded.sync_engine, "before_cursor_execute", record)
    try:
        items = [item async for item in SqlInventory(loaded).info_runtimes()]
    finally:
        event.remove(loaded.sync_engine, "before_cursor_execute", record)
    assert len(items) == RUNTIMES
    assert len(executed) == 1
    assert executed[0].get("stream_results") is True


async def test_the_stream_holds_its_cursor_until_closed(loaded: AsyncEngine) -> None:
    """After the first item the connection is still out, reading; closing the stream gives it back."""
    pool = loaded.pool
    assert isinstance(pool, QueuePool)
    stream = SqlInventory(loaded).info_runtimes()
    first = await anext(stream)
    assert (first.instance.instance_id, pool.checkedout()) == ("i-00", 1)
    await stream.aclose()  # type: ignore[attr-defined]  # an async generator, declared as an AsyncIterator
    assert pool.checkedout() == 0


async def test_info_runtimes_over_sql_lists_every_runtime_in_order(sql_broker: Broker) -> None:
    """GET /info/runtimes over SQL: a JSON array of all 1200 live runtimes, oldest first."""
    response = await sql_broker.client.get("/info/runtimes")
    assert response.status_code == 200
    items = response.json()
    assert [item["serviceInstanceId"] for item in items] == [f"i-{n:02d}" for n in range(RUNTIMES)]


async def test_info_runtimes_over_sql_equals_over_memory(sql_broker: Broker) -> None:
    """The SQL-backed body is exactly the memory-backed body for the same runtimes."""
    memory = MemoryStorage()
    await large_fleet(RUNTIMES).store(memory)
    async for memory_broker in make_broker(storage=memory):
        expected = (await memory_broker.client.get("/info/runtimes")).json()
        assert (await sql_broker.client.get("/info/runtimes")).json() == expected


async def body_events(broker: Broker, path: str) -> list[dict[str, Any]]:
    """Drive the ASGI app by hand and keep every ``http.response.body`` event it sends."""
    app = create_app(broker.services, manage_services=False)
    events: list[dict[str, Any]] = []
    finished = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            events.append(message)
            if not message.get("more_body", False):
                finished.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"keb.test")],
        "client": ("127.0.0.1", 50000),
        "server": ("keb.test", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]  # plain dicts for Litestar's typed events
    return events


async def test_the_response_body_is_sent_item_by_item(sql_broker: Broker) -> None:
    """The body leaves as ``[``, one event per runtime, ``]`` and the end: never as one buffer."""
    events = await body_events(sql_broker, "/info/runtimes")
    assert len(events) == RUNTIMES + 3
    assert [e["body"] for e in (events[0], events[-2], events[-1])] == [b"[", b"]", b""]
    assert all(e["more_body"] for e in events[:-1])
    assert events[1]["body"].startswith(b'{"runtimeId":"rt-0"')
    assert events[2]["body"].startswith(b',{"runtimeId":"rt-1"')
