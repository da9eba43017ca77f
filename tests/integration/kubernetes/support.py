"""Helpers for the Kubernetes adapter tests: CR bodies, a manual clock, a wire tap, token checks."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from keb_app.landscape import FakeCluster
from keb_app.landscape._routing import ApiRequest, ApiResponse
from keb_domain.model.binding import BindingIdentity
from keb_domain.ports import IssuedCredentials, RuntimeClusters

KUBECTL = "/usr/bin/kubectl"
KCP_NAMESPACE = "kcp-system"
GARDEN_NAMESPACE = "garden-kyma-dev"
RUNTIMES_PATH = "/apis/infrastructuremanager.kyma-project.io/v1/namespaces/kcp-system/runtimes"
KYMAS_PATH = "/apis/operator.kyma-project.io/v1beta2/namespaces/kcp-system/kymas"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"}


async def ensure_identity(clusters: RuntimeClusters, runtime_id: str, identity: BindingIdentity) -> None:
    """``ensure_binding_identity`` over a connection of its own."""
    async with clusters.connect(runtime_id) as cluster:
        await cluster.ensure_binding_identity(identity)


async def request_token(
    clusters: RuntimeClusters, runtime_id: str, name: str, expiration_seconds: int
) -> IssuedCredentials:
    """``request_token`` over a connection of its own."""
    async with clusters.connect(runtime_id) as cluster:
        return await cluster.request_token(name, expiration_seconds)


async def delete_identity(clusters: RuntimeClusters, runtime_id: str, name: str) -> None:
    """``delete_binding_identity`` over a connection of its own."""
    async with clusters.connect(runtime_id) as cluster:
        await cluster.delete_binding_identity(name)


class ManualClock:
    """Monotonic seconds for the KIM simulator that only move when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def runtime_body(name: str, shoot: str = "c-1234567") -> dict[str, Any]:
    """A Runtime CR with every field the CRD requires."""
    return {
        "apiVersion": "infrastructuremanager.kyma-project.io/v1",
        "kind": "Runtime",
        "metadata": {
            "name": name,
            "namespace": KCP_NAMESPACE,
            "labels": {"kyma-project.io/runtime-id": name},
        },
        "spec": {
            "shoot": {
                "name": shoot,
                "purpose": "evaluation",
                "platformRegion": "cf-eu10",
                "region": "eu-central-1",
                "secretBindingName": "aws",
                "provider": {
                    "type": "aws",
                    "workers": [{"name": "cpu-worker-0", "minimum": 1, "maximum": 3}],
                },
                "networking": {
                    "type": "calico",
                    "pods": "10.96.0.0/13",
                    "services": "10.104.0.0/13",
                    "nodes": "10.250.0.0/16",
                },
            },
            "security": {
                "administrators": ["admin@example.com"],
                "networking": {"filter": {"egress": {"enabled": False}}},
            },
        },
    }


def kyma_body(name: str) -> dict[str, Any]:
    """A Kyma CR as the default template makes it."""
    return {
        "apiVersion": "operator.kyma-project.io/v1beta2",
        "kind": "Kyma",
        "metadata": {
            "name": name,
            "namespace": KCP_NAMESPACE,
            "labels": {"operator.kyma-project.io/managed-by": "lifecycle-manager"},
        },
        "spec": {"channel": "regular", "modules": [{"name": "istio"}]},
    }


@attrs.frozen
class WireRequest:
    """One request a cluster answered over HTTP, with the decoded JSON bodies (None when empty)."""

    method: str
    path: str
    status: int
    body: Any = attrs.field(repr=False)
    response: Any = attrs.field(repr=False)


class WireTap:
    """Records the bodies of the HTTP requests a cluster answers; its request log keeps no bodies.

    Requests answered by an injected fault never reach the cluster and are not recorded here.
    """

    def __init__(self, cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
        self.requests: list[WireRequest] = []
        handle = cluster.handle

        def tapped(request: ApiRequest) -> ApiResponse:
            response = handle(request)
            body = json.loads(request.body) if request.body else None
            self.requests.append(
                WireRequest(request.method, request.path, response.status, body, response.json())
            )
            return response

        monkeypatch.setattr(cluster, "handle", tapped)

    def bodies(self, method: str, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.method == method and r.path == path]


async def connections_closed(port: int, deadline: float = 5.0) -> None:
    """Bounded polling until no open asyncio connection to ``port`` is left.

    A request that timed out leaves its TLS connection in a graceful shutdown until the server hangs up,
    which an injected ``"timeout"`` fault does after its delay. A test that ends earlier would close its
    event loop under that connection, and the socket would leak.
    """
    stop = time.monotonic() + deadline
    while True:
        gc.collect()
        open_transports = [
            o
            for o in gc.get_objects()
            if isinstance(o, asyncio.Transport)
            and not o.is_closing()
            and (o.get_extra_info("peername") or ("", 0))[1] == port
        ]
        if not open_transports:
            return
        if time.monotonic() > stop:
            raise AssertionError(f"{len(open_transports)} connection(s) to port {port} still open")
        await asyncio.sleep(0.05)


def calls(cluster: FakeCluster, prefix: str = "/") -> list[tuple[str, str, int]]:
    """``(method, path, status)`` of the logged requests whose path starts with ``prefix``."""
    return [(r.method, r.path, r.status) for r in cluster.requests if r.path.startswith(prefix)]


def kubeconfig_secret_text(kcp: FakeCluster, runtime_name: str) -> str:
    secret = kcp.get("secrets", f"kubeconfig-{runtime_name}", KCP_NAMESPACE)
    assert secret is not None, f"KIM has not written kubeconfig-{runtime_name}"
    return base64.b64decode(secret["data"]["config"]).decode()


def with_token(admin_kubeconfig: str, token: str) -> dict[str, Any]:
    """The admin kubeconfig's current cluster with a bearer token instead of the admin's credentials."""
    document = yaml.safe_load(admin_kubeconfig)
    cluster = document["clusters"][0]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "binding",
        "clusters": [{"name": "binding", "cluster": cluster["cluster"]}],
        "contexts": [{"name": "binding", "context": {"cluster": "binding", "user": "binding"}}],
        "users": [{"name": "binding", "user": {"token": token}}],
    }


def _list_namespaces(kubeconfig: Mapping[str, Any]) -> int:
    api = config.new_client_from_config_dict(dict(kubeconfig))
    try:
        client.CoreV1Api(api).list_namespace(_request_timeout=10)
    except ApiException as error:
        return int(error.status)
    finally:
        api.close()
    return 200


async def namespaces_status(kubeconfig: Mapping[str, Any]) -> int:
    """The HTTP status of listing namespaces with the official sync client (off the event loop)."""
    return await asyncio.to_thread(_list_namespaces, kubeconfig)


def kubectl(home: Path, kubeconfig_text: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``kubectl --kubeconfig <file> ARGS``; skips (saying why) when kubectl is not installed."""
    if not Path(KUBECTL).exists():
        print(f"{KUBECTL} is not installed; skipping the kubectl check")
        pytest.skip(f"{KUBECTL} is not installed")
    home.mkdir(parents=True, exist_ok=True)
    path = home / "kubeconfig.yaml"
    path.write_text(kubeconfig_text, encoding="utf-8")
    path.chmod(0o600)
    # A private HOME keeps kubectl's discovery cache out of the developer's home directory.
    env = {**os.environ, "HOME": str(home)}
    env.pop("KUBECONFIG", None)
    return subprocess.run(  # noqa: S603 - fixed binary, arguments from the test
        [KUBECTL, "--kubeconfig", str(path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
