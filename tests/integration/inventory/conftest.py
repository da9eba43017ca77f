"""A broker for the inventory endpoints: the HTTP app over memory storage, a memory control plane whose KIM
fails the runtimes of chosen instances, and helpers that read ``/runtimes`` and ``/info/runtimes``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import attrs
import httpx
import pytest

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_domain.model.instance import Instance
from tests.integration.http.conftest import Broker, make_broker
from tests.support import AWS, AZURE, SERVICE, TRIAL, FakeClock, provision_body

# A runtime KIM fails ends its provisioning after this long instead of an hour.
FAST_FAILURE = {"APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_CREATE": "10s"}
OIDC = {
    "clientID": "client",
    "issuerURL": "https://issuer.example.com",
    "groupsClaim": "groups",
    "groupsPrefix": "-",
    "usernameClaim": "sub",
    "usernamePrefix": "-",
    "signingAlgs": ["RS256"],
}

Query = Mapping[str, str] | Sequence[tuple[str, str]]


def query_params(params: Query | None) -> httpx.QueryParams:
    """Query parameters from a mapping or from pairs (pairs can repeat a key)."""
    items = params.items() if isinstance(params, Mapping) else params or ()
    pairs: list[tuple[str, str | int | float | bool | None]] = [(k, v) for k, v in items]
    return httpx.QueryParams(pairs)


def aws(ga: str = "ga-1", sa: str = "sa-1", name: str = "my-cluster", **parameters: Any) -> dict[str, Any]:
    """An aws provisioning body in eu-central-1."""
    return provision_body(AWS, {"name": name, "region": "eu-central-1", **parameters}, ga=ga, sa=sa)


def azure(ga: str = "ga-2", sa: str = "sa-2", name: str = "blue") -> dict[str, Any]:
    """An azure provisioning body in westeurope."""
    return provision_body(AZURE, {"name": name, "region": "westeurope"}, ga=ga, sa=sa)


def trial(ga: str = "ga-t", sa: str = "sa-t") -> dict[str, Any]:
    """A trial provisioning body (one trial per global account)."""
    return provision_body(TRIAL, {"name": "my-trial"}, ga=ga, sa=sa)


@attrs.define(repr=False)
class InventoryBroker(Broker):
    """A broker plus the set of instances whose runtimes KIM reports ``Failed``."""

    failing: set[str] = attrs.field(factory=set, kw_only=True)

    async def runtimes(self, params: Query | None = None) -> dict[str, Any]:
        """``GET /runtimes``; fails the test unless it is 200."""
        response = await self.client.get("/runtimes", params=query_params(params))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def listed(self, params: Query | None = None) -> list[str]:
        """The instance ids ``GET /runtimes`` returns, in order."""
        return [item["instanceID"] for item in (await self.runtimes(params))["data"]]

    async def runtime(self, instance_id: str, params: Query | None = None) -> dict[str, Any]:
        """The one RuntimeDTO of an instance (``state=all``, or as ``params`` say)."""
        query = params if params is not None else {"state": "all"}
        items = [i for i in (await self.runtimes(query))["data"] if i["instanceID"] == instance_id]
        assert len(items) == 1, items
        item: dict[str, Any] = items[0]
        return item

    async def info(self) -> list[dict[str, Any]]:
        """``GET /info/runtimes``; fails the test unless it is 200 JSON."""
        response = await self.client.get("/info/runtimes")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        items: list[dict[str, Any]] = response.json()
        return items

    async def stored(self, instance_id: str) -> Instance:
        async with self.services.storage() as uow:
            found = await uow.instances.get(instance_id)
        assert found is not None, f"{instance_id} is not stored"
        return found

    async def suspend(self, instance_id: str) -> None:
        """Deactivate a trial as the platform does (``context.active=false``) and wait for the suspension."""
        response = await self.patch(instance_id, {"service_id": SERVICE, "context": {"active": False}})
        assert response.status_code in (200, 202), response.text  # the suspension runs on its own
        await self.settle()

    async def unsuspend(self, instance_id: str) -> httpx.Response:
        response = await self.patch(instance_id, {"service_id": SERVICE, "context": {"active": True}})
        assert response.status_code in (200, 202), response.text
        return response

    async def deprovisioned(self, instance_id: str, plan_id: str = AWS) -> None:
        """DELETE and wait until the instance is archived."""
        response = await self.deprovision(instance_id, plan_id)
        assert response.status_code == 202, response.text
        await self.settle()


async def make_inventory_broker(env: dict[str, str] | None = None) -> AsyncIterator[InventoryBroker]:
    clock = FakeClock()
    failing: set[str] = set()

    def kim_verdict(runtime: Mapping[str, Any]) -> str | None:
        labels = runtime.get("metadata", {}).get("labels", {})
        return (
            "KIM could not create the shoot" if labels.get("kyma-project.io/instance-id") in failing else None
        )

    kcp = MemoryControlPlane(clock, ready_after=3.0, deletion_delay=2.0, fail_when=kim_verdict)
    async for broker in make_broker({**FAST_FAILURE, **(env or {})}, kcp=kcp, clock=clock):
        yield InventoryBroker(broker.client, broker.services, clock, kcp, failing=failing)


@pytest.fixture
async def broker() -> AsyncIterator[InventoryBroker]:
    async for value in make_inventory_broker():
        yield value
