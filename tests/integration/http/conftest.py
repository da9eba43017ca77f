"""An in-process broker behind Litestar's async test client, driven by a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest
from litestar.testing import AsyncTestClient

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.memory.storage import MemoryStorage
from keb_app.app import create_app
from keb_app.bootstrap import Services, build_services
from tests.support import OSB, FakeClock, SequentialIds, settings_for_tests


@attrs.define
class Broker:
    """The app plus handles on what stands behind it."""

    client: AsyncTestClient[Any]
    services: Services
    clock: FakeClock
    kcp: MemoryControlPlane

    async def settle(self, rounds: int = 200) -> None:
        """Run the workers, moving the clock to each next due time, until no operation is unfinished."""
        for _ in range(rounds):
            due = await self.services.storage.next_due_at()
            if due is None:
                return
            if due > self.clock.now():
                self.clock.current = due
            await self.services.engine.run_once()
        raise AssertionError("operations did not settle")

    async def osb(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**OSB, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)


async def make_broker(env: dict[str, str] | None = None, ready_after: float = 3.0) -> AsyncIterator[Broker]:
    clock = FakeClock()
    kcp = MemoryControlPlane(clock, ready_after=ready_after, deletion_delay=2.0)
    services = build_services(
        settings_for_tests(env),
        storage=MemoryStorage(),
        control_plane=kcp,
        clock=clock,
        ids=SequentialIds(),
        run_engine=False,
    )
    async with AsyncTestClient(create_app(services)) as client:
        yield Broker(client, services, clock, kcp)


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    async for value in make_broker():
        yield value
