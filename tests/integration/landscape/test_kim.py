"""The KIM simulator, driven deterministically with step() and a fake clock (kubernetes-wire §1.5-1.6)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from keb_app.landscape import (
    FakeCluster,
    KimSimulator,
    KubeApiServer,
    decode_kubeconfig_secret,
    skr_cluster_name,
)
from keb_app.landscape.kim import FINALIZER, RUNTIMES

from .conftest import ClientFactory
from .support import FakeClock, runtime_body

GARDEN_NAMESPACE = "garden-kyma-dev"
SHOOT = "c-1234567"


@pytest.fixture
def garden(server: KubeApiServer) -> FakeCluster:
    return server.add_cluster("garden", namespaces=(GARDEN_NAMESPACE,))


@pytest.fixture
def kim_clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def kim(server: KubeApiServer, kcp: FakeCluster, garden: FakeCluster, kim_clock: FakeClock) -> KimSimulator:
    return KimSimulator(server, ready_after=3.0, delete_after=1.0, clock=kim_clock)


def _runtime(kcp: FakeCluster, name: str = "rt-1") -> dict[str, Any]:
    runtime = kcp.get("runtimes", name, "kcp-system")
    assert runtime is not None
    return runtime


def _make_ready(kcp: FakeCluster, kim: KimSimulator, kim_clock: FakeClock, name: str = "rt-1") -> None:
    kcp.create("runtimes", runtime_body(name, shoot=SHOOT))
    kim.step()
    kim_clock.advance(3.0)
    kim.step()
    assert _runtime(kcp, name)["status"]["state"] == "Ready"


def test_new_runtime_gets_the_finalizer_and_pending_state(kcp: FakeCluster, kim: KimSimulator) -> None:
    """A new Runtime gets KIM's finalizer and state Pending written through the status subresource."""
    kcp.create("runtimes", runtime_body("rt-1", shoot=SHOOT))
    kim.step()
    runtime = _runtime(kcp)
    assert runtime["metadata"]["finalizers"] == [FINALIZER]
    assert runtime["status"]["state"] == "Pending"
    assert runtime["status"]["conditions"][0]["reason"] == "Processing"
    assert runtime["metadata"]["generation"] == 1


def test_new_runtime_gets_a_shoot_pointing_at_a_new_runtime_cluster(
    server: KubeApiServer, kcp: FakeCluster, garden: FakeCluster, kim: KimSimulator
) -> None:
    """KIM creates the Shoot garden-{project}/{shoot} whose advertised address is a new SKR cluster."""
    kcp.create("runtimes", runtime_body("rt-1", shoot=SHOOT))
    kim.step()
    shoot = garden.get("shoots", SHOOT, GARDEN_NAMESPACE)
    skr = server.cluster(skr_cluster_name("rt-1"))
    assert shoot is not None
    assert shoot["spec"]["secretBindingName"] == "aws-binding"
    assert shoot["status"]["advertisedAddresses"] == [
        {"name": "external", "url": server.cluster_url(skr.name)}
    ]
    assert sorted(n["metadata"]["name"] for n in skr.list("namespaces")) == [
        "default",
        "kube-system",
        "kyma-system",
    ]


def test_kubeconfig_secret_reaches_the_runtime_cluster_by_certificate(
    server: KubeApiServer, kcp: FakeCluster, kim: KimSimulator, make_client: ClientFactory
) -> None:
    """Secret kcp-system/kubeconfig-{runtime} holds a client-certificate kubeconfig for the SKR."""
    kcp.create("runtimes", runtime_body("rt-1", shoot=SHOOT))
    kim.step()
    secret = client.CoreV1Api(make_client(server.admin_kubeconfig("kcp"))).read_namespaced_secret(
        "kubeconfig-rt-1", "kcp-system"
    )
    kubeconfig = decode_kubeconfig_secret(secret.to_dict())
    skr = client.CoreV1Api(make_client(kubeconfig))
    assert set(kubeconfig["users"][0]["user"]) == {"client-certificate-data", "client-key-data"}
    assert kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
    assert secret.metadata.labels["kyma-project.io/runtime-id"] == "rt-1"
    assert "kyma-system" in [n.metadata.name for n in skr.list_namespace().items]


def test_runtime_turns_ready_after_ready_after(
    kcp: FakeCluster, kim: KimSimulator, kim_clock: FakeClock
) -> None:
    """The Runtime stays Pending until ready_after has passed, then is Ready with its observedGeneration."""
    kcp.create("runtimes", runtime_body("rt-1", shoot=SHOOT))
    kim.step()
    kim_clock.advance(2.9)
    kim.step()
    assert _runtime(kcp)["status"]["state"] == "Pending"
    kim_clock.advance(0.1)
    kim.step()
    status = _runtime(kcp)["status"]
    assert status["state"] == "Ready"
    assert status["provisioningCompleted"] is True
    assert status["observedGeneration"] == 1
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


def test_spec_update_goes_pending_then_ready_with_the_new_generation(
    kcp: FakeCluster, garden: FakeCluster, kim: KimSimulator, kim_clock: FakeClock
) -> None:
    """An update of the spec is Pending with the old observedGeneration, then Ready with the new one."""
    _make_ready(kcp, kim, kim_clock)
    runtime = _runtime(kcp)
    runtime["spec"]["shoot"]["provider"]["workers"][0]["maximum"] = 10
    kcp.replace("runtimes", runtime)
    kim.step()
    pending = _runtime(kcp)
    assert (pending["metadata"]["generation"], pending["status"]["state"]) == (2, "Pending")
    assert pending["status"]["observedGeneration"] == 1
    kim_clock.advance(3.0)
    kim.step()
    ready = _runtime(kcp)["status"]
    assert (ready["state"], ready["observedGeneration"]) == ("Ready", 2)
    shoot = garden.get("shoots", SHOOT, GARDEN_NAMESPACE)
    assert shoot is not None
    assert shoot["spec"]["provider"]["workers"][0]["maximum"] == 10


def test_deletion_removes_shoot_cluster_and_secret_before_the_runtime(
    server: KubeApiServer, kcp: FakeCluster, garden: FakeCluster, kim: KimSimulator, kim_clock: FakeClock
) -> None:
    """Deleting a Runtime tears down Shoot, SKR cluster and Secret; the CR goes when the finalizer does."""
    _make_ready(kcp, kim, kim_clock)
    assert kcp.delete("runtimes", "rt-1", "kcp-system") is not None
    kim.step()
    assert _runtime(kcp)["status"]["state"] == "Terminating"
    assert garden.get("shoots", SHOOT, GARDEN_NAMESPACE) is None
    assert server.find_cluster(skr_cluster_name("rt-1")) is None
    assert kcp.get("secrets", "kubeconfig-rt-1", "kcp-system") is None
    kim_clock.advance(0.5)
    kim.step()
    assert kcp.get("runtimes", "rt-1", "kcp-system") is not None
    kim_clock.advance(0.5)
    kim.step()
    assert kcp.get("runtimes", "rt-1", "kcp-system") is None


def test_fail_when_turns_the_runtime_failed(
    server: KubeApiServer, kcp: FakeCluster, garden: FakeCluster, kim_clock: FakeClock
) -> None:
    """A Runtime the fail_when hook names ends Failed with a condition carrying the message."""

    def quota(runtime: dict[str, Any]) -> str | None:
        return "quota exceeded" if runtime["metadata"]["name"] == "rt-bad" else None

    kim = KimSimulator(server, ready_after=1.0, clock=kim_clock, fail_when=quota)
    kcp.create("runtimes", runtime_body("rt-bad", shoot="c-bad"))
    kcp.create("runtimes", runtime_body("rt-good", shoot="c-good"))
    kim.step()
    kim_clock.advance(1.0)
    kim.step()
    bad = _runtime(kcp, "rt-bad")["status"]
    assert bad["state"] == "Failed"
    assert bad["conditions"][0]["message"] == "quota exceeded"
    assert _runtime(kcp, "rt-good")["status"]["state"] == "Ready"


def test_fail_turns_a_runtime_failed_until_it_is_updated(
    kcp: FakeCluster, kim: KimSimulator, kim_clock: FakeClock
) -> None:
    """fail() makes a Runtime Failed at once; a later spec update is processed to Ready again."""
    _make_ready(kcp, kim, kim_clock)
    kim.fail("rt-1", "shoot reconciliation failed")
    kim_clock.advance(10)
    kim.step()
    failed = _runtime(kcp)["status"]
    assert (failed["state"], failed["conditions"][0]["message"]) == ("Failed", "shoot reconciliation failed")
    kcp.patch("runtimes", "rt-1", {"spec": {"security": {"administrators": ["b@example.com"]}}}, "kcp-system")
    kim.step()
    kim_clock.advance(3.0)
    kim.step()
    assert _runtime(kcp)["status"]["state"] == "Ready"


def test_runtimes_in_other_namespaces_are_ignored(kcp: FakeCluster, kim: KimSimulator) -> None:
    """Only Runtimes in kcp-system are reconciled, as KIM watches its own namespace."""
    kcp.ensure_namespace("elsewhere")
    body = runtime_body("rt-else")
    body["metadata"]["namespace"] = "elsewhere"
    kcp.create("runtimes", body)
    kim.step()
    assert "status" not in _runtime_in(kcp, "rt-else", "elsewhere")


def _runtime_in(kcp: FakeCluster, name: str, namespace: str) -> dict[str, Any]:
    runtime = kcp.get("runtimes", name, namespace)
    assert runtime is not None
    return runtime


def test_background_thread_reconciles_until_stopped(
    kcp: FakeCluster, server: KubeApiServer, garden: FakeCluster
) -> None:
    """start() reconciles in a thread with the real clock; stop() ends it."""
    kim = KimSimulator(server, ready_after=0.0, interval=0.02).start()
    try:
        kcp.create("runtimes", runtime_body("rt-bg", shoot="c-bg"))
        state = None
        for _ in range(250):  # bounded polling of the background thread, at most ~5 s
            state = (_runtime(kcp, "rt-bg").get("status") or {}).get("state")
            if state == "Ready":
                break
            time.sleep(0.02)
    finally:
        kim.stop()
    assert state == "Ready"


def test_a_pass_reads_only_runtimes_that_changed_or_are_due(
    kcp: FakeCluster, kim: KimSimulator, kim_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settled Runtimes cost a pass nothing: it reads only what changed since it last looked (as a watch)."""
    for index in range(5):
        _make_ready(kcp, kim, kim_clock, f"rt-{index}")
    kim.step()  # one more look after the simulator's own last writes
    reads: list[str] = []
    original = FakeCluster.get

    def counting_get(self: FakeCluster, resource: str, name: str, namespace: str | None = None) -> Any:
        reads.append(f"{resource}/{name}")
        return original(self, resource, name, namespace)

    monkeypatch.setattr(FakeCluster, "get", counting_get)
    kim.step()
    assert reads == []
    kcp.patch("runtimes", "rt-3", {"spec": {"shoot": {"purpose": "production"}}}, "kcp-system")
    kim.step()
    runtime_reads = [read for read in reads if read.startswith(f"{RUNTIMES}/")]
    assert runtime_reads == [f"{RUNTIMES}/rt-3"]
    assert _runtime(kcp, "rt-3")["status"]["state"] == "Pending"


def test_a_settled_runtime_is_resynced_and_its_missing_secret_recreated(
    kcp: FakeCluster, kim: KimSimulator, kim_clock: FakeClock
) -> None:
    """After ``resync`` a settled Runtime is reconciled again: a kubeconfig Secret someone deleted returns."""
    _make_ready(kcp, kim, kim_clock)
    kim.step()
    kcp.delete("secrets", "kubeconfig-rt-1", "kcp-system")
    kim.step()
    assert kcp.get("secrets", "kubeconfig-rt-1", "kcp-system") is None  # not due yet: no watch on Secrets
    kim_clock.advance(kim.resync)
    kim.step()
    assert kcp.get("secrets", "kubeconfig-rt-1", "kcp-system") is not None
