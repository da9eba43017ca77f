"""The ControlPlane port in domain values: what the real adapter (over HTTPS against the API double) and the
memory implementation write for a desired Runtime or Kyma, and what they read back as a status or OIDC
configuration, agree."""

from __future__ import annotations

import attrs
import pytest

from keb_domain.errors import ClusterNotFoundError
from keb_domain.model.resources import (
    DEFAULT_KYMA_TEMPLATE,
    DesiredKyma,
    DesiredRuntime,
    Networking,
    OidcConfiguration,
    Worker,
)

from .conftest import Side

OIDC = OidcConfiguration(
    client_id="client",
    issuer_url="https://issuer.example.com",
    groups_claim="groups",
    groups_prefix="-",
    username_claim="sub",
    username_prefix="-",
    signing_algs=("RS256",),
    required_claims={"aud": "kyma"},
    jwks="ZXhhbXBsZQ==",
)
WORKER = Worker(
    name="cpu-worker-0",
    machine_type="m6i.large",
    minimum=3,
    maximum=20,
    zones=("eu-central-1a", "eu-central-1b", "eu-central-1c"),
    volume_size_gb=80,
    disk_type="gp3",
)
DESIRED = DesiredRuntime(
    name="rt-1",
    namespace="kcp-system",
    labels={"kyma-project.io/runtime-id": "RT-1", "kyma-project.io/instance-id": "inst-1"},
    shoot_name="c-1234567",
    purpose="development",
    platform_region="cf-eu10",
    region="eu-central-1",
    credentials_binding="aws-001",
    provider_type="aws",
    networking=Networking(nodes="10.250.0.0/16", pods="10.96.0.0/13", services="10.104.0.0/13"),
    kubernetes_version="1.33",
    oidc=(OIDC,),
    workers=(WORKER,),
    additional_workers=(),
    administrators=("admin@example.com",),
    egress_filter=True,
    ingress_filter=False,
)
KYMA = DesiredKyma(
    name="rt-1",
    namespace="kcp-system",
    labels={
        "kyma-project.io/instance-id": "inst-1",
        "operator.kyma-project.io/managed-by": "lifecycle-manager",
    },
    annotations={"skr-domain": "c-1234567.kyma.example.com"},
    template=DEFAULT_KYMA_TEMPLATE,
)


async def test_a_missing_runtime_has_no_status_and_no_oidc(side: Side) -> None:
    """Reading a Runtime that does not exist answers None for its status and its OIDC configuration."""
    assert await side.control_plane.runtime_status("rt-1") is None
    assert await side.control_plane.runtime_oidc("rt-1") is None
    assert await side.control_plane.runtime_document("rt-1") is None


async def test_a_new_runtime_is_pending_then_ready_for_its_spec(side: Side) -> None:
    """After add_runtime KIM reports Pending, then Ready about the current spec, not being deleted."""
    await side.control_plane.add_runtime(DESIRED)
    side.reconcile()
    pending = await side.control_plane.runtime_status("rt-1")
    side.make_ready()
    ready = await side.control_plane.runtime_status("rt-1")
    assert pending is not None
    assert not pending.ready
    assert ready is not None
    assert (ready.ready, ready.observed, ready.being_deleted) == (True, True, False)


async def test_adding_a_runtime_twice_keeps_the_first(side: Side) -> None:
    """A repeated add_runtime (a retried step) neither fails nor replaces what exists."""
    await side.control_plane.add_runtime(DESIRED)
    await side.control_plane.add_runtime(attrs.evolve(DESIRED, purpose="production"))
    document = await side.control_plane.runtime_document("rt-1")
    assert document is not None
    assert document["spec"]["shoot"]["purpose"] == "development"


async def test_the_oidc_configuration_written_is_read_back(side: Side) -> None:
    """What add_runtime writes as OIDC configuration, runtime_oidc reads back as the same values."""
    await side.control_plane.add_runtime(DESIRED)
    assert await side.control_plane.runtime_oidc("rt-1") == (OIDC,)


async def test_an_update_is_not_observed_until_kim_sees_it(side: Side) -> None:
    """update_runtime rewrites the workers; KIM's status is about the old spec until it observes the new."""
    await side.control_plane.add_runtime(DESIRED)
    side.make_ready()
    bigger = attrs.evolve(DESIRED, workers=(attrs.evolve(WORKER, maximum=30),))
    await side.control_plane.update_runtime(bigger)
    side.reconcile()
    status = await side.control_plane.runtime_status("rt-1")
    assert status is not None
    assert not (status.observed and status.ready)
    side.make_ready()
    status = await side.control_plane.runtime_status("rt-1")
    assert status is not None
    assert (status.ready, status.observed) == (True, True)
    document = await side.control_plane.runtime_document("rt-1")
    assert document is not None
    assert document["spec"]["shoot"]["provider"]["workers"][0]["maximum"] == 30
    assert document["spec"]["shoot"]["region"] == "eu-central-1"


async def test_updating_a_missing_runtime_raises_not_found(side: Side) -> None:
    """update_runtime of a Runtime that does not exist is ClusterNotFoundError; nothing is created."""
    with pytest.raises(ClusterNotFoundError):
        await side.control_plane.update_runtime(DESIRED)
    assert await side.control_plane.runtime_status("rt-1") is None


async def test_a_deleted_runtime_is_being_deleted_until_kim_is_done(side: Side) -> None:
    """After delete_runtime the status says being_deleted while KIM's finalizer holds it, then None."""
    await side.control_plane.add_runtime(DESIRED)
    side.reconcile()
    await side.control_plane.delete_runtime("rt-1")
    side.reconcile()
    status = await side.control_plane.runtime_status("rt-1")
    assert status is not None
    assert status.being_deleted
    side.finish_deletion()
    assert await side.control_plane.runtime_status("rt-1") is None


async def test_a_failed_runtime_reports_kims_message(side: Side) -> None:
    """A Runtime KIM failed has a failed status whose failure names KIM's message."""
    await side.control_plane.add_runtime(DESIRED)
    side.reconcile()
    side.fail("rt-1", "quota exceeded")
    status = await side.control_plane.runtime_status("rt-1")
    assert status is not None
    assert status.failed
    assert status.failure() == "Runtime resource in Failed state: quota exceeded"


async def test_the_runtime_document_has_no_managed_fields(side: Side) -> None:
    """The document operators see is the Runtime as KCP holds it, without managedFields."""
    await side.control_plane.add_runtime(DESIRED)
    document = await side.control_plane.runtime_document("rt-1")
    assert document is not None
    assert document["metadata"]["name"] == "rt-1"
    assert "managedFields" not in document["metadata"]


async def test_apply_kyma_creates_then_relabels_keeping_the_spec(side: Side) -> None:
    """apply_kyma creates the Kyma from the template; applied again it takes the new labels only."""
    await side.control_plane.apply_kyma(KYMA)
    relabelled = attrs.evolve(
        KYMA, labels={**KYMA.labels, "kyma-project.io/region": "eu-central-1"}, channel="fast"
    )
    await side.control_plane.apply_kyma(relabelled)
    kyma = await side.control_plane.get_kyma("rt-1")
    assert kyma is not None
    assert kyma["metadata"]["labels"]["kyma-project.io/region"] == "eu-central-1"
    assert kyma["spec"]["channel"] == "regular"


async def test_relabel_kyma_of_a_missing_kyma_does_nothing(side: Side) -> None:
    """relabel_kyma without a Kyma resource creates none."""
    await side.control_plane.relabel_kyma(KYMA)
    assert await side.control_plane.get_kyma("rt-1") is None
