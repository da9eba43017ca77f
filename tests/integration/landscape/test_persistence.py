"""Persisted state: a restart on the same port keeps clusters, objects and earlier kubeconfigs working."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from keb_app.landscape import KubeApiServer

from .conftest import ClientFactory
from .support import FakeClock


def test_restart_on_the_same_port_keeps_state_and_credentials(
    tmp_path: Path, clock: FakeClock, make_client: ClientFactory
) -> None:
    """Objects, admin tokens, client certificates and SA tokens from before a restart work after it."""
    state = tmp_path / "state"
    with KubeApiServer(state_dir=state, clock=clock) as first:
        first.add_cluster("kcp", namespaces=("default", "kcp-system"))
        token_config = first.admin_kubeconfig("kcp")
        cert_config = first.admin_kubeconfig("kcp", auth="certificate")
        core = client.CoreV1Api(make_client(token_config))
        account = core.create_namespaced_service_account(
            "kcp-system", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="keeper"))
        )
        port = first.port
    with KubeApiServer(port=port, state_dir=state, clock=clock) as second:
        by_token = client.CoreV1Api(make_client(token_config))
        by_cert = client.CoreV1Api(make_client(cert_config))
        kept = by_token.read_namespaced_service_account("keeper", "kcp-system")
        later = by_cert.create_namespaced_service_account(
            "default", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="later"))
        )
        assert second.clusters == ["kcp"]
    assert kept.metadata.uid == account.metadata.uid
    assert kept.metadata.resource_version == account.metadata.resource_version
    assert int(later.metadata.resource_version) > int(account.metadata.resource_version)
    assert KubeApiServer.persisted_port(state) == port


def test_service_account_tokens_survive_a_restart(
    tmp_path: Path, clock: FakeClock, make_client: ClientFactory
) -> None:
    """The per-cluster signing key is persisted, so a binding's token is still accepted after a restart."""
    state = tmp_path / "state"
    with KubeApiServer(state_dir=state, clock=clock) as first:
        first.add_cluster("skr", namespaces=("kyma-system",))
        admin = first.admin_kubeconfig("skr")
        core = client.CoreV1Api(make_client(admin))
        core.create_namespaced_service_account(
            "kyma-system", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
        )
        first.cluster("skr").put(
            "clusterrolebindings",
            {
                "metadata": {"name": "reader"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "view-all",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "kyma-system"}],
            },
        )
        first.cluster("skr").put(
            "clusterroles",
            {
                "metadata": {"name": "view-all"},
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["list"]}],
            },
        )
        token = core.create_namespaced_service_account_token(
            "reader",
            "kyma-system",
            client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
        ).status.token
        port = first.port
    admin["users"][0]["user"] = {"token": token}
    with KubeApiServer(port=port, state_dir=state, clock=clock):
        names = [n.metadata.name for n in client.CoreV1Api(make_client(admin)).list_namespace().items]
    assert names == ["kyma-system"]


def test_state_files_are_private(tmp_path: Path, clock: FakeClock) -> None:
    """The state directory and every file in it are readable by the owner only."""
    state = tmp_path / "state"
    with KubeApiServer(state_dir=state, clock=clock) as server:
        server.add_cluster("kcp")
        server.admin_kubeconfig("kcp", auth="certificate")
    modes: dict[str, Any] = {
        str(p.relative_to(state)): stat.S_IMODE(p.stat().st_mode) for p in [state, *state.rglob("*")]
    }
    assert modes == {".": 0o700, "clusters": 0o700, "landscape.json": 0o600, "clusters/kcp.json": 0o600}


def test_removed_cluster_stays_removed_after_restart(tmp_path: Path, clock: FakeClock) -> None:
    """A cluster removed before a restart is not resurrected from the state directory."""
    state = tmp_path / "state"
    with KubeApiServer(state_dir=state, clock=clock) as first:
        first.add_cluster("kcp")
        first.add_cluster("skr-gone")
        first.remove_cluster("skr-gone")
    with KubeApiServer(state_dir=state, clock=clock) as second:
        assert second.clusters == ["kcp"]


def test_changes_reach_the_state_directory_while_serving(
    tmp_path: Path, clock: FakeClock, make_client: ClientFactory
) -> None:
    """A change made while serving is written to its cluster's file soon, without waiting for a stop."""
    state = tmp_path / "state"
    with KubeApiServer(state_dir=state, clock=clock) as server:
        server.add_cluster("kcp")
        core = client.CoreV1Api(make_client(server.admin_kubeconfig("kcp")))
        for n in range(20):
            core.create_namespaced_service_account(
                "default", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=f"account-{n}"))
            )
        deadline = time.monotonic() + 10
        names: set[str] = set()
        while time.monotonic() < deadline:
            snapshot = json.loads((state / "clusters" / "kcp.json").read_text(encoding="utf-8"))
            names = {o["metadata"]["name"] for o in snapshot["objects"] if o["kind"] == "ServiceAccount"}
            if "account-19" in names:
                break
            time.sleep(0.05)
        assert {f"account-{n}" for n in range(20)} <= names
