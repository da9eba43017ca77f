"""Stopping a real ``keb serve``: bounded by the grace period, and the landscape process goes with it."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx

from tests.integration.serving.support import pid_alive, start_broker, until_gone
from tests.support import OSB, provision_body

HALF_SENT_BODY = (
    b"PUT /oauth/v2/service_instances/i-1 HTTP/1.1\r\nHost: keb\r\nX-Broker-API-Version: 2.16\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
)


def test_sigterm_with_a_half_sent_request_exits_within_the_grace_period(tmp_path: Path) -> None:
    """Two workers, a client stuck mid-body (body timeout far away): SIGTERM ends the broker anyway."""
    env = {"APP_HTTP_WORKERS": "2", "APP_SHUTDOWN_GRACE": "2s", "APP_HTTP_BODY_TIMEOUT": "10m"}
    broker = start_broker(tmp_path / "keb", env)
    landscape = broker.landscape_pid()
    with broker.connect() as stuck:
        stuck.sendall(HALF_SENT_BODY)
        time.sleep(0.5)  # the request reached a worker
        started = time.monotonic()
        code = broker.stop(signal.SIGTERM, within=60.0)
        took = time.monotonic() - started
    log = broker.log_text()
    assert code == 0, log
    # A bound for a busy machine: the grace (2 s) plus the stop, far below the 10-minute body timeout.
    assert took < 30.0, log
    assert "the broker stops" in log
    assert "the broker stopped" in log
    assert until_gone(landscape)


def test_the_landscape_process_does_not_outlive_a_killed_broker(tmp_path: Path) -> None:
    """SIGKILL leaves no time to clean up; the landscape notices its parent is gone and exits."""
    broker = start_broker(tmp_path / "keb")
    landscape = broker.landscape_pid()
    assert pid_alive(landscape)
    broker.stop(signal.SIGKILL)
    assert until_gone(landscape)


def lease_owner(data_dir: Path) -> str | None:
    """The lease owner of the only operation, read straight from the SQLite file."""
    with sqlite3.connect(data_dir / "keb.db") as database:
        row = database.execute("SELECT lease_owner FROM operations").fetchone()
    return None if row is None else row[0]


def test_sigterm_mid_step_releases_the_lease_and_the_restarted_broker_continues_at_once(
    tmp_path: Path,
) -> None:
    """A step hangs on a frozen landscape at SIGTERM; the restart finishes it long before the lease ends."""
    data_dir = tmp_path / "keb"
    env = {
        "APP_SHUTDOWN_GRACE": "1s",
        "APP_OPERATION_RECOVERY_DELAY": "10m",  # the lease a crash would leave behind
        "APP_KUBERNETES_REQUEST_TIMEOUT": "5m",
        "APP_LOCAL_LANDSCAPE_READY_AFTER": "200ms",
        "APP_OPERATION_POLL_INTERVAL": "100ms",
    }
    broker = start_broker(data_dir, env)
    landscape = broker.landscape_pid()
    os.kill(landscape, signal.SIGSTOP)  # every call to KCP now hangs mid-step
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{broker.port}", headers=OSB, timeout=30) as http:
            response = http.put("/oauth/v2/service_instances/inst-1", json=provision_body())
        assert response.status_code == 202, response.text
        deadline = time.monotonic() + 30
        while lease_owner(data_dir) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lease_owner(data_dir) is not None  # claimed: its first step waits for KCP
        broker.process.send_signal(signal.SIGTERM)
        while "released the lease" not in broker.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.kill(landscape, signal.SIGCONT)
    assert broker.stop(within=60.0) == 0
    log = broker.log_text()
    assert "released the lease(s) of 1 operation(s) stopped mid-step" in log, log
    assert lease_owner(data_dir) is None

    restarted = start_broker(data_dir, env)
    try:
        started = time.monotonic()
        with httpx.Client(base_url=f"http://127.0.0.1:{restarted.port}", headers=OSB, timeout=30) as http:
            state = "in progress"
            while state == "in progress" and time.monotonic() - started < 60:
                state = http.get("/oauth/v2/service_instances/inst-1/last_operation").json()["state"]
                time.sleep(0.1)
    finally:
        restarted.stop()
    assert state == "succeeded", restarted.log_text()
