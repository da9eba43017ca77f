"""Fixtures: the API double on 127.0.0.1 with KCP and garden clusters, a hand-stepped KIM, the real
adapters over HTTPS, and ``side``, which runs a contract test once against the real adapters and once
against the memory implementations of the same ports."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest

from keb_adapters.kubernetes.client import KubeClient, LazyClient
from keb_adapters.kubernetes.control_plane import KubernetesControlPlane, KubernetesRuntimeConfiguration
from keb_adapters.kubernetes.gardener import KubernetesCredentialsBindings, KubernetesGardener
from keb_adapters.kubernetes.resources import KcpResources
from keb_adapters.kubernetes.runtime_clusters import KubernetesRuntimeClusters
from keb_adapters.memory.clusters import MemoryControlPlane, MemoryGardener, MemoryRuntimeClusters
from keb_app.landscape import FakeCluster, KimSimulator, KubeApiServer
from keb_app.landscape.pools import CREDENTIALS_BINDINGS, credentials_binding, local_pools
from keb_domain.ports import Gardener, RuntimeClusters
from tests.support import FakeClock

from .support import (
    GARDEN_NAMESPACE,
    ManualClock,
    kubeconfig_secret_text,
    namespaces_status,
    runtime_body,
    with_token,
)

#: Seconds of KIM's clock a Runtime stays Pending, and between seeing a deletion and lifting the finalizer.
READY_AFTER = 60.0
DELETE_AFTER = 10.0
#: Request timeout of the real adapters in these tests: short, so an injected timeout costs little.
REQUEST_TIMEOUT = 1.0


@pytest.fixture
def api_server() -> Iterator[KubeApiServer]:
    """The API double on an ephemeral loopback port, with the real clock."""
    with KubeApiServer("127.0.0.1", 0) as server:
        yield server


@pytest.fixture
def kcp(api_server: KubeApiServer) -> FakeCluster:
    return api_server.add_cluster("kcp", namespaces=("default", "kcp-system"))


@pytest.fixture
def garden(api_server: KubeApiServer) -> FakeCluster:
    return api_server.add_cluster("garden", namespaces=("default", GARDEN_NAMESPACE))


@pytest.fixture
def kim_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def kim(
    api_server: KubeApiServer, kcp: FakeCluster, garden: FakeCluster, kim_clock: ManualClock
) -> KimSimulator:
    """KIM, not started: tests call ``step()`` and move ``kim_clock``."""
    return KimSimulator(api_server, ready_after=READY_AFTER, delete_after=DELETE_AFTER, clock=kim_clock)


def _lazy(server: KubeApiServer, cluster: str) -> LazyClient:
    async def connect() -> KubeClient:
        return await KubeClient.from_kubeconfig(server.admin_kubeconfig(cluster), REQUEST_TIMEOUT)

    return LazyClient(connect)


@pytest.fixture
async def kcp_client(api_server: KubeApiServer, kcp: FakeCluster) -> AsyncIterator[LazyClient]:
    """An admin client of the KCP cluster (bearer token), closed at teardown."""
    lazy = _lazy(api_server, "kcp")
    yield lazy
    await lazy.close()


@pytest.fixture
async def garden_client(api_server: KubeApiServer, garden: FakeCluster) -> AsyncIterator[LazyClient]:
    """An admin client of the garden cluster (client certificate), closed at teardown."""

    async def connect() -> KubeClient:
        kubeconfig = api_server.admin_kubeconfig("garden", auth="certificate")
        return await KubeClient.from_kubeconfig(kubeconfig, REQUEST_TIMEOUT)

    lazy = LazyClient(connect)
    yield lazy
    await lazy.close()


@pytest.fixture
def control_plane(kcp_client: LazyClient) -> KubernetesControlPlane:
    return KubernetesControlPlane(kcp_client)


@pytest.fixture
def gardener(garden_client: LazyClient) -> KubernetesGardener:
    return KubernetesGardener(garden_client, "kyma-dev")


@pytest.fixture
def runtime_configuration(kcp_client: LazyClient) -> KubernetesRuntimeConfiguration:
    """The real reader of the runtime configuration ConfigMap ``kcp-system/keb-runtime-config``."""
    return KubernetesRuntimeConfiguration(kcp_client)


@pytest.fixture
def credentials_bindings(garden: FakeCluster, garden_client: LazyClient) -> KubernetesCredentialsBindings:
    """The real adapter over the garden cluster, whose project namespace holds the local pools."""
    for name, labels in local_pools(3):
        garden.create(
            CREDENTIALS_BINDINGS, credentials_binding(name, GARDEN_NAMESPACE, labels), GARDEN_NAMESPACE
        )
    return KubernetesCredentialsBindings(garden_client, "kyma-dev")


@pytest.fixture
def runtime_clusters(control_plane: KubernetesControlPlane) -> KubernetesRuntimeClusters:
    return KubernetesRuntimeClusters(control_plane, REQUEST_TIMEOUT)


# --- one contract, two implementations ------------------------------------------------------------------


class Side(abc.ABC):
    """The three cluster ports of one implementation, and what a test needs to drive the world behind them."""

    control_plane: KcpResources
    gardener: Gardener
    runtime_clusters: RuntimeClusters

    @abc.abstractmethod
    def now(self) -> datetime:
        """The time the implementation stamps credentials with."""

    @abc.abstractmethod
    async def add_runtime(self, runtime_id: str, shoot: str) -> None:
        """A Runtime CR for which KIM has made the Shoot, the runtime cluster and its kubeconfig Secret."""

    @abc.abstractmethod
    def reconcile(self) -> None:
        """KIM looks at every Runtime once, without time passing."""

    @abc.abstractmethod
    def finish_deletion(self) -> None:
        """Enough time passes for KIM to finish deleting what is marked for deletion."""

    @abc.abstractmethod
    def make_ready(self) -> None:
        """Enough time passes for KIM to turn every Pending Runtime Ready."""

    @abc.abstractmethod
    def fail(self, name: str, message: str) -> None:
        """KIM reports the Runtime Failed with ``message``."""

    @abc.abstractmethod
    async def token_works(self, runtime_id: str, token: str) -> bool:
        """Whether the runtime cluster accepts requests with this bearer token."""


class KubernetesSide(Side):
    def __init__(
        self,
        *,
        kcp: FakeCluster,
        kim: KimSimulator,
        kim_clock: ManualClock,
        control_plane: KubernetesControlPlane,
        gardener: KubernetesGardener,
        runtime_clusters: KubernetesRuntimeClusters,
    ) -> None:
        self._kcp = kcp
        self._kim = kim
        self._kim_clock = kim_clock
        self.control_plane = control_plane
        self.gardener = gardener
        self.runtime_clusters = runtime_clusters

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def add_runtime(self, runtime_id: str, shoot: str) -> None:
        self._kcp.create("runtimes", runtime_body(runtime_id.lower(), shoot))
        self._kim.step()

    def reconcile(self) -> None:
        self._kim.step()

    def finish_deletion(self) -> None:
        self._kim.step()
        self._kim_clock.advance(DELETE_AFTER)
        self._kim.step()

    def make_ready(self) -> None:
        self._kim.step()
        self._kim_clock.advance(READY_AFTER)
        self._kim.step()

    def fail(self, name: str, message: str) -> None:
        self._kim.fail(name, message)

    async def token_works(self, runtime_id: str, token: str) -> bool:
        """Proven with the official sync client: 200 works, 401 or 403 is refused, anything else fails."""
        kubeconfig = with_token(kubeconfig_secret_text(self._kcp, runtime_id.lower()), token)
        status = await namespaces_status(kubeconfig)
        assert status in (200, 401, 403), f"unexpected HTTP {status}"
        return status == 200


class MemorySide(Side):
    def __init__(self) -> None:
        self.clock = FakeClock(datetime.now(UTC))
        self.memory = MemoryControlPlane(self.clock, ready_after=READY_AFTER, deletion_delay=DELETE_AFTER)
        self.memory_clusters = MemoryRuntimeClusters(self.memory, self.clock)
        self.control_plane = self.memory
        self.gardener = MemoryGardener(self.memory, self.clock)
        self.runtime_clusters = self.memory_clusters

    def now(self) -> datetime:
        return self.clock.now()

    async def add_runtime(self, runtime_id: str, shoot: str) -> None:
        await self.memory.create_runtime(runtime_body(runtime_id.lower(), shoot))

    def reconcile(self) -> None:
        """The memory KIM reacts whenever an object is read; nothing to do."""

    def finish_deletion(self) -> None:
        self.clock.advance(DELETE_AFTER)

    def make_ready(self) -> None:
        self.clock.advance(READY_AFTER)

    def fail(self, name: str, message: str) -> None:
        self.memory.fail_runtime(name, message)

    async def token_works(self, runtime_id: str, token: str) -> bool:
        return self.memory_clusters.token_works(runtime_id, token)


@pytest.fixture(params=["kubernetes", "memory"])
def side(request: pytest.FixtureRequest) -> Side:
    """The real adapters over HTTPS against the double, then the memory implementations."""
    if request.param == "memory":
        return MemorySide()
    return KubernetesSide(
        kcp=request.getfixturevalue("kcp"),
        kim=request.getfixturevalue("kim"),
        kim_clock=request.getfixturevalue("kim_clock"),
        control_plane=request.getfixturevalue("control_plane"),
        gardener=request.getfixturevalue("gardener"),
        runtime_clusters=request.getfixturevalue("runtime_clusters"),
    )
