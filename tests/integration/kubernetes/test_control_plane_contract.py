"""The KcpResources port: one set of rules for the real adapter (over HTTPS against the API double) and the
memory implementation (kubernetes-wire §1.1, §1.5-§1.7)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import pytest

from keb_adapters.kubernetes.resources import KcpResources
from keb_domain.errors import (
    ClusterAlreadyExistsError,
    ClusterConflictError,
    ClusterError,
    ClusterNotFoundError,
)

from .conftest import Side
from .support import kyma_body, runtime_body

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@attrs.frozen
class Kind:
    """The four calls of one custom resource kind of the port."""

    name: str
    body: Callable[[str], dict[str, Any]]
    get: Callable[[KcpResources, str], Awaitable[dict[str, Any] | None]]
    create: Callable[[KcpResources, Mapping[str, Any]], Awaitable[dict[str, Any]]]
    replace: Callable[[KcpResources, Mapping[str, Any]], Awaitable[dict[str, Any]]]
    delete: Callable[[KcpResources, str], Awaitable[None]]


RUNTIME = Kind(
    "runtime",
    runtime_body,
    lambda cp, name: cp.get_runtime(name),
    lambda cp, body: cp.create_runtime(body),
    lambda cp, body: cp.replace_runtime(body),
    lambda cp, name: cp.delete_runtime(name),
)
KYMA = Kind(
    "kyma",
    kyma_body,
    lambda cp, name: cp.get_kyma(name),
    lambda cp, body: cp.create_kyma(body),
    lambda cp, body: cp.replace_kyma(body),
    lambda cp, name: cp.delete_kyma(name),
)
KINDS = pytest.mark.parametrize("kind", [RUNTIME, KYMA], ids=lambda k: k.name)


def _with_spec_change(obj: Mapping[str, Any], kind: Kind) -> dict[str, Any]:
    changed = dict(obj)
    if kind is RUNTIME:
        shoot = {**obj["spec"]["shoot"], "purpose": "production"}
        changed["spec"] = {**obj["spec"], "shoot": shoot}
    else:
        changed["spec"] = {**obj["spec"], "channel": "fast"}
    return changed


@KINDS
async def test_get_of_a_missing_object_is_none(side: Side, kind: Kind) -> None:
    """Reading an object that does not exist answers None rather than raising."""
    assert await kind.get(side.control_plane, "rt-missing") is None


@KINDS
async def test_create_returns_the_object_with_server_metadata(side: Side, kind: Kind) -> None:
    """A created object comes back with uid, resourceVersion, creationTimestamp, generation 1 and its spec."""
    body = kind.body("rt-1")
    created = await kind.create(side.control_plane, body)
    metadata = created["metadata"]
    assert metadata["name"] == "rt-1"
    assert metadata["namespace"] == "kcp-system"
    assert metadata["uid"]
    assert isinstance(metadata["resourceVersion"], str)
    assert metadata["resourceVersion"]
    assert RFC3339.match(metadata["creationTimestamp"])
    assert metadata["generation"] == 1
    assert created["spec"] == body["spec"]


@KINDS
async def test_get_returns_what_was_created(side: Side, kind: Kind) -> None:
    """A read returns the stored spec, labels and uid of the created object."""
    created = await kind.create(side.control_plane, kind.body("rt-1"))
    side.reconcile()
    read = await kind.get(side.control_plane, "rt-1")
    assert read is not None
    assert read["spec"] == created["spec"]
    assert read["metadata"]["labels"] == created["metadata"]["labels"]
    assert read["metadata"]["uid"] == created["metadata"]["uid"]


@KINDS
async def test_create_in_another_namespace_is_refused(side: Side, kind: Kind) -> None:
    """A body naming a namespace other than the control plane's is refused (400), and nothing is stored."""
    body = kind.body("rt-1")
    body["metadata"]["namespace"] = "default"
    with pytest.raises(ClusterError, match="namespace"):
        await kind.create(side.control_plane, body)
    assert await kind.get(side.control_plane, "rt-1") is None


@KINDS
async def test_create_twice_raises_already_exists(side: Side, kind: Kind) -> None:
    """A second create of the same name is refused with ClusterAlreadyExistsError (409 AlreadyExists)."""
    await kind.create(side.control_plane, kind.body("rt-1"))
    with pytest.raises(ClusterAlreadyExistsError):
        await kind.create(side.control_plane, kind.body("rt-1"))


@KINDS
async def test_replace_with_the_current_version_bumps_generation(side: Side, kind: Kind) -> None:
    """A PUT carrying the current resourceVersion stores the new spec with a new version and generation 2."""
    await kind.create(side.control_plane, kind.body("rt-1"))
    side.reconcile()
    current = await kind.get(side.control_plane, "rt-1")
    assert current is not None
    replaced = await kind.replace(side.control_plane, _with_spec_change(current, kind))
    read = await kind.get(side.control_plane, "rt-1")
    assert read is not None
    assert read["spec"] == _with_spec_change(current, kind)["spec"]
    assert replaced["metadata"]["generation"] == 2
    assert replaced["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]


@KINDS
async def test_replace_of_labels_only_keeps_generation(side: Side, kind: Kind) -> None:
    """A PUT that changes only labels stores them and leaves the generation at 1."""
    await kind.create(side.control_plane, kind.body("rt-1"))
    side.reconcile()
    current = await kind.get(side.control_plane, "rt-1")
    assert current is not None
    relabelled = {**current, "metadata": {**current["metadata"], "labels": {"kyma-project.io/region": "x"}}}
    replaced = await kind.replace(side.control_plane, relabelled)
    assert replaced["metadata"]["labels"] == {"kyma-project.io/region": "x"}
    assert replaced["metadata"]["generation"] == 1


@KINDS
async def test_replace_with_a_stale_version_raises_conflict(side: Side, kind: Kind) -> None:
    """A PUT carrying an outdated resourceVersion is refused with ClusterConflictError (409 Conflict)."""
    await kind.create(side.control_plane, kind.body("rt-1"))
    side.reconcile()
    stale = await kind.get(side.control_plane, "rt-1")
    assert stale is not None
    await kind.replace(side.control_plane, _with_spec_change(stale, kind))
    with pytest.raises(ClusterConflictError):
        await kind.replace(side.control_plane, stale)


@KINDS
async def test_replace_of_a_missing_object_raises_not_found(side: Side, kind: Kind) -> None:
    """A PUT of an object that does not exist is ClusterNotFoundError; custom resources are not upserted."""
    body = kind.body("rt-missing")
    body["metadata"]["resourceVersion"] = "1"
    with pytest.raises(ClusterNotFoundError):
        await kind.replace(side.control_plane, body)
    assert await kind.get(side.control_plane, "rt-missing") is None


async def test_status_in_a_create_body_is_not_stored(side: Side) -> None:
    """A status sent with the Runtime on create is dropped: only KIM writes status (status subresource)."""
    body = runtime_body("rt-1")
    body["status"] = {"state": "Ready", "provisioningCompleted": True}
    created = await side.control_plane.create_runtime(body)
    side.reconcile()
    read = await side.control_plane.get_runtime("rt-1")
    assert read is not None
    assert (created.get("status") or {}).get("state") != "Ready"
    assert (read.get("status") or {}).get("state") != "Ready"


async def test_replace_does_not_change_the_status(side: Side) -> None:
    """A status sent with a Runtime PUT is ignored: the stored status stays what KIM wrote."""
    await side.control_plane.create_runtime(runtime_body("rt-1"))
    side.reconcile()
    before = await side.control_plane.get_runtime("rt-1")
    assert before is not None
    assert before["status"]["state"] == "Pending"
    forged = {**before, "status": {"state": "Ready", "provisioningCompleted": True}}
    replaced = await side.control_plane.replace_runtime(forged)
    after = await side.control_plane.get_runtime("rt-1")
    assert after is not None
    assert replaced["status"] == before["status"]
    assert after["status"] == before["status"]


@KINDS
async def test_delete_of_a_missing_object_is_fine(side: Side, kind: Kind) -> None:
    """Deleting an object that does not exist returns quietly (404 tolerated)."""
    await kind.delete(side.control_plane, "rt-missing")
    assert await kind.get(side.control_plane, "rt-missing") is None


async def test_kyma_without_finalizers_is_gone_after_delete(side: Side) -> None:
    """A Kyma CR without finalizers disappears with its DELETE."""
    await side.control_plane.create_kyma(kyma_body("rt-1"))
    await side.control_plane.delete_kyma("rt-1")
    assert await side.control_plane.get_kyma("rt-1") is None


async def test_deleted_runtime_lingers_until_kim_lifts_its_finalizer(side: Side) -> None:
    """A deleted Runtime stays readable with deletionTimestamp and KIM's finalizer until KIM is done."""
    await side.control_plane.create_runtime(runtime_body("rt-1"))
    side.reconcile()
    await side.control_plane.delete_runtime("rt-1")
    side.reconcile()
    lingering = await side.control_plane.get_runtime("rt-1")
    assert lingering is not None
    assert lingering["metadata"]["deletionTimestamp"]
    assert (
        "runtime-controller.infrastructure-manager.kyma-project.io/deletion-hook"
        in (lingering["metadata"]["finalizers"])
    )
    side.finish_deletion()
    assert await side.control_plane.get_runtime("rt-1") is None


async def test_deleting_a_lingering_runtime_again_is_fine(side: Side) -> None:
    """A second DELETE of a Runtime held by its finalizer neither fails nor removes it early."""
    await side.control_plane.create_runtime(runtime_body("rt-1"))
    side.reconcile()
    await side.control_plane.delete_runtime("rt-1")
    await side.control_plane.delete_runtime("rt-1")
    side.reconcile()
    assert await side.control_plane.get_runtime("rt-1") is not None


async def test_new_runtime_becomes_ready_for_its_generation(side: Side) -> None:
    """KIM reports a new Runtime Pending, then Ready with observedGeneration 1 (what the check step reads)."""
    await side.control_plane.create_runtime(runtime_body("rt-1"))
    side.reconcile()
    pending = await side.control_plane.get_runtime("rt-1")
    side.make_ready()
    ready = await side.control_plane.get_runtime("rt-1")
    assert pending is not None
    assert ready is not None
    assert pending["status"]["state"] == "Pending"
    assert ready["status"]["state"] == "Ready"
    assert ready["status"]["observedGeneration"] == 1


async def test_spec_change_is_pending_until_kim_observes_it(side: Side) -> None:
    """After a spec change KIM reports Pending without the new generation, then Ready for generation 2."""
    await side.control_plane.create_runtime(runtime_body("rt-1"))
    side.make_ready()
    current = await side.control_plane.get_runtime("rt-1")
    assert current is not None
    await side.control_plane.replace_runtime(_with_spec_change(current, RUNTIME))
    side.reconcile()
    pending = await side.control_plane.get_runtime("rt-1")
    side.make_ready()
    ready = await side.control_plane.get_runtime("rt-1")
    assert pending is not None
    assert ready is not None
    assert pending["status"]["state"] == "Pending"
    assert pending["status"].get("observedGeneration") != 2
    assert (ready["status"]["state"], ready["status"]["observedGeneration"]) == ("Ready", 2)


async def test_failed_runtime_carries_kims_message_in_its_newest_condition(side: Side) -> None:
    """A Runtime KIM failed reports state Failed and the reason as the message of its last condition."""
    await side.control_plane.create_runtime(runtime_body("rt-1"))
    side.reconcile()
    side.fail("rt-1", "quota exceeded")
    runtime = await side.control_plane.get_runtime("rt-1")
    assert runtime is not None
    assert runtime["status"]["state"] == "Failed"
    assert runtime["status"]["conditions"][-1]["message"] == "quota exceeded"


async def test_kubeconfig_of_a_deleted_runtime_is_gone(side: Side) -> None:
    """Once KIM has deleted a Runtime, its kubeconfig Secret is gone too."""
    await side.add_runtime("rt-1", "c-1234567")
    await side.control_plane.delete_runtime("rt-1")
    side.finish_deletion()
    with pytest.raises(ClusterNotFoundError):
        await side.control_plane.runtime_endpoint("rt-1")


async def test_runtime_kubeconfig_names_a_context_a_server_and_ca_data(side: Side) -> None:
    """The kubeconfig KIM keeps for a runtime has a current-context and a cluster with server and CA data:
    the endpoint is read from it only when all three are there (KEB's checks)."""
    await side.add_runtime("rt-1", "c-1234567")
    endpoint = await side.control_plane.runtime_endpoint("rt-1")
    assert endpoint.server.startswith("https://")
    assert endpoint.certificate_authority_data


async def test_runtime_kubeconfig_of_an_unknown_runtime_raises_not_found(side: Side) -> None:
    """Without the kubeconfig Secret the port raises ClusterNotFoundError."""
    with pytest.raises(ClusterNotFoundError):
        await side.control_plane.runtime_endpoint("rt-missing")
