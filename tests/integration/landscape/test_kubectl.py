"""Real kubectl against the double: discovery, Table output, token and certificate kubeconfigs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from keb_app.landscape import FakeCluster, KubeApiServer
from keb_app.landscape._kubeconfig import dump

from .support import runtime_body

KUBECTL = "/usr/bin/kubectl"


def _kubectl(tmp_path: Path, kubeconfig: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    if not Path(KUBECTL).exists():
        print(f"{KUBECTL} is not installed; skipping the kubectl check")
        pytest.skip(f"{KUBECTL} is not installed")
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(dump(kubeconfig), encoding="utf-8")
    path.chmod(0o600)
    # A private HOME keeps kubectl's discovery cache out of the developer's home directory.
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(path)}
    return subprocess.run(  # noqa: S603 - fixed binary, arguments from the test
        [KUBECTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("auth", ["token", "certificate"])
def test_kubectl_gets_namespaces(tmp_path: Path, server: KubeApiServer, kcp: FakeCluster, auth: str) -> None:
    """kubectl get namespaces works with a token kubeconfig and with a certificate kubeconfig."""
    result = _kubectl(tmp_path, server.admin_kubeconfig("kcp", auth=auth), "get", "namespaces")  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    assert sorted(line.split()[0] for line in lines[1:]) == ["default", "kcp-system"]


def test_kubectl_prints_runtime_printer_columns(
    tmp_path: Path, server: KubeApiServer, kcp: FakeCluster
) -> None:
    """kubectl get runtimes shows the CRD's printer columns, including the state KIM sets."""
    kcp.create("runtimes", runtime_body("rt-1"))
    kcp.set_status("runtimes", "rt-1", {"state": "Ready"}, "kcp-system")
    result = _kubectl(tmp_path, server.admin_kubeconfig("kcp"), "get", "runtimes", "-n", "kcp-system")
    assert result.returncode == 0, result.stderr
    assert [line.split()[:4] for line in result.stdout.splitlines()] == [
        ["NAME", "PROVIDER", "REGION", "STATE"],
        ["rt-1", "aws", "eu-central-1", "Ready"],
    ]


def test_kubectl_applies_and_deletes_a_config_map(
    tmp_path: Path, server: KubeApiServer, kcp: FakeCluster
) -> None:
    """kubectl create and delete reach the store and report success."""
    kubeconfig = server.admin_kubeconfig("kcp")
    created = _kubectl(
        tmp_path, kubeconfig, "create", "configmap", "cm", "-n", "kcp-system", "--from-literal=a=b"
    )
    assert created.returncode == 0, created.stderr
    assert kcp.get("configmaps", "cm", "kcp-system") is not None
    deleted = _kubectl(tmp_path, kubeconfig, "delete", "configmap", "cm", "-n", "kcp-system")
    assert deleted.returncode == 0, deleted.stderr
    assert kcp.get("configmaps", "cm", "kcp-system") is None
