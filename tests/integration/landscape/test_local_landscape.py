"""The local landscape as make run starts it: in-process, and as ``python -m keb_app.landscape``."""

from __future__ import annotations

import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from keb_app.landscape import KubeApiServer, LocalLandscape, start_local_landscape
from keb_app.landscape.pools import CREDENTIALS_BINDINGS

from .support import RUNTIME_GROUP, RUNTIME_VERSION, runtime_body


@pytest.fixture
def landscape(tmp_path: Path) -> Iterator[LocalLandscape]:
    with start_local_landscape(tmp_path / "kubeconfigs", port=0, ready_after=0.0) as running:
        yield running


@pytest.fixture
def kcp_api(landscape: LocalLandscape) -> Iterator[Any]:
    api = config.new_client_from_config(str(landscape.kcp_kubeconfig))
    yield api
    api.close()


def test_kubeconfig_files_are_private_and_reach_their_clusters(landscape: LocalLandscape) -> None:
    """kcp.yaml and garden.yaml are mode 0600 and open the KCP and garden clusters."""
    seen = {}
    for name, path in landscape.kubeconfigs.items():
        api = config.new_client_from_config(str(path))
        try:
            seen[name] = sorted(n.metadata.name for n in client.CoreV1Api(api).list_namespace().items)
        finally:
            api.close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert seen == {"kcp": ["default", "kcp-system"], "garden": ["default", "garden-kyma-dev"]}


def test_runtime_created_through_kcp_becomes_ready(landscape: LocalLandscape, kcp_api: Any) -> None:
    """A Runtime posted with the KCP kubeconfig is made Ready by the running KIM and gets its Secret."""
    custom = client.CustomObjectsApi(kcp_api)
    custom.create_namespaced_custom_object(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", runtime_body("rt-1")
    )
    state = None
    for _ in range(250):  # bounded polling of the KIM thread, at most ~5 s
        runtime = custom.get_namespaced_custom_object(
            RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-1"
        )
        state = (runtime.get("status") or {}).get("state")
        if state == "Ready":
            break
        time.sleep(0.02)
    assert state == "Ready"
    assert client.CoreV1Api(kcp_api).read_namespaced_secret("kubeconfig-rt-1", "kcp-system").data["config"]


def test_restart_reuses_the_remembered_port(tmp_path: Path) -> None:
    """With a state directory and no port, a restart serves on the same port so kubeconfigs stay valid."""
    state = tmp_path / "state"
    with start_local_landscape(tmp_path / "first", state_dir=state) as first:
        port = first.server.port
        kubeconfig = first.kcp_kubeconfig
    with start_local_landscape(tmp_path / "second", state_dir=state) as second:
        api = config.new_client_from_config(str(kubeconfig))
        try:
            names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        finally:
            api.close()
        assert second.server.port == port
    assert KubeApiServer.persisted_port(state) == port
    assert names == ["default", "kcp-system"]


def test_module_entry_point_prints_kubeconfigs_and_stops_on_interrupt(tmp_path: Path) -> None:
    """python -m keb_app.landscape writes kubeconfigs, prints how to use them and exits 0 on SIGINT."""
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "keb_app.landscape", "--kubeconfig-dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        stdout = process.stdout
        lines: queue.Queue[str] = queue.Queue()

        def forward() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=forward, daemon=True).start()
        printed: list[str] = []
        deadline = time.monotonic() + 30  # bounded wait for the child's start-up output
        while not printed or "Press Ctrl+C" not in printed[-1]:
            printed.append(lines.get(timeout=max(deadline - time.monotonic(), 0.01)))
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(printed)
    assert code == 0
    assert str((tmp_path / "kcp.yaml").resolve()) in output
    assert "kubectl get runtimes -n kcp-system" in output
    assert (tmp_path / "garden.yaml").exists()


def test_the_landscape_seeds_account_pools_and_keeps_claims_across_restarts(tmp_path: Path) -> None:
    """Pools and the runtime configuration ConfigMap are seeded once; a claim survives a restart."""
    state = tmp_path / "state"
    with start_local_landscape(
        tmp_path / "kc", port=0, ready_after=0.0, state_dir=state, pool_size=2
    ) as first:
        garden = first.server.find_cluster("garden")
        kcp = first.server.find_cluster("kcp")
        assert garden is not None
        assert kcp is not None
        names = sorted(b["metadata"]["name"] for b in garden.list(CREDENTIALS_BINDINGS, "garden-kyma-dev"))
        assert [name for name in names if name.startswith("aws-0")] == ["aws-001", "aws-002"]
        assert [name for name in names if name.startswith(("alicloud-", "gdch-"))] == [
            "alicloud-001",
            "alicloud-002",
            "gdch-001",
            "gdch-002",
        ]
        assert "aws-eu-001" in names
        assert "openstack-shared-001" in names
        config_map = kcp.get("configmaps", "keb-runtime-config", "kcp-system")
        assert config_map is not None
        assert config_map["metadata"]["labels"] == {"keb-config": "true"}
        garden.patch(
            CREDENTIALS_BINDINGS,
            "aws-001",
            {"metadata": {"labels": {"tenantName": "ga-1"}}},
            "garden-kyma-dev",
        )
    with start_local_landscape(
        tmp_path / "kc", port=0, ready_after=0.0, state_dir=state, pool_size=2
    ) as second:
        garden = second.server.find_cluster("garden")
        assert garden is not None
        binding = garden.get(CREDENTIALS_BINDINGS, "aws-001", "garden-kyma-dev")
        assert binding is not None
        assert binding["metadata"]["labels"]["tenantName"] == "ga-1"
