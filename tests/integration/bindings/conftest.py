"""A broker for binding tests: the HTTP app over memory storage and a memory control plane, with handles on
the Gardener and the runtime clusters behind it, and hand-written fakes that block or fail on demand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest
import yaml

from keb_adapters.memory.clusters import MemoryControlPlane, MemoryGardener, MemoryRuntimeClusters
from keb_adapters.memory.storage import MemoryStorage
from keb_app.bootstrap import Storage, build_services
from keb_domain.errors import ClusterError, ClusterUnavailableError
from keb_domain.model.binding import Binding, BindingIdentity
from keb_domain.ports import IssuedCredentials, RuntimeCluster
from tests.integration.http.conftest import Broker, asgi_client, instance_path
from tests.support import AWS, SERVICE, FakeClock, SequentialIds, settings_for_tests


def binding_path(instance_id: str, binding_id: str, region: str | None = None) -> str:
    return f"{instance_path(instance_id, region)}/service_bindings/{binding_id}"


def bind_body(plan_id: str = AWS, **parameters: Any) -> dict[str, Any]:
    return {"service_id": SERVICE, "plan_id": plan_id, "parameters": parameters}


def token_of(kubeconfig: str) -> str:
    """The bearer token of a token binding's kubeconfig."""
    return str(yaml.safe_load(kubeconfig)["users"][0]["user"]["token"])


class Gate:
    """Holds callers until released; says when the first one arrived."""

    def __init__(self) -> None:
        self.closed = False
        self.arrived = asyncio.Event()
        self._opened = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self._opened.clear()

    def open(self) -> None:
        self.closed = False
        self._opened.set()

    async def pass_through(self) -> None:
        self.arrived.set()
        if self.closed:
            await self._opened.wait()


class FakeGardener:
    """The memory Gardener behind a gate, failing the next ``failures`` requests when told to."""

    def __init__(self, inner: MemoryGardener) -> None:
        self.inner = inner
        self.gate = Gate()
        self.failures: list[ClusterError] = []

    async def request_admin_kubeconfig(self, shoot: str, expiration_seconds: int) -> IssuedCredentials:
        await self.gate.pass_through()
        if self.failures:
            raise self.failures.pop(0)
        return await self.inner.request_admin_kubeconfig(shoot, expiration_seconds)


class FakeRuntimeClusters:
    """The memory runtime clusters; token answers can be held or fail, and the clusters can vanish."""

    def __init__(self, inner: MemoryRuntimeClusters) -> None:
        self.inner = inner
        self.identity_gate = Gate()
        self.gate = Gate()
        self.token_failures: list[ClusterError] = []
        self.unreachable = False

    def reach(self) -> None:
        if self.unreachable:
            raise ClusterUnavailableError("the runtime's API server does not answer")

    @contextlib.asynccontextmanager
    async def connect(self, runtime_id: str) -> AsyncIterator[RuntimeCluster]:
        async with self.inner.connect(runtime_id) as cluster:
            yield FakeRuntimeCluster(self, cluster)


class FakeRuntimeCluster:
    """A connection to one memory runtime cluster, held and failed as its FakeRuntimeClusters says."""

    def __init__(self, fakes: FakeRuntimeClusters, inner: RuntimeCluster) -> None:
        self.endpoint = inner.endpoint
        self._fakes = fakes
        self._inner = inner

    async def ensure_binding_identity(self, identity: BindingIdentity) -> None:
        """``identity_gate`` holds the call before anything exists in the runtime."""
        await self._fakes.identity_gate.pass_through()
        self._fakes.reach()
        await self._inner.ensure_binding_identity(identity)

    async def request_token(self, name: str, expiration_seconds: int) -> IssuedCredentials:
        """The gate holds the answer: the token exists in the runtime before the broker receives it."""
        self._fakes.reach()
        if self._fakes.token_failures:
            raise self._fakes.token_failures.pop(0)
        issued = await self._inner.request_token(name, expiration_seconds)
        await self._fakes.gate.pass_through()
        return issued

    async def delete_binding_identity(self, name: str) -> None:
        self._fakes.reach()
        await self._inner.delete_binding_identity(name)


@attrs.define
class BindingBroker(Broker):
    """A broker plus the fakes behind its bindings."""

    gardener: FakeGardener = attrs.field(kw_only=True)
    clusters: FakeRuntimeClusters = attrs.field(kw_only=True)

    async def bind(
        self, instance_id: str, binding_id: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.osb("PUT", binding_path(instance_id, binding_id), json=body or bind_body())

    async def get_binding(self, instance_id: str, binding_id: str) -> httpx.Response:
        return await self.osb("GET", binding_path(instance_id, binding_id))

    async def unbind(self, instance_id: str, binding_id: str, plan_id: str = AWS) -> httpx.Response:
        return await self.osb(
            "DELETE",
            binding_path(instance_id, binding_id),
            params={"service_id": SERVICE, "plan_id": plan_id},
        )

    async def runtime_id(self, instance_id: str) -> str:
        async with self.services.storage() as uow:
            instance = await uow.instances.get(instance_id)
        assert instance is not None, f"{instance_id} is not stored"
        assert instance.runtime_id, f"{instance_id} has no runtime"
        return instance.runtime_id

    async def token_works(self, instance_id: str, kubeconfig: str) -> bool:
        return self.clusters.inner.token_works(await self.runtime_id(instance_id), token_of(kubeconfig))

    async def stored(self, instance_id: str, binding_id: str) -> Binding | None:
        """The binding row as storage holds it."""
        async with self.services.storage() as uow:
            return await uow.bindings.get(instance_id, binding_id)


async def make_binding_broker(
    env: dict[str, str] | None = None,
    ready_after: float = 3.0,
    *,
    storage: Storage | None = None,
) -> AsyncIterator[BindingBroker]:
    """A broker over memory storage (or the given one) whose Gardener and runtime clusters are fakes."""
    clock = FakeClock()
    kcp = MemoryControlPlane(clock, ready_after=ready_after, deletion_delay=2.0)
    gardener = FakeGardener(MemoryGardener(kcp, clock))
    clusters = FakeRuntimeClusters(MemoryRuntimeClusters(kcp, clock))
    services = build_services(
        settings_for_tests(env),
        storage=storage or MemoryStorage(),
        control_plane=kcp,
        clock=clock,
        ids=SequentialIds(),
        gardener=gardener,
        runtime_clusters=clusters,
        run_engine=False,
    )
    await services.start()
    try:
        async with asgi_client(services) as client:
            yield BindingBroker(client, services, clock, kcp, gardener=gardener, clusters=clusters)
    finally:
        gardener.gate.open()
        clusters.gate.open()
        clusters.identity_gate.open()
        await services.stop()


@pytest.fixture
async def broker() -> AsyncIterator[BindingBroker]:
    """A broker with one Ready aws instance ``inst-1`` (named ``my-cluster``)."""
    async for value in make_binding_broker():
        await value.provisioned("inst-1")
        yield value
