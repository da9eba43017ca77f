"""A real ``keb serve`` as a subprocess on a free loopback port, and raw-socket clients for it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs

KEB = Path(sys.executable).parent / "keb"
#: Bounded waits; a healthy run needs a fraction of each (the machine may be busy).
START_WITHIN = 90.0
KEY = "0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@attrs.define
class Broker:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log: Path

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def get(self, path: str = "/healthz") -> bytes:
        """One complete request on a connection of its own: the status line."""
        with self.connect() as connection:
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: keb\r\nConnection: close\r\n\r\n".encode())
            return read_until_closed(connection).split(b"\r\n", 1)[0]

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def landscape_pid(self) -> int:
        document = json.loads((self.data_dir / "landscape" / "serving.json").read_text(encoding="utf-8"))
        return int(document["pid"])

    def stop(self, signum: int = signal.SIGTERM, within: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def read_until_closed(connection: socket.socket, within: float = 15.0) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    connection.settimeout(within)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := connection.recv(65536):
            received += chunk
    return received


def keb_env(data_dir: Path, port: int, env: Mapping[str, str]) -> dict[str, str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("APP_") and key != "KUBERNETES_SERVICE_HOST"
    }
    return {
        **base,
        "APP_DATA_DIR": str(data_dir),
        "APP_BROKER_PORT": str(port),
        "APP_AUTH_MODE": "none",
        "APP_DATABASE_SECRET_KEY": KEY,
        "APP_HTTP_WORKERS": "1",
        # No fixed status port (8071 by default): parallel runs on one machine would collide on it.
        "APP_BROKER_STATUS_PORT": "0",
        **env,
    }


def start_broker(data_dir: Path, env: Mapping[str, str] | None = None, *, wait: bool = True) -> Broker:
    """``keb serve`` with the given settings; waits (bounded) until it answers /healthz."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"{data_dir.name}-serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(KEB), "serve"], env=keb_env(data_dir, port, env or {}), stdout=sink, stderr=sink
        )
    broker = Broker(process, port, data_dir, log)
    if wait:
        deadline = time.monotonic() + START_WITHIN
        while True:
            if process.poll() is not None:
                raise AssertionError(f"keb serve exited with {process.returncode}:\n{broker.log_text()}")
            with contextlib.suppress(OSError):
                if broker.get().endswith(b"200 OK"):
                    break
            if time.monotonic() > deadline:
                broker.stop(signal.SIGKILL)
                raise AssertionError(f"keb serve did not answer within {START_WITHIN}s:\n{broker.log_text()}")
            time.sleep(0.1)
    return broker


@contextlib.contextmanager
def running_broker(data_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[Broker]:
    broker = start_broker(data_dir, env)
    try:
        yield broker
    finally:
        broker.stop()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def until_gone(pid: int, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False
