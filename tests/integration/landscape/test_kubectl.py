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


def test_kubectl_patches_runtime_status_and_prints_printer_columns(
    tmp_path: Path, server: KubeApiServer, kcp: FakeCluster
) -> None:
    """kubectl patch --subresource status (as simulate_kim.sh does) sets the state kubectl get then shows."""
    kcp.create("runtimes", runtime_body("rt-1"))
    kubeconfig = server.admin_kubeconfig("kcp")
    patched = _kubectl(
        tmp_path,
        kubeconfig,
        *("patch", "runtime", "rt-1", "-n", "kcp-system", "--type", "merge", "--subresource", "status"),
        *("-p", '{"status": {"state": "Ready"}}'),
    )
    assert patched.returncode == 0, patched.stderr
    result = _kubectl(tmp_path, kubeconfig, "get", "runtimes", "-n", "kcp-system")
    assert result.returncode == 0, result.stderr
    assert [line.split()[:4] for line in result.stdout.splitlines()] == [
        ["NAME", "PROVIDER", "REGION", "STATE"],
        ["rt-1", "aws", "eu-central-1", "Ready"],
    ]


def test_kubectl_applies_changes_and_deletes(tmp_path: Path, server: KubeApiServer, kcp: FakeCluster) -> None:
    """kubectl apply creates, then patches a changed manifest, and kubectl delete removes the object."""
    kubeconfig = server.admin_kubeconfig("kcp")
    manifest = tmp_path / "cm.yaml"
    for value in ("1", "2"):
        config_map = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "kcp-system"},
            "data": {"a": value},
        }
        manifest.write_text(dump(config_map), encoding="utf-8")
        applied = _kubectl(tmp_path, kubeconfig, "apply", "-f", str(manifest))
        assert applied.returncode == 0, applied.stderr
    stored = kcp.get("configmaps", "cm", "kcp-system")
    assert stored is not None
    assert stored["data"] == {"a": "2"}
    deleted = _kubectl(tmp_path, kubeconfig, "delete", "-f", str(manifest))
    assert deleted.returncode == 0, deleted.stderr
    assert kcp.get("configmaps", "cm", "kcp-system") is None
