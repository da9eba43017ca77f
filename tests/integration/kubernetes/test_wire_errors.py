"""How the real adapter reports transport failures and refusals: injected 5xx, timeouts and dropped
connections become the retryable ClusterUnavailableError, refused credentials ClusterForbiddenError."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from keb_adapters.kubernetes.client import KubeClient, LazyClient
from keb_adapters.kubernetes.control_plane import KubernetesControlPlane
from keb_adapters.kubernetes.gardener import KubernetesGardener
from keb_adapters.kubernetes.runtime_clusters import KubernetesRuntimeClusters
from keb_app.landscape import FakeCluster, KimSimulator, KubeApiServer
from keb_app.landscape._faults import FaultAction
from keb_domain.errors import ClusterForbiddenError, ClusterUnavailableError
from keb_domain.model.binding import BindingIdentity

from .conftest import REQUEST_TIMEOUT
from .support import (
    MANAGED_BY,
    RUNTIMES_PATH,
    calls,
    connections_closed,
    ensure_identity,
    runtime_body,
)


@pytest.mark.parametrize("fault", [500, 503, 429, "drop"])
async def test_failed_request_is_unavailable_and_the_retry_works(
    kcp: FakeCluster, control_plane: KubernetesControlPlane, fault: FaultAction
) -> None:
    """A 5xx, 429 or dropped connection is ClusterUnavailableError; the next call goes through."""
    kcp.inject_fault("POST", "/runtimes$", fault, 1)
    with pytest.raises(ClusterUnavailableError):
        await control_plane.create_runtime(runtime_body("rt-1"))
    await control_plane.create_runtime(runtime_body("rt-1"))
    assert kcp.get("runtimes", "rt-1", "kcp-system") is not None


async def test_dropped_read_is_retried_by_the_client(
    kcp: FakeCluster, control_plane: KubernetesControlPlane
) -> None:
    """aiohttp repeats an idempotent GET whose connection was closed without an answer, once."""
    kcp.create("runtimes", runtime_body("rt-1"))
    kcp.inject_fault("GET", "/runtimes/rt-1$", "drop", 1)
    assert await control_plane.get_runtime("rt-1") is not None
    assert [status for _, _, status in calls(kcp, f"{RUNTIMES_PATH}/rt-1")] == [0, 200]


async def test_timeout_is_unavailable_after_the_request_timeout(
    api_server: KubeApiServer, kcp: FakeCluster, control_plane: KubernetesControlPlane
) -> None:
    """A server that does not answer costs APP_KUBERNETES_REQUEST_TIMEOUT, then ClusterUnavailableError."""
    kcp.inject_fault("POST", "/runtimes$", "timeout", 1, delay=REQUEST_TIMEOUT + 1)
    started = time.monotonic()
    with pytest.raises(ClusterUnavailableError, match="timed out"):
        await control_plane.create_runtime(runtime_body("rt-1"))
    elapsed = time.monotonic() - started
    await connections_closed(api_server.port)
    assert REQUEST_TIMEOUT <= elapsed < REQUEST_TIMEOUT + 1  # before the server would have hung up
    assert calls(kcp) == [("POST", RUNTIMES_PATH, 0)]


async def test_unreachable_server_is_unavailable(api_server: KubeApiServer, kcp: FakeCluster) -> None:
    """A refused connection (the server is gone) is ClusterUnavailableError."""
    kubeconfig = api_server.admin_kubeconfig("kcp")
    api_server.stop()
    client = await KubeClient.from_kubeconfig(kubeconfig, REQUEST_TIMEOUT)
    try:
        with pytest.raises(ClusterUnavailableError):
            await KubernetesControlPlane(LazyClient(_constant(client))).get_runtime("rt-1")
    finally:
        await client.close()


def _constant(client: KubeClient) -> Callable[[], Awaitable[KubeClient]]:
    async def connect() -> KubeClient:
        return client

    return connect


@pytest.fixture
async def stranger(api_server: KubeApiServer, kcp: FakeCluster) -> AsyncIterator[KubernetesControlPlane]:
    """The control plane adapter with a bearer token the KCP cluster does not know."""
    kubeconfig = api_server.admin_kubeconfig("kcp")
    kubeconfig["users"][0]["user"]["token"] = "not-a-token-of-this-cluster"

    async def connect() -> KubeClient:
        return await KubeClient.from_kubeconfig(kubeconfig, REQUEST_TIMEOUT)

    lazy = LazyClient(connect)
    yield KubernetesControlPlane(lazy)
    await lazy.close()


async def test_refused_credentials_are_forbidden(stranger: KubernetesControlPlane) -> None:
    """A 401 from KCP is ClusterForbiddenError, not a missing object."""
    with pytest.raises(ClusterForbiddenError):
        await stranger.get_runtime("rt-1")


async def test_gardener_outage_is_unavailable(
    garden: FakeCluster, kcp: FakeCluster, kim: KimSimulator, gardener: KubernetesGardener
) -> None:
    """A 503 on adminkubeconfig is ClusterUnavailableError."""
    kcp.create("runtimes", runtime_body("rt-1", "c-1234567"))
    kim.step()
    garden.inject_fault("POST", "/adminkubeconfig$", 503)
    with pytest.raises(ClusterUnavailableError):
        await gardener.request_admin_kubeconfig("c-1234567", 600)


async def test_runtime_cluster_outage_is_unavailable(
    api_server: KubeApiServer,
    kcp: FakeCluster,
    kim: KimSimulator,
    runtime_clusters: KubernetesRuntimeClusters,
) -> None:
    """A 503 from the runtime cluster during ensure_binding_identity is ClusterUnavailableError."""
    kcp.create("runtimes", runtime_body("rt-1", "c-1234567"))
    kim.step()
    api_server.cluster("skr-rt-1").inject_fault("POST", "/clusterroles$", 503)
    with pytest.raises(ClusterUnavailableError):
        await ensure_identity(runtime_clusters, "rt-1", BindingIdentity("kyma-binding-b1", labels=MANAGED_BY))
