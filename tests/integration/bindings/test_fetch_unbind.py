"""GET binding, DELETE binding and the binding last_operation over HTTP (keb-reference §4.4-4.5,
decisions.md §3), and the cleanup of expired bindings."""

from __future__ import annotations

import asyncio
from typing import Any

from keb_domain.model.binding import BINDING_ACCESS, binding_resource_name
from tests.integration.bindings.conftest import BindingBroker, bind_body, binding_path, make_binding_broker
from tests.support import SERVICE, TRIAL, provision_body


async def bound(broker: BindingBroker, binding_id: str = "b-1", **parameters: Any) -> str:
    """Bind and return the kubeconfig."""
    response = await broker.bind("inst-1", binding_id, bind_body(**parameters))
    assert response.status_code == 201, response.text
    return str(response.json()["credentials"]["kubeconfig"])


async def suspend(broker: BindingBroker, instance_id: str = "inst-1") -> None:
    """Ask the platform's way to suspend a trial (context.active false); the workers do not run yet."""
    response = await broker.patch(instance_id, {"service_id": SERVICE, "context": {"active": False}})
    assert response.status_code == 200, response.text


# --- GET ------------------------------------------------------------------------------------------


async def test_a_binding_is_fetched_with_its_kubeconfig(broker: BindingBroker) -> None:
    """GET returns the kubeconfig that the PUT returned."""
    kubeconfig = await bound(broker, token_request=True)
    response = await broker.get_binding("inst-1", "b-1")
    assert response.status_code == 200
    assert response.json()["credentials"] == {"kubeconfig": kubeconfig}


async def test_fetching_needs_osb_2_14(broker: BindingBroker) -> None:
    """GET binding with X-Broker-API-Version 2.13 is 412, as in KEB."""
    await bound(broker)
    response = await broker.osb(
        "GET", binding_path("inst-1", "b-1"), headers={"X-Broker-API-Version": "2.13"}
    )
    assert response.status_code == 412
    assert response.json()["description"]


async def test_fetching_from_an_unknown_instance_is_404(broker: BindingBroker) -> None:
    """An instance that does not exist has no bindings to show."""
    response = await broker.get_binding("inst-unknown", "b-1")
    assert response.status_code == 404
    assert response.json()["description"] == "instance does not exist"


async def test_fetching_an_unknown_binding_is_404(broker: BindingBroker) -> None:
    """A binding id the instance never had is 404 ``Binding not found``."""
    response = await broker.get_binding("inst-1", "b-unknown")
    assert response.status_code == 404
    assert response.json()["description"] == "Binding not found"


async def test_fetching_an_expired_binding_is_404(broker: BindingBroker) -> None:
    """From its expiry on, a binding is 404 ``Binding expired``, although the row is still stored."""
    await bound(broker, expiration_seconds=1200)
    broker.clock.advance(1199)
    assert (await broker.get_binding("inst-1", "b-1")).status_code == 200
    broker.clock.advance(1)
    response = await broker.get_binding("inst-1", "b-1")
    assert response.status_code == 404
    assert response.json()["description"] == "Binding expired"
    assert await broker.stored("inst-1", "b-1") is not None


async def test_fetching_a_binding_being_created_is_404(broker: BindingBroker) -> None:
    """While the credentials are being made, GET says so with a 404."""
    broker.gardener.gate.close()
    creating = asyncio.create_task(broker.bind("inst-1", "b-1"))
    await broker.gardener.gate.arrived.wait()
    response = await broker.get_binding("inst-1", "b-1")
    assert response.status_code == 404
    assert response.json()["description"] == "Binding creation in progress"
    broker.gardener.gate.open()
    assert (await creating).status_code == 201


async def test_fetching_while_the_instance_is_deprovisioned_is_404(broker: BindingBroker) -> None:
    """Once deprovisioning started, the binding is 404, and it stays 404 after the instance is gone."""
    await bound(broker)
    assert (await broker.deprovision("inst-1")).status_code == 202
    await broker.step()
    during = await broker.get_binding("inst-1", "b-1")
    assert during.status_code == 404
    assert during.json()["description"] == "Binding not found"
    await broker.settle()
    assert (await broker.get_binding("inst-1", "b-1")).status_code == 404


async def test_fetching_from_a_suspended_trial_is_404() -> None:
    """A suspension is a deprovisioning for the bindings: their kubeconfigs are no longer shown."""
    async for broker in make_binding_broker():
        await broker.provisioned("inst-1", provision_body(TRIAL, {"name": "trial-cluster"}))
        await broker.bind("inst-1", "b-1", bind_body(TRIAL))
        await suspend(broker)
        await broker.settle()
        assert (await broker.get_binding("inst-1", "b-1")).status_code == 404


# --- DELETE ---------------------------------------------------------------------------------------


async def test_unbinding_is_200_and_then_410(broker: BindingBroker) -> None:
    """The first DELETE removes the binding (200 {}); the next one finds nothing (410 {})."""
    await bound(broker)
    first = await broker.unbind("inst-1", "b-1")
    assert (first.status_code, first.json()) == (200, {})
    assert await broker.stored("inst-1", "b-1") is None
    second = await broker.unbind("inst-1", "b-1")
    assert (second.status_code, second.json()) == (410, {})


async def test_unbinding_an_unknown_binding_is_410(broker: BindingBroker) -> None:
    """A binding id the instance never had is 410 {}."""
    response = await broker.unbind("inst-1", "b-unknown")
    assert (response.status_code, response.json()) == (410, {})


async def test_unbinding_an_orphan_is_410_and_removes_it(broker: BindingBroker) -> None:
    """A binding whose instance was deprovisioned is removed by its DELETE, which still answers 410."""
    await bound(broker)
    await broker.deprovision("inst-1")
    await broker.settle()
    assert await broker.stored("inst-1", "b-1") is not None  # deprovisioning leaves bindings behind
    response = await broker.unbind("inst-1", "b-1")
    assert (response.status_code, response.json()) == (410, {})
    assert await broker.stored("inst-1", "b-1") is None


async def test_unbinding_a_token_binding_revokes_the_token(broker: BindingBroker) -> None:
    """After DELETE the runtime refuses the binding's token: its ServiceAccount and RBAC are gone."""
    kubeconfig = await bound(broker, token_request=True, expiration_seconds=7200)
    assert await broker.token_works("inst-1", kubeconfig)
    granted = broker.clusters.inner.clusters[(await broker.runtime_id("inst-1")).lower()].cluster_roles
    assert granted[binding_resource_name("b-1")] == BINDING_ACCESS  # the domain's rules, applied
    assert (await broker.unbind("inst-1", "b-1")).status_code == 200
    assert not await broker.token_works("inst-1", kubeconfig)
    cluster = broker.clusters.inner.clusters[(await broker.runtime_id("inst-1")).lower()]
    name = binding_resource_name("b-1")
    assert name not in cluster.service_accounts
    assert name not in cluster.cluster_roles
    assert name not in cluster.cluster_role_bindings


async def test_unbinding_a_token_binding_keeps_it_when_the_runtime_cannot_be_reached(
    broker: BindingBroker,
) -> None:
    """If revoking fails the DELETE fails too and the binding stays, so the platform can retry."""
    kubeconfig = await bound(broker, token_request=True)
    broker.clusters.unreachable = True
    failed = await broker.unbind("inst-1", "b-1")
    assert failed.status_code == 503
    assert await broker.stored("inst-1", "b-1") is not None
    broker.clusters.unreachable = False
    assert (await broker.unbind("inst-1", "b-1")).status_code == 200
    assert not await broker.token_works("inst-1", kubeconfig)


async def test_unbinding_a_gardener_binding_only_forgets_it(broker: BindingBroker) -> None:
    """An admin kubeconfig cannot be revoked: DELETE does not touch the runtime and the binding just goes."""
    await bound(broker)
    broker.clusters.unreachable = True  # would fail any call into the runtime
    response = await broker.unbind("inst-1", "b-1")
    assert (response.status_code, response.json()) == (200, {})
    assert (await broker.get_binding("inst-1", "b-1")).status_code == 404


async def test_unbinding_during_deprovisioning_skips_the_runtime(broker: BindingBroker) -> None:
    """While the instance is deprovisioned, DELETE removes the row without calling its runtime."""
    await bound(broker, token_request=True)
    await broker.deprovision("inst-1")
    await broker.step()
    broker.clusters.unreachable = True
    response = await broker.unbind("inst-1", "b-1")
    assert (response.status_code, response.json()) == (200, {})
    assert await broker.stored("inst-1", "b-1") is None


async def test_unbinding_a_suspended_trial_skips_the_runtime() -> None:
    """Once a trial is being suspended, DELETE removes the row without calling the runtime going away."""
    async for broker in make_binding_broker():
        await broker.provisioned("inst-1", provision_body(TRIAL, {"name": "trial-cluster"}))
        assert (await broker.bind("inst-1", "b-1", bind_body(TRIAL, token_request=True))).status_code == 201
        await suspend(broker)
        broker.clusters.unreachable = True
        response = await broker.unbind("inst-1", "b-1", TRIAL)
        assert (response.status_code, response.json()) == (200, {})
        assert await broker.stored("inst-1", "b-1") is None


# --- binding last_operation -----------------------------------------------------------------------


async def test_the_last_operation_of_an_existing_binding_succeeded(broker: BindingBroker) -> None:
    """Bindings are synchronous: an existing one reports ``succeeded``."""
    await bound(broker)
    response = await broker.osb("GET", binding_path("inst-1", "b-1") + "/last_operation")
    assert (response.status_code, response.json()["state"]) == (200, "succeeded")


async def test_the_last_operation_of_an_unknown_binding_is_404(broker: BindingBroker) -> None:
    """No binding, no operation: 404 rather than KEB's 500."""
    response = await broker.osb("GET", binding_path("inst-1", "b-unknown") + "/last_operation")
    assert response.status_code == 404
    assert response.json()["description"]


async def test_the_last_operation_of_a_binding_being_created_is_404(broker: BindingBroker) -> None:
    """A binding whose credentials do not exist yet has not succeeded: 404 until the PUT finished."""
    broker.gardener.gate.close()
    creating = asyncio.create_task(broker.bind("inst-1", "b-1"))
    await broker.gardener.gate.arrived.wait()
    response = await broker.osb("GET", binding_path("inst-1", "b-1") + "/last_operation")
    assert response.status_code == 404
    broker.gardener.gate.open()
    assert (await creating).status_code == 201
    after = await broker.osb("GET", binding_path("inst-1", "b-1") + "/last_operation")
    assert after.status_code == 200


async def test_the_last_operation_of_an_unbound_binding_is_404(broker: BindingBroker) -> None:
    """After the DELETE the binding's operation is gone with it."""
    await bound(broker)
    await broker.unbind("inst-1", "b-1")
    response = await broker.osb("GET", binding_path("inst-1", "b-1") + "/last_operation")
    assert response.status_code == 404


# --- cleanup --------------------------------------------------------------------------------------


async def test_the_cleanup_revokes_an_expired_token_binding(broker: BindingBroker) -> None:
    """Services.clean_bindings removes the expired binding's row and its identity in the runtime."""
    await bound(broker, "b-old", token_request=True)
    broker.clock.advance(600)
    live = await bound(broker, "b-new", token_request=True)
    report = await broker.services.clean_bindings()
    assert report.removed == (("inst-1", "b-old"),)
    assert await broker.stored("inst-1", "b-old") is None
    cluster = broker.clusters.inner.clusters[(await broker.runtime_id("inst-1")).lower()]
    assert binding_resource_name("b-old") not in cluster.service_accounts
    assert binding_resource_name("b-old") not in cluster.cluster_role_bindings
    assert await broker.token_works("inst-1", live)
    assert (await broker.get_binding("inst-1", "b-new")).status_code == 200


async def test_the_cleanup_reports_a_binding_it_cannot_revoke_and_keeps_it(broker: BindingBroker) -> None:
    """An unreachable runtime fails the removal of that binding; it stays for the next run."""
    await bound(broker, token_request=True)
    broker.clock.advance(600)
    broker.clusters.unreachable = True
    report = await broker.services.clean_bindings()
    assert (report.removed, [failure[:2] for failure in report.failed]) == ((), [("inst-1", "b-1")])
    assert await broker.stored("inst-1", "b-1") is not None


async def test_the_cleanup_removes_bindings_of_deprovisioned_instances(broker: BindingBroker) -> None:
    """Orphans left by a deprovisioning are removed once expired, without a runtime to call."""
    await bound(broker, token_request=True)
    await broker.deprovision("inst-1")
    await broker.settle()
    broker.clock.advance(600)
    report = await broker.services.clean_bindings()
    assert report.removed == (("inst-1", "b-1"),)
    assert await broker.stored("inst-1", "b-1") is None
