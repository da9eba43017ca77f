"""Benchmark of the runtime inventory on PostgreSQL: ``/runtimes`` latency and ``/info/runtimes`` memory.

Run by hand; it is not part of the test suite::

    .venv/bin/python bench/inventory.py [--instances 100000] [--database-url postgresql+asyncpg://...]

It creates a fresh schema in the database, migrates it, and COPYs synthetic runtimes into it (provisioning,
updates, suspensions, failures, archived runtimes, bindings). First a tenth of them is loaded and a full
``/info/runtimes`` read measured; then the rest is loaded and ``/runtimes`` pages (several filters and page
sizes, through the Litestar app and through the use case) and ``/info/runtimes`` are measured again. The
schema is dropped at the end unless ``--keep-schema`` is given.

``/info/runtimes`` is read the way a server sends it: the ASGI app is driven by hand and every body chunk is
counted and dropped, so the numbers are the broker's own memory, not a client's buffer of the response.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import random
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import attrs
import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.sql import tables
from keb_adapters.sql.database import create_engine, migrate
from keb_adapters.sql.mapping import to_row
from keb_adapters.sql.storage import SqlStorage
from keb_adapters.system import SystemClock
from keb_adapters.versions import at_version
from keb_app.app import create_app
from keb_app.bootstrap import Services, build_services
from keb_app.settings import Settings
from keb_domain.model.binding import Binding, CredentialStrategy
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.inventory import RuntimeFilter, RuntimeState
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.model.plans import KYMA_SERVICE_ID, PLANS_BY_NAME, Provider
from keb_domain.usecases.inventory import RuntimeDetail

DEFAULT_URL = os.environ.get(
    "KEB_BENCH_POSTGRES_URL",
    os.environ.get("KEB_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
CHUNK = 10_000

# Plan mix of a large landscape: mostly paid plans, a tail of trials and free runtimes.
PLAN_WEIGHTS = {
    "aws": 34,
    "azure": 24,
    "gcp": 10,
    "azure_lite": 7,
    "sap-converged-cloud": 3,
    "preview": 2,
    "trial": 14,
    "free": 6,
}
REGIONS = {
    Provider.AWS: ("eu-central-1", "eu-west-2", "us-east-1", "ap-southeast-1"),
    Provider.AZURE: ("westeurope", "northeurope", "eastus", "japaneast"),
    Provider.GCP: ("europe-west3", "us-central1", "asia-south1"),
    Provider.OPENSTACK: ("eu-de-1", "ap-jp-1"),
}
PLATFORM_REGIONS = ("cf-eu10", "cf-eu20", "cf-us10", "cf-ap21", "cf-jp10")
PROVISION_STAGES = (
    "create_runtime_id",
    "create_runtime_resource",
    "check_runtime_resource",
    "apply_kyma_resource",
)
UPDATE_STAGES = ("update_runtime_resource", "check_runtime_resource", "update_kyma_resource")
DEPROVISION_STAGES = (
    "delete_kyma_resource",
    "delete_runtime_resource",
    "check_runtime_resource_deleted",
    "forget_runtime",
)
# An encrypted kubeconfig is about 3 KB of base64; bindings carry one.
CIPHERTEXT = "x" * 3000


# --- synthetic runtimes ----------------------------------------------------------------------------------


@attrs.define
class Batch:
    instances: list[Instance] = attrs.field(factory=list)
    operations: list[Operation] = attrs.field(factory=list)
    archive: list[ArchivedInstance] = attrs.field(factory=list)
    bindings: list[Binding] = attrs.field(factory=list)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Landscape:
    """Deterministic synthetic runtimes: runtime ``n`` is the same whatever else is generated."""

    def __init__(
        self,
        total: int,
        seed: int,
        *,
        updates: Sequence[int] = (0, 0, 0, 0, 0, 1, 1, 2, 3, 5),
        running: bool = True,
    ) -> None:
        """``updates``: the update counts a succeeded runtime draws from; ``running=False``: none in flight.

        Without operations in flight a broker started on the data has no work left to do
        (``bench/http_bench.py`` measures reads on it); the random draws are the same either way, so runtime
        ``n`` keeps its ids.
        """
        self.total = total
        self.seed = seed
        self.updates = tuple(updates)
        self.running = running
        self.accounts = max(total // 5, 1)  # about five runtimes per global account

    def runtime(self, n: int, batch: Batch) -> None:
        # Reproducible synthetic data, not secrets: the standard generator is what is wanted.
        rng = random.Random(self.seed * 1_000_003 + n)  # noqa: S311
        plan_name = rng.choices(list(PLAN_WEIGHTS), weights=list(PLAN_WEIGHTS.values()))[0]
        plan = PLANS_BY_NAME[plan_name]
        provider = plan.provider or rng.choice((Provider.AWS, Provider.AZURE))
        region = rng.choice(REGIONS[provider])
        created = T0 + timedelta(seconds=n * 30 + rng.random())
        instance_id, runtime_id = _uuid(rng), _uuid(rng)
        account = f"ga-{rng.randrange(self.accounts):06d}"
        subaccount = f"sa-{n:07d}"
        trial_like = plan_name in ("trial", "free")
        # The newest 2 % are still provisioning.
        newest = self.running and n >= self.total - max(self.total // 50, 1)

        operations: list[Operation] = []
        clock = created

        def operation(
            kind: OperationType, state: OperationState, stages: Sequence[str], *, temporary: bool = False
        ) -> Operation:
            nonlocal clock
            started = clock
            clock = clock + timedelta(minutes=rng.randint(3, 25))
            op = Operation(
                id=_uuid(rng),
                instance_id=instance_id,
                type=kind,
                state=state,
                created_at=started,
                updated_at=clock if state.is_final else started + timedelta(minutes=1),
                description="Processing finished"
                if state is OperationState.SUCCEEDED
                else "Operation created",
                temporary=temporary,
                plan_id=plan.id,
                runtime_id=runtime_id,
                finished_stages=tuple(stages) if state is OperationState.SUCCEEDED else tuple(stages[:1]),
                parameters={"autoScalerMax": rng.randint(3, 20)} if kind is OperationType.UPDATE else {},
                next_run_at=None if state.is_final else clock,
            )
            operations.append(op)
            clock = clock + timedelta(days=rng.randint(1, 30))
            return op

        roll = rng.random()
        if newest:
            first = OperationState.IN_PROGRESS
        else:
            first = OperationState.FAILED if roll < 0.015 else OperationState.SUCCEEDED
        operation(OperationType.PROVISION, first, PROVISION_STAGES)
        context: dict[str, Any] = {"globalaccount_id": account, "subaccount_id": subaccount, "user_id": "u"}
        expired_at = None
        if first is OperationState.SUCCEEDED:
            for _ in range(rng.choice(self.updates)):
                state = OperationState.FAILED if rng.random() < 0.03 else OperationState.SUCCEEDED
                operation(OperationType.UPDATE, state, UPDATE_STAGES)
            if trial_like and rng.random() < 0.4:  # expired and suspended
                suspension = operation(
                    OperationType.DEPROVISION, OperationState.SUCCEEDED, DEPROVISION_STAGES, temporary=True
                )
                expired_at = suspension.created_at
                context["active"] = False
                if rng.random() < 0.1:  # and woken again
                    operation(
                        OperationType.PROVISION, OperationState.SUCCEEDED, PROVISION_STAGES, temporary=True
                    )
                    context["active"] = True
            elif roll > 0.995:  # a deprovisioning running or failed right now
                running = roll > 0.998 and self.running
                state = OperationState.IN_PROGRESS if running else OperationState.FAILED
                operation(OperationType.DEPROVISION, state, DEPROVISION_STAGES)
        started = [op for op in operations if op.state is not OperationState.PENDING]
        batch.operations += operations
        batch.instances.append(
            Instance(
                instance_id=instance_id,
                service_id=KYMA_SERVICE_ID,
                plan_id=plan.id,
                plan_name=plan_name,
                global_account_id=account,
                subaccount_id=subaccount,
                user_id=f"user{n % 5000}@example.com",
                platform_region=rng.choice(PLATFORM_REGIONS),
                provider=provider,
                cluster_region=region,
                shoot_name=f"c-{n:07x}",
                created_at=created,
                updated_at=started[-1].updated_at,
                parameters={"name": f"cluster-{n}", "region": region, "autoScalerMax": rng.randint(3, 20)},
                context=context,
                dashboard_url=f"https://dashboard.kyma.cloud.sap/?kubeconfigID={instance_id}",
                runtime_id=runtime_id
                if context.get("active", True) and first is not OperationState.FAILED
                else "",
                last_operation_id=started[-1].id,
                expired_at=expired_at,
            )
        )
        if first is OperationState.SUCCEEDED and rng.random() < 0.08:
            for number in range(rng.randint(1, 3)):
                made = created + timedelta(days=rng.randint(1, 60))
                batch.bindings.append(
                    Binding(
                        instance_id=instance_id,
                        binding_id=f"binding-{number}",
                        strategy=CredentialStrategy.GARDENER_ADMIN_KUBECONFIG,
                        expiration_seconds=7200,
                        created_at=made,
                        expires_at=made + timedelta(seconds=7200),
                        created_by="operator@example.com",
                        credentials=CIPHERTEXT,
                    )
                )
        if n % 5 == 0:  # one archived runtime for every five live ones
            gone = created + timedelta(seconds=15)
            batch.archive.append(
                ArchivedInstance(
                    instance_id=_uuid(rng),
                    global_account_id=account,
                    subaccount_id=f"sa-gone-{n:07d}",
                    plan_id=plan.id,
                    plan_name=plan_name,
                    platform_region=rng.choice(PLATFORM_REGIONS),
                    cluster_region=region,
                    provider=provider.keb_name,
                    shoot_name=f"g-{n:07x}",
                    last_runtime_id=_uuid(rng),
                    internal_user=False,
                    created_at=gone,
                    archived_at=gone + timedelta(days=20),
                    provisioning_started_at=gone,
                    provisioning_finished_at=gone + timedelta(minutes=12),
                    provisioning_state="succeeded",
                    first_deprovisioning_started_at=gone + timedelta(days=20),
                    first_deprovisioning_finished_at=gone + timedelta(days=20, minutes=9),
                    last_deprovisioning_finished_at=gone + timedelta(days=20, minutes=9),
                )
            )

    def batches(self, start: int, stop: int) -> Iterator[Batch]:
        for first in range(start, stop, CHUNK):
            batch = Batch()
            for n in range(first, min(first + CHUNK, stop)):
                self.runtime(n, batch)
            yield batch


# --- loading ---------------------------------------------------------------------------------------------


def _copy_rows(table: sa.Table, values: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows for COPY: the mapping of the SQL storage, JSON columns as text (asyncpg's jsonb codec)."""
    rows = [to_row(at_version(v, 1) if hasattr(v, "version") else v) for v in values]
    if not rows:
        return [], []
    columns = list(rows[0])
    json_columns = {c.name for c in table.c if isinstance(c.type, sa.JSON)}
    return columns, [
        tuple(json.dumps(row[c]) if c in json_columns else row[c] for c in columns) for row in rows
    ]


async def load(dsn: str, schema: str, landscape: Landscape, start: int, stop: int) -> dict[str, int]:
    """COPY runtimes ``start`` to ``stop`` into the schema; returns the rows written per table."""
    written = {"instances": 0, "operations": 0, "instances_archived": 0, "bindings": 0}
    connection = await asyncpg.connect(dsn)
    try:
        for batch in landscape.batches(start, stop):
            parts: list[tuple[sa.Table, Sequence[Any]]] = [
                (tables.instances, batch.instances),
                (tables.operations, batch.operations),
                (tables.instances_archived, batch.archive),
                (tables.bindings, batch.bindings),
            ]
            for table, values in parts:
                columns, records = _copy_rows(table, values)
                if records:
                    await connection.copy_records_to_table(
                        table.name, records=records, columns=columns, schema_name=schema
                    )
                    written[table.name] += len(records)
        await connection.execute(f'ANALYZE "{schema}".instances, "{schema}".operations')
        await connection.execute(f'ANALYZE "{schema}".instances_archived, "{schema}".bindings')
    finally:
        await connection.close()
    return written


# --- measuring -------------------------------------------------------------------------------------------


def rss() -> int:
    """The resident set size of this process now, in bytes (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


@attrs.frozen
class StreamRun:
    seconds: float
    items: int
    body_bytes: int
    rss_growth: int
    traced_peak: int | None


async def read_info_runtimes(app: Any, *, trace: bool) -> StreamRun:
    """GET /info/runtimes through the ASGI app, dropping each body chunk as a server would send it."""
    finished = asyncio.Event()
    requested = False
    chunks = 0
    body_bytes = 0
    gc.collect()
    baseline = rss()
    highest = baseline

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal chunks, body_bytes, highest
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
        if message["type"] == "http.response.body":
            chunks += 1
            body_bytes += len(message["body"])
            if chunks % 2000 == 0:
                highest = max(highest, rss())
            if not message.get("more_body", False):
                finished.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/info/runtimes",
        "raw_path": b"/info/runtimes",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    if trace:
        tracemalloc.start()
    began = time.perf_counter()
    try:
        await app(scope, receive, send)
        seconds = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1] if trace else None
    finally:
        if trace:
            tracemalloc.stop()
    highest = max(highest, rss())
    return StreamRun(seconds, chunks - 3, body_bytes, highest - baseline, peak)  # "[", "]" and the end


@attrs.frozen
class Latency:
    name: str
    page_size: int
    total: int
    http: list[float]
    use_case: list[float]


def summary(samples: list[float]) -> str:
    """Median and 95th percentile in milliseconds."""
    median = statistics.median(samples) * 1000
    p95 = statistics.quantiles(samples, n=20)[18] * 1000 if len(samples) >= 2 else median
    return f"{median:8.1f} {p95:7.1f}"


async def timed(call: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    for _ in range(3):  # warm the pool and the plan caches
        await call()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - began)
    return samples


@attrs.frozen
class Case:
    """One ``/runtimes`` request: its query parameters and the same filter for the use case."""

    name: str
    params: tuple[tuple[str, str], ...]
    query: RuntimeFilter
    bindings: bool = False
    page_size: int = 100
    page: int = 1

    def query_params(self) -> httpx.QueryParams:
        return httpx.QueryParams((*self.params, ("page_size", str(self.page_size)), ("page", str(self.page))))

    async def over_http(self, client: httpx.AsyncClient) -> bytes:
        response = await client.get("/runtimes", params=self.query_params())
        assert response.status_code == 200, response.text
        return response.content

    async def through_use_case(self, services: Services) -> object:
        return await services.inventory.runtimes(
            self.query, page=self.page, page_size=self.page_size, detail=RuntimeDetail(bindings=self.bindings)
        )


def cases(sample: Instance) -> list[Case]:
    """Filters of a typical operator session, each with pages of 10 and 100, and one deep page."""
    filters = [
        Case("default", (), RuntimeFilter()),
        Case(
            "account",
            (("account", sample.global_account_id),),
            RuntimeFilter(accounts=(sample.global_account_id,)),
        ),
        Case(
            "subaccount",
            (("subaccount", sample.subaccount_id),),
            RuntimeFilter(subaccounts=(sample.subaccount_id,)),
        ),
        Case(
            "runtime_id",
            (("runtime_id", sample.runtime_id),),
            RuntimeFilter(runtime_ids=(sample.runtime_id,)),
        ),
        Case(
            "plan=trial&state=suspended",
            (("plan", "trial"), ("state", "suspended")),
            RuntimeFilter(plans=("trial",), states=(RuntimeState.SUSPENDED,)),
        ),
        Case(
            "region=westeurope&plan=azure",
            (("region", "westeurope"), ("plan", "azure")),
            RuntimeFilter(regions=("westeurope",), plans=("azure",)),
        ),
        Case("state=error", (("state", "error"),), RuntimeFilter(states=(RuntimeState.ERROR,))),
        Case(
            "state=succeeded&state=deprovisioned",
            (("state", "succeeded"), ("state", "deprovisioned")),
            RuntimeFilter(states=(RuntimeState.SUCCEEDED, RuntimeState.DEPROVISIONED)),
        ),
        Case(
            "with_bindings=true&bindings=true",
            (("with_bindings", "true"), ("bindings", "true")),
            RuntimeFilter(with_bindings=True),
            bindings=True,
        ),
        Case(
            "expired=true&state=all",
            (("expired", "true"), ("state", "all")),
            RuntimeFilter(expired=True, states=(RuntimeState.ALL,)),
        ),
    ]
    sized = [attrs.evolve(case, page_size=size) for case in filters for size in (10, 100)]
    return [*sized, Case("default, page 500 (deep OFFSET)", (), RuntimeFilter(), page=500)]


async def measure_runtimes(
    services: Services, client: httpx.AsyncClient, sample: Instance, repeat: int
) -> list[Latency]:
    results: list[Latency] = []
    for case in cases(sample):
        total = (await client.get("/runtimes", params=case.query_params())).json()["totalCount"]
        http = await timed(functools.partial(case.over_http, client), repeat)
        use_case = await timed(functools.partial(case.through_use_case, services), repeat)
        results.append(Latency(case.name, case.page_size, int(total), http, use_case))
    return results


def report(latencies: list[Latency], total: int, repeat: int) -> None:
    print(f"\nGET /runtimes at {total:,} runtimes, {repeat} requests each, milliseconds")
    columns = f"{'HTTP p50':>8} {'p95':>7} | {'use case p50':>12} {'p95':>7}"
    print(f"{'filter':36} {'size':>4} {'matches':>7} | {columns}")
    for result in latencies:
        http, use_case = summary(result.http), summary(result.use_case)
        print(f"{result.name:36} {result.page_size:4d} {result.total:7d} | {http:>16} | {use_case:>20}")
    print()


# --- the run ---------------------------------------------------------------------------------------------


def settings(data_dir: Path) -> Settings:
    return Settings.from_env(
        {
            "APP_DATA_DIR": str(data_dir),
            "APP_DATABASE_SECRET_KEY": "0123456789abcdef0123456789abcdef",
            "APP_AUTH_MODE": "none",  # the benchmark measures the inventory, not token checks
        }
    )


async def database_version(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str((await connection.execute(sa.text("SHOW server_version"))).scalar_one())


async def info_runs(app: Any, label: str) -> tuple[StreamRun, StreamRun]:
    plain = await read_info_runtimes(app, trace=False)
    traced = await read_info_runtimes(app, trace=True)
    rate = plain.items / plain.seconds
    print(f"/info/runtimes at {label}: {plain.items} items, {mib(plain.body_bytes)} of JSON")
    print(f"  time {plain.seconds:.2f} s ({rate:,.0f} items/s), RSS growth {mib(plain.rss_growth)}")
    print(f"  tracemalloc peak {mib(traced.traced_peak or 0)}, RSS growth {mib(traced.rss_growth)}")
    return plain, traced


async def run(arguments: argparse.Namespace) -> None:
    total: int = arguments.instances
    small = max(total // 10, 1)
    url: str = arguments.database_url
    schema = f"keb_bench_{uuid.uuid4().hex[:10]}"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    admin = create_engine(url)
    async with admin.begin() as connection:
        await connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    version = await database_version(admin)
    await admin.dispose()
    engine = create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    landscape = Landscape(total, arguments.seed)
    print(f"PostgreSQL {version}; schema {schema}; {os.cpu_count()} CPUs")
    try:
        await migrate(engine)
        began = time.perf_counter()
        written = await load(dsn, schema, landscape, 0, small)
        print(f"loaded {written} in {time.perf_counter() - began:.1f} s")
        with tempfile.TemporaryDirectory() as data_dir:
            services = build_services(
                settings(Path(data_dir)),
                storage=SqlStorage(engine),
                control_plane=MemoryControlPlane(SystemClock()),
                run_engine=False,
            )
            app = create_app(services, manage_services=False)
            _, small_traced = await info_runs(app, f"{small:,} runtimes")

            began = time.perf_counter()
            more = await load(dsn, schema, landscape, small, total)
            print(f"loaded {more} more in {time.perf_counter() - began:.1f} s")
            async with engine.connect() as connection:
                counts = {
                    table.name: int(
                        (await connection.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
                    )
                    for table in (
                        tables.instances,
                        tables.operations,
                        tables.instances_archived,
                        tables.bindings,
                    )
                }
            print(f"database: {counts}")

            # Litestar's precise ASGI callable types are narrower than the loose ones httpx declares.
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                sample_batch = Batch()
                landscape.runtime(total // 2, sample_batch)
                sample = sample_batch.instances[0]
                latencies = await measure_runtimes(services, client, sample, arguments.repeat)
            report(latencies, total, arguments.repeat)
            _, large_traced = await info_runs(app, f"{total:,} runtimes")
            ratio = (large_traced.traced_peak or 0) / max(small_traced.traced_peak or 1, 1)
            verdict = "flat" if ratio < 1.5 else "NOT flat"
            print(f"tracemalloc peak {total:,} vs {small:,} runtimes: x{ratio:.2f} ({verdict})")
    finally:
        await engine.dispose()
        if not arguments.keep_schema:
            admin = create_engine(url)
            async with admin.begin() as connection:
                await connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--instances", type=int, default=100_000, help="live runtimes to load (default 100000)"
    )
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"SQLAlchemy URL (default {DEFAULT_URL})")
    parser.add_argument("--repeat", type=int, default=50, help="requests per /runtimes case (default 50)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic landscape (default 1)")
    parser.add_argument("--keep-schema", action="store_true", help="leave the schema in the database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
