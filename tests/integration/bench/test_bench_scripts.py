"""The benchmarks under bench/ in their smallest mode, so they keep running as the broker changes.

These check that each script still starts the broker, loads it, measures and prints its figures; they
assert nothing about the figures themselves (speed goals live in the benchmarks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import POSTGRES_URL, postgres_problem, run_apart

BENCH = Path(__file__).resolve().parents[3] / "bench"


def run_bench(*arguments: str) -> str:
    """Run a bench script with ``arguments``; its output, after asserting it exited with 0."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and scripts
        [sys.executable, *arguments],
        cwd=BENCH.parent,
        env={**os.environ, "KEB_BENCH_POSTGRES_URL": POSTGRES_URL},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stdout


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (bench/setup.sh installs it); the HTTP benchmark drives it")


def require_postgres() -> None:
    problem = run_apart(postgres_problem())
    if problem:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_http_bench_smoke_on_sqlite() -> None:
    """bench/http_bench.py --smoke measures every request against the floor, with and without a token."""
    require_wrk()
    out = run_bench("bench/http_bench.py", "--smoke")
    assert "machine: " in out
    for request in (
        "GET catalog",
        "GET last_operation (SQLite)",
        "GET instance",
        "GET binding",
        "PUT provision",
    ):
        assert sum(request in line and " none " in line for line in out.splitlines()) == 1, out
        assert sum(request in line and " local " in line for line in out.splitlines()) == 1, out
    assert "Token checks" in out


@pytest.mark.postgres
def test_http_bench_smoke_on_postgresql() -> None:
    """bench/http_bench.py --smoke --scenario postgres measures last_operation against both floors."""
    require_wrk()
    require_postgres()
    out = run_bench("bench/http_bench.py", "--smoke", "--scenario", "postgres")
    lines = [line for line in out.splitlines() if line.startswith("GET last_operation (PostgreSQL)")]
    assert [("select floor" in line, "bytes floor" in line) for line in lines] == [
        (True, False),
        (False, True),
    ]


def test_provision_bench_smoke_on_sqlite() -> None:
    """bench/provision.py --smoke provisions trials to the end on SQLite and prints the time taken."""
    out = run_bench("bench/provision.py", "--smoke", "--database", "sqlite")
    assert "sqlite: one process" in out, out


@pytest.mark.postgres
def test_provision_bench_smoke_on_postgresql() -> None:
    """bench/provision.py --smoke provisions trials to the end on PostgreSQL and prints the time taken."""
    require_postgres()
    out = run_bench("bench/provision.py", "--smoke", "--database", "postgres")
    assert "postgres: one process" in out, out
