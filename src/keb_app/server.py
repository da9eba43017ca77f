"""``keb serve``: the production server.

uvicorn with uvloop and httptools (measured: README, "Serving"), in ``APP_HTTP_WORKERS`` processes that share
one listening socket. Each worker is a whole broker with its own operation engine; the engines claim
operations with leases, as replicas do. Before the workers start, the supervising process migrates the
database once and, in the embedded mode, starts the local landscape in a process of its own.

Slow or half-sent requests cannot hold the broker: a request's headers must arrive within
``APP_HTTP_HEADER_TIMEOUT``, its body within ``APP_HTTP_BODY_TIMEOUT``, an idle keep-alive connection closes
after ``APP_HTTP_KEEP_ALIVE_TIMEOUT``, and a worker keeps at most ``APP_HTTP_MAX_CONNECTIONS`` connections
open. On SIGTERM (or Ctrl+C) a worker stops accepting, gives open requests and running steps
``APP_SHUTDOWN_GRACE`` to finish, cancels what is left and releases the leases of the operations it held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any, ClassVar

import uvicorn
from uvicorn._compat import asyncio_run
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from keb_adapters.files import private_directory
from keb_adapters.sql.database import create_engine, migrate
from keb_adapters.sql.errors import certificate_refusal
from keb_app.app import create_app, create_status_app
from keb_app.bootstrap import Services, build_services, landscape_config
from keb_app.landscape.shared import LandscapeUse, start_or_attach
from keb_app.logs import configure_logging
from keb_app.settings import ServingSettings, Settings
from keb_domain.errors import ConfigurationError

log = logging.getLogger("keb")


class _Throttled:
    """Log a kind of event at most once per ``interval`` seconds, saying how many were not logged."""

    def __init__(self, message: str, interval: float = 60.0) -> None:
        self._message = message
        self._interval = interval
        self._last = -math.inf
        self._unlogged = 0

    def __call__(self, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            self._unlogged += 1
            return
        more = f" (and {self._unlogged} more since the last such line)" if self._unlogged else ""
        log.warning(self._message + more, *args)
        self._last, self._unlogged = now, 0


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines and a cap on open connections.

    A timer runs only while a request is incomplete at the end of a read, so a request that arrives whole
    in one read (nearly all of them) costs no timer.
    """

    header_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 30.0
    max_connections: ClassVar[int] = 1000

    _deadline: asyncio.TimerHandle | None = None
    _reading: str = "headers"  # "headers", "body" or "" (nothing pending)
    # An attack opens thousands of connections: one line a minute per kind says enough.
    _refused = _Throttled("more than %d open connections: closed a new one")
    _late = _Throttled("closed a connection whose request %s did not arrive in time")

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refused(self.max_connections)
            transport.close()
            return
        self._reading = "headers"
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._reading:
            self._disarm()
        elif self._deadline is None:
            self._arm(self.header_timeout if self._reading == "headers" else self.body_timeout)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = "headers"

    def on_headers_complete(self) -> None:
        self._disarm()
        self._reading = "body"
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._reading = ""
        super().on_message_complete()

    def _arm(self, seconds: float) -> None:
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self._late(self._reading)
            self.transport.close()


def protocol_for(serving: ServingSettings) -> type[GuardedHttpProtocol]:
    """The HTTP protocol class with the configured limits."""
    return type(
        "KebHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "header_timeout": serving.header_timeout,
            "body_timeout": serving.body_timeout,
            "max_connections": serving.max_connections,
        },
    )


class _Server(uvicorn.Server):
    """uvicorn's server that tells the broker when a stop begins, so the engine stops claiming at once."""

    def __init__(self, config: uvicorn.Config, services: Services, grace: float) -> None:
        super().__init__(config)
        self._services = services
        self._grace = grace

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        log.info(
            "the broker stops (pid %d): no new connections; open requests and running steps have %.1fs",
            os.getpid(),
            self._grace,
        )
        await self._services.begin_stop(time.monotonic() + self._grace)
        await super().shutdown(sockets)


def _ignore_signal(signum: int, frame: FrameType | None) -> None:
    """uvicorn raises a signal it handled once more after its stop; the stop is already done then."""


class _StatusServer(uvicorn.Server):
    """The status port's server (health, readiness, metrics): the main server owns the signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve_both(
    server: _Server, sock: socket.socket, status: _StatusServer | None, status_sock: socket.socket | None
) -> None:
    """The broker on its socket and, when configured, the status app on the status socket, in one loop."""
    status_task = None
    if status is not None and status_sock is not None:
        status_task = asyncio.create_task(status.serve(sockets=[status_sock]), name="keb-status-port")
    try:
        await server.serve(sockets=[sock])
    finally:
        if status is not None and status_task is not None:  # both or neither
            status.should_exit = True
            await status_task


def run_worker(settings: Settings, sock: socket.socket, status_sock: socket.socket | None = None) -> None:
    """One HTTP worker: a whole broker serving ``sock`` (and the status app on ``status_sock``) until SIGTERM
    or SIGINT."""
    serving = settings.serving
    services = build_services(settings, migrate_at_start=False)
    # The same loop, protocol limits and quiet logging for the broker and its status port.
    common: dict[str, Any] = {
        "loop": "uvloop",
        "http": protocol_for(serving),
        "log_config": None,
        "access_log": False,
        "server_header": False,
    }
    config = uvicorn.Config(
        create_app(services),
        lifespan="on",
        timeout_keep_alive=max(1, math.ceil(serving.keep_alive_timeout)),
        timeout_graceful_shutdown=max(1, math.ceil(serving.shutdown_grace)),
        **common,
    )
    server = _Server(config, services, serving.shutdown_grace)
    status = None
    if status_sock is not None:
        status = _StatusServer(uvicorn.Config(create_status_app(services), lifespan="off", **common))
    asyncio_run(_serve_both(server, sock, status, status_sock), loop_factory=config.get_loop_factory())
    if not server.started:
        raise SystemExit(3)  # the lifespan failed; uvicorn logged why


def _worker_main(sock: socket.socket, status_sock: socket.socket | None) -> None:
    """Entry point of a spawned worker process: settings from the inherited environment."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _ignore_signal)
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level, settings.log_format)
    run_worker(settings, sock, status_sock)


async def migrate_database(settings: Settings) -> None:
    """Bring the schema up to date once, before any worker starts."""
    if settings.database_kind == "sqlite":
        private_directory(settings.data_dir)
    engine = create_engine(settings.database_url, tls=settings.database_tls, pool=settings.database_pool)
    try:
        before, after = await migrate(engine)
    except Exception as error:
        if (refusal := certificate_refusal(error)) is None:
            raise
        tls = settings.database_tls
        raise ConfigurationError(
            f"APP_DATABASE_SSLMODE={tls.mode if tls else ''}, APP_DATABASE_SSLROOTCERT="
            f"{tls.root_cert if tls and tls.root_cert else '(the system CAs)'}: the database server's "
            f"certificate is refused: {refusal}"
        ) from None
    finally:
        await engine.dispose()
    if before != after:
        log.info("database schema migrated from %s to %s", before or "an empty database", after)
    else:
        log.info("database schema is up to date at %s", after)


def _bind(host: str, port: int, names: str) -> socket.socket:
    try:
        sock = socket.create_server((host, port), backlog=2048)
    except OSError as error:
        raise ConfigurationError(f"cannot listen on {host}:{port} ({names}): {error.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _listen(settings: Settings) -> socket.socket:
    return _bind(settings.host, settings.port, "APP_BROKER_HOST, APP_BROKER_PORT")


def _listen_status(settings: Settings) -> socket.socket | None:
    if not settings.status_port:
        return None
    return _bind(settings.host, settings.status_port, "APP_BROKER_HOST, APP_BROKER_STATUS_PORT")


def _supervise(
    settings: Settings, sock: socket.socket, status_sock: socket.socket | None, landscape: LandscapeUse | None
) -> int:
    """Run the HTTP workers until a signal or until one of them (or the landscape) exits; 1 if one did."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker_main, args=(sock, status_sock), name=f"keb-http-{number}")
        for number in range(settings.serving.workers)
    ]
    for worker in workers:
        worker.start()
    log.info(
        "%d HTTP worker processes (pids %s) serve http://%s:%d",
        len(workers),
        ", ".join(str(worker.pid) for worker in workers),
        settings.host,
        settings.port,
    )
    failure = ""
    while not stop.wait(0.2):
        gone = [worker for worker in workers if not worker.is_alive()]
        if gone:
            failure = f"HTTP worker {gone[0].pid} exited (status {gone[0].exitcode})"
            break
        if landscape is not None and not landscape.alive():
            failure = "the local landscape process exited"
            break
    if failure:
        log.error("%s: the broker stops", failure)
    for worker in workers:
        if worker.is_alive() and worker.pid is not None:
            os.kill(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + settings.serving.shutdown_grace + 10.0
    for worker in workers:
        worker.join(timeout=max(deadline - time.monotonic(), 0.0))
        if worker.is_alive():
            log.warning("HTTP worker %s did not stop within the grace period; killing it", worker.pid)
            worker.kill()
            worker.join()
    return 1 if failure else 0


def serve(settings: Settings) -> int:
    """``keb serve``: migrate, start or use the local landscape, run the HTTP workers; the exit status."""
    sock = _listen(settings)  # first: a broker already on this port stops here, having touched nothing
    try:
        status_sock = _listen_status(settings)
    except ConfigurationError:
        sock.close()
        raise
    if status_sock is not None:
        log.info("health, readiness and metrics also on http://%s:%d", settings.host, settings.status_port)
    landscape: LandscapeUse | None = None
    try:
        asyncio.run(migrate_database(settings))
        if settings.cluster_mode == "local":
            landscape = start_or_attach(landscape_config(settings))
        if settings.serving.workers == 1:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, _ignore_signal)
            log.info(
                "one HTTP worker (pid %d) serves http://%s:%d", os.getpid(), settings.host, settings.port
            )
            run_worker(settings, sock, status_sock)
            status = 0
        else:
            status = _supervise(settings, sock, status_sock, landscape)
    finally:
        sock.close()
        if status_sock is not None:
            status_sock.close()
        if landscape is not None:
            landscape.close()
    log.info("the broker stopped")
    return status
