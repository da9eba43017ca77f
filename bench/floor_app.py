"""The floor: a bare Litestar app on the broker's server setup, answering the broker's own bytes from memory.

Started by ``bench/http_bench.py``::

    python bench/floor_app.py --port 8181 --workers 1 --responses responses.json [--select-url URL]

``responses.json`` holds what the broker answered, captured just before: for each ``GET`` path its status,
headers and body, and one accepted provisioning ``PUT``. The floor answers every ``GET`` with the bytes
the broker gave for that path and every ``PUT`` with the captured ``202``, after reading the request body.
With ``--select-url`` (PostgreSQL) each ``GET`` first runs one primary-key ``SELECT`` of the instance
named in the path through SQLAlchemy and asyncpg, the driver the broker uses: the floor of a read that
needs exactly one query.

The server is uvicorn with the options ``keb serve`` gives it today (``loop`` and ``http`` on ``auto``:
uvloop and httptools when installed) and ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import uvicorn
from litestar import Litestar, Request, get, put
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

RESPONSES_ENV = "KEB_BENCH_FLOOR_RESPONSES"
SELECT_ENV = "KEB_BENCH_FLOOR_SELECT_URL"

Captured = tuple[int, str, dict[str, str], bytes]  # status, content type, other headers, body


def _load(path: str) -> tuple[dict[str, Captured], Captured | None]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))

    def one(entry: dict[str, Any]) -> Captured:
        headers = dict(entry["headers"])
        media_type = headers.pop("content-type", "application/json")
        return int(entry["status"]), media_type, headers, base64.b64decode(entry["body"])

    gets = {path: one(entry) for path, entry in raw["get"].items()}
    return gets, one(raw["put"]) if raw.get("put") else None


GETS, PUT = _load(os.environ[RESPONSES_ENV]) if RESPONSES_ENV in os.environ else ({}, None)
SELECT_URL = os.environ.get(SELECT_ENV, "")
INSTANCES = sa.table("instances", sa.column("instance_id"))
ENGINE: list[AsyncEngine] = []


def _answer(captured: Captured) -> Response[bytes]:
    status, media_type, headers, body = captured
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _instance_id(path: str) -> str:
    # /oauth[/{region}]/v2/service_instances/{instance_id}[/...]
    parts = path.split("/")
    return parts[parts.index("service_instances") + 1]


@get("/healthz", sync_to_thread=False)
def healthz() -> Response[bytes]:
    return Response(b'{"status":"ok"}', media_type="application/json")


@get("/{path:path}")
async def read(request: Request[Any, Any, Any], path: str) -> Response[bytes]:
    captured = GETS.get(request.url.path)
    if captured is None:
        return Response(b'{"error":"NotCaptured"}', status_code=404, media_type="application/json")
    if ENGINE:
        async with ENGINE[0].connect() as connection:
            selected = sa.select(INSTANCES.c.instance_id).where(
                INSTANCES.c.instance_id == _instance_id(request.url.path)
            )
            await connection.execute(selected)
    return _answer(captured)


@put("/{path:path}")
async def provision(request: Request[Any, Any, Any], path: str) -> Response[bytes]:
    await request.body()
    if PUT is None:
        return Response(b'{"error":"NotCaptured"}', status_code=404, media_type="application/json")
    return _answer(PUT)


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncGenerator[None, None]:
    if SELECT_URL:
        # Autocommit: the SELECT is the one round trip (no BEGIN/ROLLBACK around it); a pool as large as
        # wrk's connections, so no request waits for a connection or opens one.
        ENGINE.append(
            create_async_engine(SELECT_URL, isolation_level="AUTOCOMMIT", pool_size=32, max_overflow=0)
        )
    try:
        yield
    finally:
        for engine in ENGINE:
            await engine.dispose()


app = Litestar([healthz, read, provision], lifespan=[lifespan], openapi_config=None)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--responses", required=True, help="the broker's captured answers (JSON)")
    parser.add_argument("--select-url", default="", help="run one primary-key SELECT per GET there")
    arguments = parser.parse_args()
    os.environ[RESPONSES_ENV] = arguments.responses
    if arguments.select_url:
        os.environ[SELECT_ENV] = arguments.select_url
    uvicorn.run(
        "floor_app:app",
        app_dir=str(Path(__file__).resolve().parent),
        host="127.0.0.1",
        port=arguments.port,
        workers=arguments.workers,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
