"""What the HTTP and provisioning benchmarks share: the machine, the processes, wrk and the figures.

Everything runs on loopback. Servers are started as subprocesses in their own process group and stopped
by that group's id; nothing else on the machine is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import asyncpg
import attrs
import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SETTINGS_SOURCE = ROOT / "src" / "keb_app" / "settings.py"
BIN = Path(sys.executable).parent
SERVICE_ID = "47c9dcbf-ff30-448e-ab36-d3bad66ba281"
AWS_PLAN = "361c511f-f939-4621-b228-d0fb79a1fe15"
TRIAL_PLAN = "7d55d31d-35ae-4438-bf13-6ffdfa107d9f"
OSB_HEADERS = {"X-Broker-API-Version": "2.14"}
INSTANCES = "/oauth/v2/service_instances/"
DEFAULT_POSTGRES = os.environ.get(
    "KEB_BENCH_POSTGRES_URL",
    os.environ.get("KEB_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
)


# --- the machine -----------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """One line naming the CPU, the cores, the load, Python and the event loop and HTTP parser on hand."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    extras = [name for name in ("uvloop", "httptools") if _importable(name)]
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, load average {load}; Python {platform.python_version()}; "
        f"{platform.system()} {platform.release()}; "
        f"uvicorn extras installed: {', '.join(extras) or 'none (stdlib asyncio loop, h11 parser)'}"
    )


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def http_workers_setting() -> bool:
    """Whether this checkout's broker has ``APP_HTTP_WORKERS`` (several HTTP processes)."""
    return "APP_HTTP_WORKERS" in SETTINGS_SOURCE.read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- processes -------------------------------------------------------------------------------------------


@attrs.define
class Server:
    """A server subprocess in its own process group, answering on ``url``."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    env: dict[str, str] = attrs.field(factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and every process below it."""
        return sum(_cpu_seconds(pid) for pid in _tree(self.process.pid))

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in task.read_text(encoding="ascii").split():
                found += _tree(int(child))
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(name: str, command: Sequence[str], env: Mapping[str, str], url: str, logs: Path) -> Server:
    """Start ``command`` and wait until ``url``/healthz answers (the floor answers it too)."""
    log = logs / f"{name}.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts
            list(command),
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
    server = Server(name, process, url, log, dict(env))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.tail()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer /healthz within 60 s:\n{server.tail()}")


def broker_env(
    data_dir: Path, port: int, *, auth: str, workers: int, database_url: str | None = None
) -> dict[str, str]:
    """The environment of a benchmarked ``keb serve``: the local landscape with runtimes Ready at once."""
    env = {
        "APP_DATA_DIR": str(data_dir),
        "APP_BROKER_PORT": str(port),
        "APP_BROKER_STATUS_PORT": "0",  # only the measured port; a broker on 8071 must not stop the run
        "APP_AUTH_MODE": auth,
        "APP_LOCAL_LANDSCAPE_READY_AFTER": "0s",
        "APP_LOG_LEVEL": "warning",
    }
    if http_workers_setting():
        env["APP_HTTP_WORKERS"] = str(workers)
    if database_url:
        env["APP_DATABASE_URL"] = database_url
        env["APP_DATABASE_SECRET_KEY"] = secrets.token_hex(16)  # PostgreSQL needs one; a fresh one per run
    return env


def start_broker(
    name: str,
    data_dir: Path,
    logs: Path,
    *,
    auth: str = "none",
    workers: int = 1,
    database_url: str | None = None,
) -> Server:
    port = free_port()
    env = broker_env(data_dir, port, auth=auth, workers=workers, database_url=database_url)
    return start(name, [str(BIN / "keb"), "serve"], env, f"http://127.0.0.1:{port}", logs)


def token(broker: Server) -> str:
    """A bearer token with every scope from the embedded issuer of ``broker`` (its data directory and URL)."""
    out = subprocess.run(  # noqa: S603 - our own entry point
        [str(BIN / "keb"), "token"],
        env={**os.environ, **broker.env},
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return out.stdout.decode().strip()


def settle(server: Server, *, idle_share: float = 0.1, limit: float = 10.0) -> bool:
    """Wait until ``server`` uses under ``idle_share`` of a core (work left by a round); whether it did."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        before = server.cpu_seconds()
        time.sleep(0.3)
        if (server.cpu_seconds() - before) / 0.3 < idle_share:
            return True
    return False


@contextlib.contextmanager
def workspace(keep: bool = False) -> Iterator[Path]:
    """A fresh temporary directory for data directories, logs and wrk scripts."""
    path = Path(tempfile.mkdtemp(prefix="keb-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


# --- PostgreSQL ------------------------------------------------------------------------------------------


def _admin_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def database_url(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    base, _, query = url.partition("?")
    head = base.rsplit("/", 1)[0]
    return f"{head}/{name}" + (f"?{query}" if query else "")


async def create_database(url: str) -> tuple[str, str]:
    """A fresh database next to the one ``url`` names, for a broker process of its own: (name, its URL).

    A database rather than a schema: ``keb serve`` takes only a URL, and the URL cannot carry a
    ``search_path`` through SQLAlchemy's asyncpg dialect.
    """
    name = f"keb_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(_admin_dsn(url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return name, database_url(url, name)


async def drop_database(url: str, name: str) -> None:
    connection = await asyncpg.connect(_admin_dsn(url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def postgres_version(url: str) -> str:
    connection = await asyncpg.connect(_admin_dsn(url))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


# --- wrk -------------------------------------------------------------------------------------------------

_LUA = r"""
local paths = {%(paths)s}
local method = "%(method)s"
local body_template = %(body)s
local prefix = "%(prefix)s"
local counter = 0
local index = 0
%(headers)s
request = function()
  if method == "PUT" then
    counter = counter + 1
    local id = prefix .. counter
    local body = string.gsub(body_template, "@ID@", id)
    return wrk.format("PUT", paths[1] .. id .. "?accepts_incomplete=true", nil, body)
  end
  index = index %% #paths + 1
  return wrk.format(method, paths[index])
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "status_errors": %%d, ' ..
    '"socket_errors": %%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for these texts


def wrk_script(
    directory: Path,
    name: str,
    *,
    paths: Sequence[str],
    headers: Mapping[str, str],
    method: str = "GET",
    body: str = "",
    prefix: str = "",
) -> Path:
    """A wrk Lua script cycling through ``paths``; a PUT appends a fresh id to ``paths[0]`` each time."""
    header_lines = "\n".join(
        f"wrk.headers[{_lua_string(key)}] = {_lua_string(value)}" for key, value in headers.items()
    )
    script = directory / f"{name}.lua"
    script.write_text(
        _LUA
        % {
            "paths": ", ".join(_lua_string(path) for path in paths),
            "method": method,
            "body": _lua_string(body),
            "prefix": prefix,
            "headers": header_lines,
        },
        encoding="utf-8",
    )
    return script


@attrs.frozen
class Sample:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def ensure_wrk() -> str:
    """The wrk executable; installed with apt-get when missing and this process may (root)."""
    found = wrk_binary()
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)  # noqa: S607
        found = wrk_binary()
        if found:
            return found
    raise SystemExit("wrk is needed: run bench/setup.sh (apt-get install -y wrk) as root")


def run_wrk(wrk: str, url: str, script: Path, *, connections: int, seconds: float) -> Sample:
    command = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(command, capture_output=True, check=True, text=True)  # noqa: S603
    for line in out.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            figures = json.loads(line.removeprefix("WRK_JSON "))
            seconds_run = figures["duration_us"] / 1e6
            return Sample(
                rps=figures["requests"] / seconds_run,
                p50_ms=figures["p50_us"] / 1000,
                p99_ms=figures["p99_us"] / 1000,
                requests=figures["requests"],
                errors=figures["status_errors"] + figures["socket_errors"],
            )
    raise RuntimeError(f"wrk printed no figures:\n{out.stdout}\n{out.stderr}")


@attrs.frozen
class Median:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rounds: int


def median(samples: Sequence[Sample]) -> Median:
    return Median(
        rps=statistics.median(s.rps for s in samples),
        p50_ms=statistics.median(s.p50_ms for s in samples),
        p99_ms=statistics.median(s.p99_ms for s in samples),
        errors=sum(s.errors for s in samples),
        rounds=len(samples),
    )


# --- provisioning through the broker ----------------------------------------------------------------------


def provision_body(plan_id: str, *, name: str, subaccount: str, account: str, region: str | None) -> str:
    parameters: dict[str, str] = {"name": name}
    if region:
        parameters["region"] = region
    return json.dumps(
        {
            "service_id": SERVICE_ID,
            "plan_id": plan_id,
            "context": {
                "globalaccount_id": account,
                "subaccount_id": subaccount,
                "user_id": "bench@example.com",
            },
            "parameters": parameters,
        }
    )


async def gather_limited(calls: Iterable[Awaitable[None]], limit: int) -> None:
    """Await ``calls`` with at most ``limit`` of them running at once."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Awaitable[None]) -> None:
        async with semaphore:
            await call

    await asyncio.gather(*(one(call) for call in calls))


async def _poll(client: httpx.AsyncClient, instance_id: str, states: dict[str, str]) -> None:
    response = await client.get(f"{INSTANCES}{instance_id}/last_operation")
    response.raise_for_status()
    states[instance_id] = response.json()["state"]


async def wait_succeeded(client: httpx.AsyncClient, ids: Sequence[str], limit: float) -> None:
    """Poll ``last_operation`` until every instance's is ``succeeded``; fail on ``failed`` or timeout."""
    pending = list(ids)
    deadline = time.monotonic() + limit
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} provisionings not done after {limit:.0f} s")
        states: dict[str, str] = {}
        await gather_limited((_poll(client, i, states) for i in pending), 8)
        failed = [i for i, state in states.items() if state == "failed"]
        if failed:
            raise RuntimeError(f"provisioning failed for {failed[:5]}")
        pending = [i for i in pending if states.get(i) != "succeeded"]
        if pending:
            await asyncio.sleep(0.5)


async def provision_many(
    client: httpx.AsyncClient,
    ids: Sequence[str],
    plan_id: str,
    *,
    region: str | None,
    concurrency: int,
    accounts: int = 0,
) -> None:
    """Provision ``ids``; each in a global account of its own, or spread over ``accounts`` global accounts
    (a plan with a dedicated hyperscaler account pool has one account per global account to give).
    """

    async def one(instance_id: str, n: int) -> None:
        account = f"ga-{n % accounts}" if accounts else f"ga-{instance_id}"
        body = provision_body(
            plan_id, name=f"n{n}", subaccount=f"sa-{instance_id}", account=account, region=region
        )
        response = await client.put(
            f"{INSTANCES}{instance_id}",
            params={"accepts_incomplete": "true"},
            content=body,
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 202:
            raise RuntimeError(f"provision {instance_id}: {response.status_code} {response.text}")

    await gather_limited((one(i, n) for n, i in enumerate(ids)), concurrency)
