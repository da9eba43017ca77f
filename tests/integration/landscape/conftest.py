"""Fixtures: a started API double on 127.0.0.1:0 with a fake clock, its KCP cluster and clients."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config

from keb_app.landscape import FakeCluster, KubeApiServer

from .support import FakeClock

ClientFactory = Callable[[dict[str, Any]], Any]


@pytest.fixture
def clock() -> FakeClock:
    """The server's clock, starting at the real time so TLS and timestamps look normal."""
    return FakeClock(float(int(time.time())))


@pytest.fixture
def server(clock: FakeClock) -> Iterator[KubeApiServer]:
    """A running landscape server, stopped at teardown."""
    with KubeApiServer(clock=clock) as running:
        yield running


@pytest.fixture
def kcp(server: KubeApiServer) -> FakeCluster:
    """The KCP cluster with namespaces default and kcp-system."""
    return server.add_cluster("kcp", namespaces=("default", "kcp-system"))


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """Builds sync ApiClients from kubeconfig dicts and closes them at teardown."""
    clients: list[Any] = []

    def make(kubeconfig: dict[str, Any]) -> Any:
        api = config.new_client_from_config_dict(kubeconfig)
        clients.append(api)
        return api

    yield make
    for api in clients:
        api.close()


@pytest.fixture
def kcp_api(server: KubeApiServer, kcp: FakeCluster, make_client: ClientFactory) -> Any:
    """An admin ApiClient for the KCP cluster (bearer token)."""
    return make_client(server.admin_kubeconfig("kcp"))


@pytest.fixture
def core(kcp_api: Any) -> Any:
    return client.CoreV1Api(kcp_api)


@pytest.fixture
def rbac(kcp_api: Any) -> Any:
    return client.RbacAuthorizationV1Api(kcp_api)


@pytest.fixture
def custom(kcp_api: Any) -> Any:
    return client.CustomObjectsApi(kcp_api)
