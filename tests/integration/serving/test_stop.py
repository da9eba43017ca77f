"""Stopping a real ``keb serve``: bounded by the grace period, and the landscape process goes with it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.integration.serving.support import pid_alive, start_broker, until_gone

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
