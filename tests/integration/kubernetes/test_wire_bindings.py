"""What the adapter sends to a runtime cluster, to Gardener and to KCP for bindings, read from the API
double's request log, a tap on request bodies and the stored objects (kubernetes-wire §1.2, §1.3, §1.6)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from keb_adapters.kubernetes.client import KubeClient, LazyClient
from keb_adapters.kubernetes.control_plane import KubernetesControlPlane
from keb_adapters.kubernetes.gardener import KubernetesGardener
from keb_adapters.kubernetes.runtime_clusters import KubernetesRuntimeClusters
from keb_app.landscape import FakeCluster, KimSimulator, KubeApiServer, skr_cluster_name
from keb_domain.errors import ClusterNotFoundError
from keb_domain.model.binding import BindingIdentity

from .conftest import REQUEST_TIMEOUT
from .support import (
    MANAGED_BY,
    WireTap,
    calls,
    delete_identity,
    ensure_identity,
    request_token,
    runtime_body,
)

RUNTIME = "rt-1"
SHOOT = "c-1234567"
NAME = "kyma-binding-b1"
SA_PATH = "/api/v1/namespaces/kyma-system/serviceaccounts"
CR_PATH = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
CRB_PATH = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
SHOOTS_PATH = "/apis/core.gardener.cloud/v1beta1/namespaces/garden-kyma-dev/shoots"


@pytest.fixture
def skr(api_server: KubeApiServer, kcp: FakeCluster, kim: KimSimulator) -> FakeCluster:
    """The runtime cluster KIM made for Runtime rt-1 (with its kubeconfig Secret in KCP)."""
    kcp.create("runtimes", runtime_body(RUNTIME, SHOOT))
    kim.step()
    return api_server.cluster(skr_cluster_name(RUNTIME))


def _jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(claims, dict)
    return claims


# --- the binding identity ---------------------------------------------------------------------------


async def test_identity_is_created_as_service_account_cluster_role_binding_in_order(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """ensure_binding_identity POSTs the ServiceAccount, then the ClusterRole, then the ClusterRoleBinding."""
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    assert calls(skr) == [("POST", SA_PATH, 201), ("POST", CR_PATH, 201), ("POST", CRB_PATH, 201)]


async def test_service_account_is_in_kyma_system_with_the_managed_by_label(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """The ServiceAccount kyma-binding-{id} lives in kyma-system and carries KEB's managed-by label."""
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    account = skr.get("serviceaccounts", NAME, "kyma-system")
    assert account is not None
    assert account["metadata"]["labels"] == MANAGED_BY


async def test_cluster_role_grants_everything(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """The ClusterRole kyma-binding-{id} has the one rule */*/* and the managed-by label, as KEB grants."""
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    role = skr.get("clusterroles", NAME)
    assert role is not None
    assert role["rules"] == [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    assert role["metadata"]["labels"] == MANAGED_BY


async def test_cluster_role_binding_binds_the_role_to_the_service_account(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """The ClusterRoleBinding refers to the ClusterRole and to the ServiceAccount in kyma-system."""
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    binding = skr.get("clusterrolebindings", NAME)
    assert binding is not None
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": NAME,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "kyma-system"}]
    assert binding["metadata"]["labels"] == MANAGED_BY


async def test_existing_identity_objects_are_tolerated(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """A ServiceAccount that exists already answers 409 AlreadyExists; the role and binding still follow."""
    skr.create("serviceaccounts", {"metadata": {"name": NAME, "namespace": "kyma-system"}})
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    assert calls(skr) == [("POST", SA_PATH, 409), ("POST", CR_PATH, 201), ("POST", CRB_PATH, 201)]


async def test_repeated_identity_creation_gets_three_conflicts(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """A retried ensure_binding_identity meets 409 on all three objects and succeeds."""
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    skr.clear_requests()
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    assert calls(skr) == [("POST", SA_PATH, 409), ("POST", CR_PATH, 409), ("POST", CRB_PATH, 409)]


async def test_token_request_asks_for_the_expiration(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TokenRequest is POSTed to the ServiceAccount's token subresource with spec.expirationSeconds."""
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    tap = WireTap(skr, monkeypatch)
    await request_token(runtime_clusters, RUNTIME, NAME, 900)
    [body] = tap.bodies("POST", f"{SA_PATH}/{NAME}/token")
    assert body["kind"] == "TokenRequest"
    assert body["apiVersion"] == "authentication.k8s.io/v1"
    assert body["spec"]["expirationSeconds"] == 900
    assert (body["metadata"]["name"], body["metadata"]["namespace"]) == (NAME, "kyma-system")
    assert calls(skr)[-1] == ("POST", f"{SA_PATH}/{NAME}/token", 201)


async def test_token_is_a_service_account_jwt_for_the_expiration(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """The token names the binding's ServiceAccount and lives exactly expirationSeconds (exp - iat)."""
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    issued = await request_token(runtime_clusters, RUNTIME, NAME, 900)
    claims = _jwt_claims(issued.secret.reveal())
    assert claims["sub"] == f"system:serviceaccount:kyma-system:{NAME}"
    assert claims["exp"] - claims["iat"] == 900
    assert issued.expires_at == datetime.fromtimestamp(claims["exp"], UTC)


async def test_unbind_deletes_binding_then_role_then_service_account(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """delete_binding_identity DELETEs the ClusterRoleBinding, the ClusterRole and the ServiceAccount."""
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    skr.clear_requests()
    await delete_identity(runtime_clusters, RUNTIME, NAME)
    assert calls(skr) == [
        ("DELETE", f"{CRB_PATH}/{NAME}", 200),
        ("DELETE", f"{CR_PATH}/{NAME}", 200),
        ("DELETE", f"{SA_PATH}/{NAME}", 200),
    ]
    assert skr.get("serviceaccounts", NAME, "kyma-system") is None
    assert skr.get("clusterroles", NAME) is None
    assert skr.get("clusterrolebindings", NAME) is None


async def test_unbind_goes_on_past_objects_that_are_gone(
    skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """A 404 on the ClusterRoleBinding does not stop the deletes of the ClusterRole and ServiceAccount."""
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    skr.delete("clusterrolebindings", NAME)
    skr.clear_requests()
    await delete_identity(runtime_clusters, RUNTIME, NAME)
    assert calls(skr) == [
        ("DELETE", f"{CRB_PATH}/{NAME}", 404),
        ("DELETE", f"{CR_PATH}/{NAME}", 200),
        ("DELETE", f"{SA_PATH}/{NAME}", 200),
    ]


async def test_runtime_cluster_is_reached_with_the_kubeconfig_secret(
    kcp: FakeCluster, skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """Every runtime-cluster call first reads kcp-system/kubeconfig-{runtime id} from KCP."""
    kcp.clear_requests()
    await ensure_identity(runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    assert calls(kcp) == [("GET", f"/api/v1/namespaces/kcp-system/secrets/kubeconfig-{RUNTIME}", 200)]


async def test_one_connection_reads_the_kubeconfig_secret_once(
    kcp: FakeCluster, skr: FakeCluster, runtime_clusters: KubernetesRuntimeClusters
) -> None:
    """A token bind's identity and token over one connection cost one read of the Secret from KCP."""
    kcp.clear_requests()
    async with runtime_clusters.connect(RUNTIME) as cluster:
        await cluster.ensure_binding_identity(BindingIdentity(NAME, labels=MANAGED_BY))
        await cluster.request_token(NAME, 900)
    assert calls(kcp) == [("GET", f"/api/v1/namespaces/kcp-system/secrets/kubeconfig-{RUNTIME}", 200)]


# --- the runtime kubeconfig Secret ------------------------------------------------------------------


async def test_runtime_kubeconfig_is_the_decoded_config_key(
    kcp: FakeCluster, skr: FakeCluster, control_plane: KubernetesControlPlane
) -> None:
    """get_runtime_kubeconfig returns the base64-decoded ``data.config`` of the Secret, verbatim."""
    secret = kcp.get("secrets", f"kubeconfig-{RUNTIME}", "kcp-system")
    assert secret is not None
    expected = base64.b64decode(secret["data"]["config"]).decode()
    assert await control_plane.get_runtime_kubeconfig(RUNTIME) == expected


async def test_runtime_kubeconfig_secret_without_config_raises_not_found(
    kcp: FakeCluster, control_plane: KubernetesControlPlane
) -> None:
    """A kubeconfig Secret without the key ``config`` is ClusterNotFoundError, as a missing Secret."""
    kcp.create(
        "secrets",
        {"metadata": {"name": "kubeconfig-rt-2", "namespace": "kcp-system"}, "data": {"other": "eA=="}},
    )
    with pytest.raises(ClusterNotFoundError, match="config"):
        await control_plane.get_runtime_kubeconfig("rt-2")


# --- Gardener ----------------------------------------------------------------------------------------


async def test_admin_kubeconfig_request_path_and_body(
    garden: FakeCluster, skr: FakeCluster, gardener: KubernetesGardener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The AdminKubeconfigRequest is POSTed to shoots/{shoot}/adminkubeconfig in garden-{project}."""
    tap = WireTap(garden, monkeypatch)
    await gardener.request_admin_kubeconfig(SHOOT, 1200)
    assert calls(garden)[-1] == ("POST", f"{SHOOTS_PATH}/{SHOOT}/adminkubeconfig", 201)
    assert tap.bodies("POST", f"{SHOOTS_PATH}/{SHOOT}/adminkubeconfig") == [
        {
            "apiVersion": "authentication.gardener.cloud/v1alpha1",
            "kind": "AdminKubeconfigRequest",
            "spec": {"expirationSeconds": 1200},
        }
    ]


async def test_admin_kubeconfig_is_decoded_and_reaches_the_runtime(
    api_server: KubeApiServer, skr: FakeCluster, gardener: KubernetesGardener
) -> None:
    """The base64 ``status.kubeconfig`` comes back decoded, and its certificate opens the runtime cluster."""
    issued = await gardener.request_admin_kubeconfig(SHOOT, 600)
    kubeconfig = yaml.safe_load(issued.secret.reveal())
    assert kubeconfig["current-context"] == f"garden-kyma-dev--{SHOOT}-external"
    assert kubeconfig["clusters"][0]["cluster"]["server"] == api_server.cluster_url(skr.name)
    client = await KubeClient.from_kubeconfig(kubeconfig, REQUEST_TIMEOUT)
    try:
        namespaces = await client.core.list_namespace()
    finally:
        await client.close()
    assert "kyma-system" in [n.metadata.name for n in namespaces.items]


@pytest.fixture
async def other_project(api_server: KubeApiServer, garden: FakeCluster) -> AsyncIterator[KubernetesGardener]:
    """A Gardener adapter for project ``other``, with shoot c-7654321 in garden-other."""
    api_server.add_cluster("skr-other", namespaces=("default",))
    garden.ensure_namespace("garden-other")
    garden.put(
        "shoots",
        {
            "metadata": {"name": "c-7654321", "namespace": "garden-other"},
            "status": {
                "advertisedAddresses": [{"name": "external", "url": api_server.cluster_url("skr-other")}]
            },
        },
    )

    async def connect() -> KubeClient:
        return await KubeClient.from_kubeconfig(api_server.admin_kubeconfig("garden"), REQUEST_TIMEOUT)

    lazy = LazyClient(connect)
    yield KubernetesGardener(lazy, "other")
    await lazy.close()


async def test_admin_kubeconfig_uses_the_configured_project(
    garden: FakeCluster, other_project: KubernetesGardener
) -> None:
    """The project namespace is garden-{APP_GARDENER_PROJECT}."""
    issued = await other_project.request_admin_kubeconfig("c-7654321", 600)
    assert calls(garden)[-1] == (
        "POST",
        "/apis/core.gardener.cloud/v1beta1/namespaces/garden-other/shoots/c-7654321/adminkubeconfig",
        201,
    )
    assert issued.expires_at > datetime.now(UTC) + timedelta(seconds=590)
