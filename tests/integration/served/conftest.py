"""A real broker on a loopback port: the embedded default (SQLite, local issuer, local landscape).

uvicorn serves the app on a thread of its own, so browsers, subprocesses and HTTP clients reach it as
they would reach ``keb serve``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import uvicorn

from keb_app.app import create_app
from keb_app.bootstrap import Services, build_services
from keb_app.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@attrs.frozen
class ServedBroker:
    url: str
    services: Services
    data_dir: Path

    def token(self, *scopes: str) -> str:
        """A token of the broker's embedded issuer (all scopes unless named)."""
        issuer = self.services.local_issuer
        assert issuer is not None
        return issuer.mint(scopes or ("broker:write", "cld:read", "runtimes:read")).reveal()


@pytest.fixture
def served_broker(tmp_path: Path) -> Iterator[ServedBroker]:
    """``keb serve``'s embedded default on a free loopback port, with runtimes Ready within a second."""
    port = free_port()
    settings = Settings.from_env(
        {
            "APP_DATA_DIR": str(tmp_path / "keb"),
            "APP_BROKER_HOST": "127.0.0.1",
            "APP_BROKER_PORT": str(port),
            "APP_LOCAL_LANDSCAPE_READY_AFTER": "300ms",
            "APP_OPERATION_POLL_INTERVAL": "100ms",
            "APP_LOG_LEVEL": "warning",
        }
    )
    services = build_services(settings, idle_poll=0.1)
    config = uvicorn.Config(
        create_app(services), host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="keb-served", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the broker did not start")
        time.sleep(0.05)
    try:
        yield ServedBroker(f"http://127.0.0.1:{port}", services, tmp_path / "keb")
    finally:
        server.should_exit = True
        thread.join(timeout=60)
