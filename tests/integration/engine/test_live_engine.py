"""The real asyncio engine on the real clock: a provisioning over HTTP finishes on its own."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.system import SystemClock
from keb_app.bootstrap import build_services
from tests.integration.http.conftest import asgi_client, instance_path
from tests.support import OSB, provision_body, settings_for_tests


@pytest.mark.parametrize("storage_kind", ["memory", "sqlite"])
async def test_a_provisioning_over_http_succeeds_with_the_real_engine(
    tmp_path: Path, storage_kind: str
) -> None:
    """With the asyncio engine running on the real clock, a PUT reaches succeeded on its own."""
    kcp = MemoryControlPlane(SystemClock(), ready_after=0.2)
    services = build_services(
        settings_for_tests({"APP_DATA_DIR": str(tmp_path), "APP_OPERATION_POLL_INTERVAL": "50ms"}),
        storage=MemoryStorage() if storage_kind == "memory" else None,
        control_plane=kcp,
        run_engine=True,
        idle_poll=0.05,
    )
    await services.start()
    try:
        async with asgi_client(services) as client:
            created = await client.put(instance_path("inst-1"), headers=OSB, json=provision_body())
            assert created.status_code == 202
            operation = created.json()["operation"]
            deadline = time.monotonic() + 15
            state = "in progress"
            while state == "in progress" and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                polled = await client.get(
                    f"{instance_path('inst-1')}/last_operation", headers=OSB, params={"operation": operation}
                )
                state = polled.json()["state"]
            assert state == "succeeded"
            fetched = await client.get(instance_path("inst-1"), headers=OSB)
            assert fetched.status_code == 200
    finally:
        await services.stop()
