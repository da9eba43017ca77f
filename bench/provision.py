"""Engine throughput: trial provisions end to end on the local landscape, one broker process against two.

Run by hand; it is not part of the test suite (a smoke run is)::

    .venv/bin/python bench/provision.py [--count 1000] [--database sqlite|postgres|both]

For each database and each process count, ``keb serve`` starts on a fresh data directory (and, for
PostgreSQL, a fresh database next to ``--database-url``, dropped at the end) with ``APP_AUTH_MODE=none`` and
the local landscape turning each Runtime Ready at once (``APP_LOCAL_LANDSCAPE_READY_AFTER=0s``); the other
settings are the broker's defaults. ``--count`` trial provisionings (one global account each, so the
one-trial-per-account rule lets them all through) are sent with ``--concurrency`` requests in flight, and
the clock stops when the inventory (``GET /runtimes``, one request a second) counts them all succeeded.

Two processes need ``APP_HTTP_WORKERS``; a broker without that setting runs one process only, and the
script says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from pathlib import Path

import attrs
import httpx

import benchkit as kit


@attrs.frozen
class Result:
    database: str
    processes: int
    accepted_s: float
    total_s: float
    count: int
    succeeded: int

    @property
    def rate(self) -> float:
        return self.succeeded / self.total_s


async def count_trials(client: httpx.AsyncClient, state: str) -> int:
    response = await client.get("/runtimes", params={"plan": "trial", "state": state, "page_size": "1"})
    response.raise_for_status()
    return int(response.json()["totalCount"])


async def provision_trials(url: str, count: int, concurrency: int, limit: float) -> tuple[float, float, int]:
    """Seconds until every PUT was accepted and until all succeeded (or ``limit``); how many succeeded."""
    run = uuid.uuid4().hex[:8]
    ids = [f"trial-{run}-{n}" for n in range(count)]
    async with httpx.AsyncClient(base_url=url, headers=kit.OSB_HEADERS, timeout=120) as client:
        began = time.perf_counter()
        await kit.provision_many(client, ids, kit.TRIAL_PLAN, region=None, concurrency=concurrency)
        accepted = time.perf_counter() - began
        while True:
            succeeded = await count_trials(client, "succeeded")
            elapsed = time.perf_counter() - began
            if succeeded >= count or elapsed > limit:
                return accepted, elapsed, succeeded
            failed = await count_trials(client, "failed")
            if failed:
                raise RuntimeError(f"{failed} trial provisionings failed")
            await asyncio.sleep(1.0)


def one_run(arguments: argparse.Namespace, work: Path, database: str, processes: int) -> Result:
    data = work / f"{database}-{processes}"
    url: str | None = None
    name = ""
    if database == "postgres":
        name, url = asyncio.run(kit.create_database(arguments.database_url))
    broker: kit.Server | None = None
    try:
        broker = kit.start_broker(
            f"broker-{database}-{processes}", data, work, auth="none", workers=processes, database_url=url
        )
        accepted, total, succeeded = asyncio.run(
            provision_trials(broker.url, arguments.count, arguments.concurrency, arguments.limit)
        )
    finally:
        if broker:
            broker.stop()
        if name:
            asyncio.run(kit.drop_database(arguments.database_url, name))
    result = Result(database, processes, accepted, total, arguments.count, succeeded)
    unfinished = f"  (only {succeeded} succeeded within --limit)" if succeeded < arguments.count else ""
    print(
        f"{database:9} {processes:9d} {result.accepted_s:11.1f} {result.total_s:9.1f} {result.rate:12.1f}"
        + unfinished,
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000, help="trial provisions per run (default 1000)")
    parser.add_argument("--concurrency", type=int, default=32, help="PUTs in flight (default 32)")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--database-url", default=kit.DEFAULT_POSTGRES, help="a PostgreSQL URL to create a database next to"
    )
    parser.add_argument(
        "--limit",
        type=float,
        default=900.0,
        help="stop waiting after this many seconds and report how many succeeded (default 900)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny and quick: checks the script, not the broker"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.count, arguments.concurrency, arguments.limit = 5, 4, 120.0
    print(f"machine: {kit.machine()}")
    has_setting = kit.http_workers_setting()
    counts = (1, 2) if has_setting else (1,)
    if not has_setting:
        print("this broker has no APP_HTTP_WORKERS yet: one process only, no comparison with two")
    databases = ("sqlite", "postgres") if arguments.database == "both" else (arguments.database,)
    print(f"{arguments.count} trial provisions end to end, {arguments.concurrency} PUTs in flight")
    print(f"{'database':9} {'processes':>9} {'accepted s':>11} {'total s':>9} {'provisions/s':>12}")
    results: list[Result] = []
    with kit.workspace(arguments.keep) as work:
        for database in databases:
            for processes in counts:
                results.append(one_run(arguments, work, database, processes))
    print(f"\ngoal: {arguments.count} provisions in under 60 s; two processes faster than one")
    for database in databases:
        runs = {r.processes: r for r in results if r.database == database}
        one = runs[1]
        verdict = "pass" if one.total_s < 60 and one.succeeded == one.count else "MISS"
        done = "" if one.succeeded == one.count else f", only {one.succeeded} of {one.count} succeeded"
        line = f"{database}: one process {one.total_s:.1f} s{done} ({verdict} < 60 s)"
        if 2 in runs:
            ratio = runs[2].rate / one.rate
            two = "pass" if ratio > 1 else "MISS"
            line += f"; two processes {runs[2].total_s:.1f} s, {ratio:.2f}x the rate of one ({two})"
        print(line)
    print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
