"""Per-route fault injection, for exercising the broker's retries of temporary failures."""

from __future__ import annotations

from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from keb_app.landscape import FakeCluster


def _config_map(name: str) -> Any:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))


def test_injected_503_fails_once_then_the_route_recovers(kcp: FakeCluster, core: Any) -> None:
    """A one-shot 503 fails the first matching request only; other routes are untouched."""
    kcp.inject_fault("GET", r"/namespaces/default/configmaps$", 503)
    assert core.list_namespaced_secret("default").items == []
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default")
    assert caught.value.status == 503
    assert core.list_namespaced_config_map("default").items == []
    assert [r.status for r in kcp.requests] == [200, 503, 200]


def test_injected_fault_repeats_as_often_as_asked(kcp: FakeCluster, core: Any) -> None:
    """A fault with times=2 fails two matching requests, then the route works again."""
    kcp.inject_fault("POST", r"/configmaps$", 500, times=2)
    statuses = []
    for _ in range(3):
        try:
            core.create_namespaced_config_map("default", _config_map("cm"))
            statuses.append(201)
        except ApiException as error:
            statuses.append(error.status)
    assert statuses == [500, 500, 201]


def test_injected_timeout_outlasts_the_client_timeout(kcp: FakeCluster, core: Any) -> None:
    """A timeout fault holds the answer past the client's read timeout, so the call fails with a timeout."""
    kcp.inject_fault("GET", r"/configmaps$", "timeout", times=None, delay=10)
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.list_namespaced_config_map("default", _request_timeout=(2, 0.3))
    kcp.clear_faults()
    assert core.list_namespaced_config_map("default", _request_timeout=(2, 2)).items == []
    assert {r.status for r in kcp.requests[:-1]} == {0}


def test_dropped_connection_does_not_reach_the_store(kcp: FakeCluster, core: Any) -> None:
    """A dropped connection fails the create without creating anything; the retry then succeeds."""
    kcp.inject_fault("POST", r"/configmaps$", "drop")
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.create_namespaced_config_map("default", _config_map("cm"))
    assert kcp.get("configmaps", "cm", "default") is None
    core.create_namespaced_config_map("default", _config_map("cm"))
    assert kcp.get("configmaps", "cm", "default") is not None
