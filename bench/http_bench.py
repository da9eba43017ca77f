"""The broker's hot HTTP paths against a floor, side by side in one run, with wrk on loopback.

Run by hand; it is not part of the test suite (a smoke run is)::

    .venv/bin/python bench/http_bench.py                       # SQLite, with and without a token
    .venv/bin/python bench/http_bench.py --scenario postgres   # last_operation at 100,000 instances
    .venv/bin/python bench/http_bench.py --scenario all

(The file is not called ``http.py``: run as a script, it would shadow the standard library's ``http``.)

``sqlite``: ``keb serve`` on a fresh data directory with the local landscape (runtimes Ready at once) gets
``--instances`` aws runtimes provisioned to the end and ``--bindings`` bindings. Its answers to every
measured ``GET`` (and one accepted provisioning ``PUT``) are captured, and the floor, a bare Litestar app on
the same uvicorn setup and worker count (``bench/floor_app.py``), answers exactly those bytes from memory.
wrk (one thread, ``--connections`` connections) then runs each request for ``--duration`` seconds, broker
and floor in turn for ``--rounds`` rounds; the figures are the medians. The broker runs with
``APP_AUTH_MODE=none`` and again with ``local`` and a bearer token on every request. ``GET`` requests cycle
through all instances (or bindings); each ``PUT`` provisions a new aws runtime with a unique id.

``postgres``: a fresh database gets ``--pg-instances`` synthetic runtimes with about three operations each
(the loader of ``bench/inventory.py``, nothing in flight), the broker serves it, and ``last_operation`` of
``--pg-sample`` of them is measured against two floors: the bytes floor, and one that runs one primary-key
``SELECT`` through SQLAlchemy and asyncpg before answering. The database is dropped at the end.

Before each run the script waits (at most ``--settle`` seconds) until the broker is idle again: a ``PUT``
round leaves provisioning work to the operation engine, which should not land in the next run's figures.
A row says at how many run starts the broker was still busy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import attrs
import httpx

import benchkit as kit
from inventory import Batch, Landscape, load

SKIPPED_HEADERS = {"date", "server", "content-length", "connection", "transfer-encoding", "keep-alive"}


@attrs.frozen
class Case:
    """One benchmarked request: its name, the paths wrk cycles through, and its goal against the floor."""

    name: str
    paths: tuple[str, ...]
    method: str = "GET"
    min_ratio: float | None = None
    max_p99_factor: float | None = None  # broker p99 at most this times the floor's
    max_p99_ms: float | None = None

    def goal(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f"ratio >= {self.min_ratio:g}")
        if self.max_p99_factor is not None:
            parts.append(f"p99 <= {self.max_p99_factor:g}x floor")
        if self.max_p99_ms is not None:
            parts.append(f"p99 < {self.max_p99_ms:g} ms")
        return ", ".join(parts) or "-"

    def verdict(self, broker: kit.Median, floor: kit.Median) -> str:
        if broker.errors or floor.errors:
            return f"INVALID: {broker.errors + floor.errors} error responses"
        if self.goal() == "-":
            return "-"
        met = True
        if self.min_ratio is not None:
            met &= broker.rps / floor.rps >= self.min_ratio
        if self.max_p99_factor is not None:
            met &= broker.p99_ms <= self.max_p99_factor * floor.p99_ms
        if self.max_p99_ms is not None:
            met &= broker.p99_ms < self.max_p99_ms
        return "pass" if met else "MISS"


@attrs.frozen
class Row:
    case: Case
    auth: str
    broker: kit.Median
    floors: tuple[tuple[str, kit.Median], ...]
    busy: int = 0


PUT_BODY = kit.provision_body(
    kit.AWS_PLAN, name="n@ID@", subaccount="sa-@ID@", account="ga-bench", region="eu-central-1"
)
INSTANCES = kit.INSTANCES


# --- loading through the broker ---------------------------------------------------------------------------


async def load_through_broker(url: str, instances: int, bindings: int) -> tuple[list[str], list[str]]:
    """Provision ``instances`` aws runtimes to the end and bind ``bindings`` of them: ids, binding paths."""
    ids = [f"bench-{uuid.uuid4().hex[:12]}" for _ in range(instances)]
    async with httpx.AsyncClient(base_url=url, headers=kit.OSB_HEADERS, timeout=60) as client:
        # Ten global accounts: the local landscape's aws pool has 20 accounts to claim, one per account.
        await kit.provision_many(
            client, ids, kit.AWS_PLAN, region="eu-central-1", concurrency=16, accounts=10
        )
        await kit.wait_succeeded(client, ids, limit=120 + instances)
        binding_paths: list[str] = []

        async def bind(instance_id: str) -> None:
            path = f"{INSTANCES}{instance_id}/service_bindings/b-{instance_id}"
            response = await client.put(
                path,
                json={"service_id": kit.SERVICE_ID, "plan_id": kit.AWS_PLAN},
            )
            if response.status_code != 201:
                raise RuntimeError(f"bind {instance_id}: {response.status_code} {response.text}")
            binding_paths.append(path)

        await kit.gather_limited((bind(i) for i in ids[:bindings]), 8)
    return ids, sorted(binding_paths)


def capture(
    url: str, paths: Sequence[str], headers: dict[str, str], put_path: str | None
) -> dict[str, object]:
    """The broker's answers, headers and bytes, to every path (and one provisioning PUT)."""

    def entry(response: httpx.Response) -> dict[str, object]:
        kept = {k: v for k, v in response.headers.items() if k.lower() not in SKIPPED_HEADERS}
        return {
            "status": response.status_code,
            "headers": kept,
            "body": base64.b64encode(response.content).decode("ascii"),
        }

    captured: dict[str, object] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        gets: dict[str, object] = {}
        for path in paths:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text}")
            gets[path] = entry(response)
        captured["get"] = gets
        if put_path:
            response = client.put(
                put_path,
                params={"accepts_incomplete": "true"},
                content=PUT_BODY.replace("@ID@", "capture"),
                headers={"Content-Type": "application/json"},
            )
            if response.status_code != 202:
                raise RuntimeError(f"PUT {put_path}: {response.status_code} {response.text}")
            captured["put"] = entry(response)
    return captured


def start_floor(name: str, responses: Path, logs: Path, *, workers: int, select_url: str = "") -> kit.Server:
    port = kit.free_port()
    command = [
        sys.executable,
        str(kit.BENCH / "floor_app.py"),
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--responses",
        str(responses),
    ]
    if select_url:
        command += ["--select-url", select_url]
    return kit.start(name, command, {}, f"http://127.0.0.1:{port}", logs)


# --- measuring ---------------------------------------------------------------------------------------------


@attrs.define
class Runner:
    wrk: str
    work: Path
    connections: int
    duration: float
    rounds: int
    warm_up: bool = True
    settle_limit: float = 10.0
    run_id: str = attrs.field(factory=lambda: uuid.uuid4().hex[:6])

    def measure(
        self, case: Case, auth: str, broker: kit.Server, floors: Sequence[kit.Server], headers: dict[str, str]
    ) -> Row:
        samples: dict[str, list[kit.Sample]] = {server.name: [] for server in (broker, *floors)}
        busy = 0  # runs that started while the broker was still busy with an earlier round's work
        # Round 0 warms up (connection pools, caches) and is not counted.
        for round_number in range(0 if self.warm_up else 1, self.rounds + 1):
            for server in (broker, *floors):
                if not kit.settle(broker, limit=self.settle_limit) and round_number:
                    busy += 1
                script = kit.wrk_script(
                    self.work,
                    f"{case.name}-{auth}-{server.name}-{round_number}",
                    paths=case.paths,
                    headers=headers,
                    method=case.method,
                    body=PUT_BODY,
                    prefix=f"w{self.run_id}{auth[0]}{server.name[0]}{round_number}x",
                )
                seconds = min(self.duration, 1.0) if round_number == 0 else self.duration
                sample = kit.run_wrk(
                    self.wrk, server.url, script, connections=self.connections, seconds=seconds
                )
                if round_number:
                    samples[server.name].append(sample)
        row = Row(
            case,
            auth,
            kit.median(samples[broker.name]),
            tuple((floor.name, kit.median(samples[floor.name])) for floor in floors),
            busy,
        )
        print_row(row)
        return row


HEADER = (
    f"{'request':34} {'auth':5} {'broker req/s':>12} {'p50':>7} {'p99':>7} | {'floor':12} {'req/s':>8} "
    f"{'p50':>6} {'p99':>6} {'ratio':>5} | goal"
)


def print_row(row: Row) -> None:
    busy = f" (broker still busy at {row.busy} run starts)" if row.busy else ""
    for floor_name, floor in row.floors:
        ratio = row.broker.rps / floor.rps
        print(
            f"{row.case.name:34} {row.auth:5} {row.broker.rps:12,.0f} {row.broker.p50_ms:7.1f} "
            f"{row.broker.p99_ms:7.1f} | {floor_name:12} {floor.rps:8,.0f} {floor.p50_ms:6.1f} "
            f"{floor.p99_ms:6.1f} {ratio:5.2f} | {row.case.goal()}: "
            f"{row.case.verdict(row.broker, floor)}{busy}",
            flush=True,
        )


def print_token_cost(rows: Sequence[Row]) -> None:
    """Each figure with a token checked against itself without; goal: at most 15 % lost."""
    print("\nToken checks (APP_AUTH_MODE=local with a bearer token vs none); goal: lose at most 15 %")
    print(f"{'request':34} {'none req/s':>10} {'local req/s':>11} {'lost':>6} {'lost vs floor':>13} | goal")
    by_key = {(row.case.name, row.auth): row for row in rows}
    for (name, auth), row in by_key.items():
        plain = by_key.get((name, "none"))
        if auth != "local" or plain is None:
            continue
        lost = 1 - row.broker.rps / plain.broker.rps
        # Against the floor of its own run as well: the machine's load drifts between the two runs.
        floor_ratio = (row.broker.rps / row.floors[0][1].rps) / (plain.broker.rps / plain.floors[0][1].rps)
        verdict = "pass" if lost <= 0.15 else "MISS"
        print(
            f"{name:34} {plain.broker.rps:10,.0f} {row.broker.rps:11,.0f} {lost:6.0%} "
            f"{1 - floor_ratio:13.0%} | <= 15 %: {verdict}"
        )


def sqlite_cases(ids: Sequence[str], bindings: Sequence[str]) -> list[Case]:
    return [
        Case("GET catalog", ("/oauth/v2/catalog",), min_ratio=0.7, max_p99_factor=2.0),
        Case(
            "GET last_operation (SQLite)",
            tuple(f"{INSTANCES}{i}/last_operation" for i in ids),
            min_ratio=0.5,
        ),
        Case("GET instance (SQLite)", tuple(f"{INSTANCES}{i}" for i in ids)),
        Case("GET binding (SQLite)", tuple(bindings)),
    ]


def run_sqlite(arguments: argparse.Namespace, runner: Runner, workers: int) -> list[Row]:
    data = runner.work / "sqlite-data"
    print(f"\n== SQLite: {arguments.instances} aws instances, {arguments.bindings} bindings ==", flush=True)
    rows: list[Row] = []
    broker = kit.start_broker("broker", data, runner.work, auth="none", workers=workers)
    floor: kit.Server | None = None
    try:
        began = time.perf_counter()
        ids, bindings = asyncio.run(load_through_broker(broker.url, arguments.instances, arguments.bindings))
        print(f"loaded through the broker in {time.perf_counter() - began:.1f} s", flush=True)
        cases = sqlite_cases(ids, bindings)
        put = Case("PUT provision (accepted)", (INSTANCES,), method="PUT")
        paths = [path for case in cases for path in case.paths]
        captured = capture(broker.url, paths, kit.OSB_HEADERS, f"{INSTANCES}capture")
        responses = runner.work / "sqlite-responses.json"
        responses.write_text(json.dumps(captured), encoding="utf-8")
        catalog = captured["get"]["/oauth/v2/catalog"]  # type: ignore[index]
        print(f"catalog: {len(base64.b64decode(catalog['body'])):,} bytes", flush=True)
        floor = start_floor("floor", responses, runner.work, workers=workers)
        print(HEADER)
        for auth in ("none", "local"):
            headers = dict(kit.OSB_HEADERS)
            if auth == "local":
                broker.stop()
                broker = kit.start_broker("broker", data, runner.work, auth="local", workers=workers)
                headers["Authorization"] = f"Bearer {kit.token(broker)}"
            for case in cases:
                rows.append(runner.measure(case, auth, broker, [floor], headers))
        # PUTs last: each leaves a provisioning for the engine, which the reads should not pay for.
        for auth in ("local", "none"):
            headers = {**kit.OSB_HEADERS, "Content-Type": "application/json"}
            if auth == "local":
                headers["Authorization"] = f"Bearer {kit.token(broker)}"
            else:
                broker.stop()
                broker = kit.start_broker("broker", data, runner.work, auth="none", workers=workers)
            rows.append(runner.measure(put, auth, broker, [floor], headers))
    finally:
        broker.stop()
        if floor:
            floor.stop()
    return rows


# --- PostgreSQL at 100,000 instances ---------------------------------------------------------------------


def sample_instances(landscape: Landscape, count: int) -> list[str]:
    """Ids of ``count`` live runtimes spread over the landscape."""
    step = max(landscape.total // count, 1)
    ids: list[str] = []
    for n in range(0, landscape.total, step):
        batch = Batch()
        landscape.runtime(n, batch)
        ids.append(batch.instances[0].instance_id)
    return ids[:count]


def migrate(url: str) -> None:
    subprocess.run(  # noqa: S603 - our own entry point
        [str(kit.BIN / "keb"), "migrate"],
        env={**os.environ, "APP_DATABASE_URL": url, "APP_LOG_LEVEL": "warning"},
        check=True,
        cwd=kit.ROOT,
    )


async def prepare_postgres(arguments: argparse.Namespace) -> tuple[str, str, Landscape, dict[str, int]]:
    name, url = await kit.create_database(arguments.database_url)
    await asyncio.to_thread(migrate, url)
    landscape = Landscape(
        arguments.pg_instances, arguments.seed, updates=(0, 1, 1, 2, 2, 2, 3, 3, 3, 3), running=False
    )
    written = await load(
        url.replace("postgresql+asyncpg://", "postgresql://"), "public", landscape, 0, landscape.total
    )
    return name, url, landscape, written


def run_postgres(arguments: argparse.Namespace, runner: Runner, workers: int) -> list[Row]:
    version = asyncio.run(kit.postgres_version(arguments.database_url))
    print(f"\n== PostgreSQL {version}: {arguments.pg_instances:,} instances ==", flush=True)
    began = time.perf_counter()
    name, url, landscape, written = asyncio.run(prepare_postgres(arguments))
    servers: list[kit.Server] = []
    rows: list[Row] = []
    try:
        print(f"loaded {written} in {time.perf_counter() - began:.1f} s", flush=True)
        ids = sample_instances(landscape, arguments.pg_sample)
        case = Case(
            "GET last_operation (PostgreSQL)",
            tuple(f"{INSTANCES}{i}/last_operation" for i in ids),
            min_ratio=0.6,
            max_p99_ms=50.0,
        )
        data = runner.work / "postgres-data"
        broker = kit.start_broker("broker", data, runner.work, auth="none", workers=workers, database_url=url)
        servers.append(broker)
        responses = runner.work / "postgres-responses.json"
        responses.write_text(
            json.dumps(capture(broker.url, case.paths, kit.OSB_HEADERS, None)), encoding="utf-8"
        )
        servers.append(start_floor("bytes floor", responses, runner.work, workers=workers))
        servers.append(start_floor("select floor", responses, runner.work, workers=workers, select_url=url))
        print(HEADER)
        # The one-query floor first: it is the one the goal names.
        rows.append(runner.measure(case, "none", broker, [servers[2], servers[1]], dict(kit.OSB_HEADERS)))
    finally:
        for server in servers:
            server.stop()
        asyncio.run(kit.drop_database(arguments.database_url, name))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=("sqlite", "postgres", "all"), default="sqlite")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run (default 2)")
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="wait at most this long before a run for the broker to be idle (default 10 s)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="broker/floor rounds per request (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="HTTP worker processes for broker and floor "
        "(default: the CPU count once APP_HTTP_WORKERS exists, else 1)",
    )
    parser.add_argument("--instances", type=int, default=200, help="aws instances on SQLite (default 200)")
    parser.add_argument("--bindings", type=int, default=50, help="bindings on SQLite (default 50)")
    parser.add_argument("--pg-instances", type=int, default=100_000, help="instances on PostgreSQL")
    parser.add_argument("--pg-sample", type=int, default=1000, help="instances whose last_operation is read")
    parser.add_argument(
        "--database-url", default=kit.DEFAULT_POSTGRES, help="a PostgreSQL URL to create a database next to"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic PostgreSQL landscape")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny and quick: checks the script, not the broker"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, scripts)")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.duration, arguments.rounds = 1.0, 1
        arguments.instances, arguments.bindings = 3, 2
        arguments.pg_instances, arguments.pg_sample = 500, 10
    has_setting = kit.http_workers_setting()
    workers = arguments.workers or ((os.cpu_count() or 1) if has_setting else 1)
    print(f"machine: {kit.machine()}")
    print(
        f"HTTP workers: {workers} for broker and floor"
        + ("" if has_setting else " (this broker has no APP_HTTP_WORKERS yet: one process)")
    )
    print(
        f"wrk -t1 -c{arguments.connections} -d{arguments.duration:g}s, "
        f"{arguments.rounds} interleaved rounds after one warm-up, medians; latencies in ms"
    )
    if not has_setting and workers != 1:
        raise SystemExit("--workers needs APP_HTTP_WORKERS, which this broker does not have yet")
    began = time.perf_counter()
    wrk = kit.ensure_wrk()
    with kit.workspace(arguments.keep) as work:
        runner = Runner(
            wrk,
            work,
            arguments.connections,
            arguments.duration,
            arguments.rounds,
            warm_up=not arguments.smoke,
            settle_limit=3.0 if arguments.smoke else arguments.settle,
        )
        rows: list[Row] = []
        if arguments.scenario in ("sqlite", "all"):
            rows += run_sqlite(arguments, runner, workers)
            print_token_cost(rows)
        if arguments.scenario in ("postgres", "all"):
            rows += run_postgres(arguments, runner, workers)
    print(f"\n{time.perf_counter() - began:.0f} s in all")
    errors = sum(row.broker.errors + sum(floor.errors for _, floor in row.floors) for row in rows)
    if errors:
        raise SystemExit(
            f"{errors} requests were answered with an error or failed: the figures are not valid"
        )


if __name__ == "__main__":
    main()
