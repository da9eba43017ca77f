"""The ``keb`` command through its installed entry point: help, version, configuration errors and check,
and ``keb serve`` answering health, readiness and metrics on both ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KEB = Path(sys.executable).with_name("keb")


def keb(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``keb`` with a clean APP_* environment plus ``env``."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("APP_")}
    environment.update(env)
    return subprocess.run(  # noqa: S603  # our own console script with fixed arguments
        [str(KEB), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bare_keb_prints_the_help_without_an_argparse_error() -> None:
    """``keb`` alone lists the commands and exits 2, without 'error:' or a traceback."""
    result = keb()
    assert result.returncode == 2
    for command in ("serve", "migrate", "cleanup-bindings", "token", "config", "landscape"):
        assert command in result.stderr
    assert "error:" not in result.stderr
    assert "Traceback" not in result.stderr


def test_version() -> None:
    """``keb --version`` prints the package version and exits 0."""
    result = keb("--version")
    assert result.returncode == 0
    assert result.stdout.strip().startswith("keb 0.")


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ("serve", ["APP_BROKER_PORT", "APP_BROKER_STATUS_PORT", "APP_DATABASE_URL", "APP_LOG_FORMAT"]),
        ("migrate", ["APP_DATABASE_URL", "APP_DATA_DIR"]),
        ("cleanup-bindings", ["APP_DATABASE_SECRET_KEY", "APP_KCP_KUBECONFIG"]),
        ("token", ["APP_AUTH_MODE", "APP_DATA_DIR"]),
        ("config", ["check"]),
    ],
)
def test_each_command_help_says_what_it_does_and_what_it_reads(command: str, mentions: list[str]) -> None:
    """``keb COMMAND --help`` exits 0 and names the settings the command reads."""
    result = keb(command, "--help")
    assert result.returncode == 0
    for name in mentions:
        assert name in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [("APP_LOG_LEVEL", "verbose"), ("APP_LOG_FORMAT", "xml"), ("APP_BROKER_STATUS_PORT", "70000")],
)
def test_a_bad_value_stops_start_with_one_line_naming_it(variable: str, value: str, tmp_path: Path) -> None:
    """A bad value: exit 2, one line on stderr naming the variable and the value, no traceback."""
    result = keb("serve", APP_DATA_DIR=str(tmp_path), **{variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert variable in lines[0]
    assert value in lines[0]
    assert "Traceback" not in result.stderr


def test_config_check_reports_every_error(tmp_path: Path) -> None:
    """``keb config check`` lists all bad values at once and exits non-zero."""
    result = keb(
        "config", "check", APP_DATA_DIR=str(tmp_path), APP_LOG_LEVEL="verbose", APP_BROKER_PORT="eighty"
    )
    assert result.returncode == 2
    assert "APP_LOG_LEVEL" in result.stderr
    assert "APP_BROKER_PORT" in result.stderr
    assert result.stdout == ""


def test_config_check_prints_the_effective_configuration_with_secrets_masked(tmp_path: Path) -> None:
    """The effective values are printed, the database password and the encryption key are not."""
    result = keb(
        "config",
        "check",
        APP_DATA_DIR=str(tmp_path),
        APP_DATABASE_URL="postgresql://keb:hunter2-secret@db.example:5432/broker",
        APP_DATABASE_SECRET_KEY="0123456789abcdef0123456789abcdef",
        APP_BROKER_PORT="9090",
        APP_LOG_FORMAT="json",
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2-secret" not in result.stdout
    assert "0123456789abcdef" not in result.stdout
    assert "db.example:5432/broker" in result.stdout
    assert "9090" in result.stdout
    assert "json" in result.stdout
    assert not (tmp_path / "keb.db").exists()  # a check starts nothing


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_health_readiness_and_metrics_on_both_ports(tmp_path: Path) -> None:
    """``keb serve`` is ready on its port and the status port; /metrics on both needs no token."""
    port, status_port = free_port(), free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("APP_")}
    environment.update(
        APP_DATA_DIR=str(tmp_path / "data"),
        APP_BROKER_PORT=str(port),
        APP_BROKER_STATUS_PORT=str(status_port),
        APP_LOG_FORMAT="json",
    )
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(KEB), "serve"], env=environment, stdout=log, stderr=log)  # noqa: S603
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{status_port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert ready is not None
        assert ready.status_code == 200, (tmp_path / "serve.log").read_text()
        for base in (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{status_port}"):
            assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
            assert httpx.get(f"{base}/readyz", timeout=5).json()["status"] == "ready"
            metrics = httpx.get(f"{base}/metrics", timeout=5)
            assert metrics.status_code == 200
            assert "kcp_keb_v2_instances_total 0.0" in metrics.text
        assert httpx.get(f"http://127.0.0.1:{port}/oauth/v2/catalog", timeout=5).status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "/oauth/v2/catalog" in output  # the access line of the refused request
