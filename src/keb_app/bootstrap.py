"""The composition root: every adapter is built here and nowhere else.

``build_services(settings, **overrides)`` builds without I/O; ``Services.start()`` migrates the database
and starts the workers, ``Services.stop()`` undoes both. Tests pass overrides (a fake clock, memory
storage, a memory control plane) instead of monkeypatching.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol

import attrs

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.sql.database import create_engine, migrate
from keb_adapters.sql.storage import SqlStorage
from keb_adapters.system import RandomIds, SystemClock
from keb_app.engine import OperationEngine
from keb_app.settings import Settings
from keb_domain.ports import Clock, ControlPlane, IdGenerator, OperationQueue, UnitOfWork
from keb_domain.usecases.instances import InstanceUseCases
from keb_domain.usecases.processing import OperationProcessor

log = logging.getLogger("keb")


class Storage(OperationQueue, Protocol):
    """What the broker needs from storage: units of work and the operation queue."""

    def __call__(self) -> UnitOfWork: ...


@attrs.define
class Services:
    settings: Settings
    storage: Storage
    control_plane: ControlPlane
    clock: Clock
    ids: IdGenerator
    instances: InstanceUseCases
    processor: OperationProcessor
    engine: OperationEngine
    run_engine: bool = True
    _startup: list[Callable[[], Awaitable[None]]] = attrs.field(factory=list)
    _shutdown: list[Callable[[], Awaitable[None]]] = attrs.field(factory=list)

    async def start(self) -> None:
        for step in self._startup:
            await step()
        if self.run_engine:
            await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()
        for step in reversed(self._shutdown):
            await step()


def build_services(
    settings: Settings,
    *,
    storage: Storage | None = None,
    control_plane: ControlPlane | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    run_engine: bool = True,
    idle_poll: float = 1.0,
) -> Services:
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    startup: list[Callable[[], Awaitable[None]]] = []
    shutdown: list[Callable[[], Awaitable[None]]] = []
    if storage is None:
        if settings.database_kind == "sqlite":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.database_url)
        storage = SqlStorage(engine)

        async def _migrate() -> None:
            await migrate(engine)

        startup.append(_migrate)
        shutdown.append(engine.dispose)
    if control_plane is None:
        control_plane = MemoryControlPlane(clock, ready_after=settings.local_ready_after, deletion_delay=1.0)
    processor = OperationProcessor(storage, control_plane, clock, ids, settings.broker)
    operation_engine = OperationEngine(
        storage,
        processor,
        clock,
        owner=f"{socket.gethostname()}-{os.getpid()}-{ids.new_id()[:8]}",
        workers=settings.workers,
        lease_seconds=settings.recovery_delay,
        idle_poll=idle_poll,
    )
    instances = InstanceUseCases(storage, clock, ids, settings.broker, notify=operation_engine.wake)
    return Services(
        settings=settings,
        storage=storage,
        control_plane=control_plane,
        clock=clock,
        ids=ids,
        instances=instances,
        processor=processor,
        engine=operation_engine,
        run_engine=run_engine,
        startup=startup,
        shutdown=shutdown,
    )


def memory_storage() -> MemoryStorage:
    """Storage for tests and ``APP_DB_IN_MEMORY``-style runs."""
    return MemoryStorage()
