"""``GET /runtimes?state=...``, ``expired`` and ``with_bindings``: which runtimes each selects (§5.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.inventory.conftest import InventoryBroker, aws, make_inventory_broker, trial
from tests.support import AWS, SERVICE, TRIAL

BIND = {"service_id": SERVICE, "plan_id": AWS}


@pytest.fixture
async def zoo() -> AsyncIterator[InventoryBroker]:
    """A runtime in every state the broker can reach, created in this order:

    ok (succeeded), broken (failed provisioning), bad-update (error), gone (deprovisioned, archived),
    sleeping (suspended trial), going (deprovisioning), changing (updating), new (provisioning).
    """
    async for broker in make_inventory_broker():
        await broker.provisioned("ok", aws(sa="sa-ok"))
        broker.failing.add("broken")
        await broker.provision("broken", aws(sa="sa-broken"))
        await broker.settle()
        await broker.provisioned("bad-update", aws(sa="sa-bad"))
        broker.failing.add("bad-update")
        await broker.patch(
            "bad-update", {"service_id": SERVICE, "parameters": {"machineType": "m6i.2xlarge"}}
        )
        await broker.settle()
        await broker.provisioned("gone", aws(sa="sa-gone"))
        await broker.deprovisioned("gone")
        await broker.provisioned("sleeping", trial())
        await broker.suspend("sleeping")
        await broker.provisioned("going", aws(sa="sa-going"))
        await broker.provisioned("changing", aws(sa="sa-changing"))
        assert (await broker.deprovision("going")).status_code == 202
        update = {"service_id": SERVICE, "parameters": {"machineType": "m6i.2xlarge"}}
        assert (await broker.patch("changing", update)).status_code == 202
        await broker.provision("new", aws(sa="sa-new"))
        await broker.step()  # the deprovisioning and the update start and wait for KIM
        yield broker


LIVE = ["ok", "broken", "bad-update", "sleeping", "going", "changing", "new"]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("succeeded", ["ok"]),
        ("failed", ["broken"]),
        ("error", ["bad-update"]),
        ("provisioning", ["new"]),
        ("deprovisioning", ["going"]),
        ("updating", ["changing"]),
        ("suspended", ["sleeping"]),
        ("deprovisioned", ["gone"]),
        ("upgrading", []),
        ("deprovisionincomplete", []),
        ("all", LIVE),
    ],
)
async def test_each_state_selects_its_runtimes(zoo: InventoryBroker, state: str, expected: list[str]) -> None:
    """Every ``state`` value lists exactly the runtimes in that state, oldest first."""
    assert await zoo.listed({"state": state}) == expected


async def test_without_state_suspended_trials_and_deprovisioned_runtimes_are_hidden(
    zoo: InventoryBroker,
) -> None:
    """The default hides runtimes whose last operation is a finished deprovisioning or suspension."""
    assert await zoo.listed() == ["ok", "broken", "bad-update", "going", "changing", "new"]


async def test_repeated_states_are_an_or(zoo: InventoryBroker) -> None:
    """``state=a&state=b`` lists the runtimes in either state."""
    assert await zoo.listed([("state", "provisioning"), ("state", "failed")]) == ["broken", "new"]


async def test_deprovisioned_joins_the_archive_with_live_states(zoo: InventoryBroker) -> None:
    """``deprovisioned`` and a live state together list both, ordered by creation."""
    assert await zoo.listed([("state", "deprovisioned"), ("state", "succeeded")]) == ["ok", "gone"]


async def test_a_deprovisioned_runtime_is_described_from_the_archive(zoo: InventoryBroker) -> None:
    """The archived runtime keeps its ids and plan; its state is ``deprovisioned`` with a ``deletedAt``."""
    item = await zoo.runtime("gone", {"state": "deprovisioned"})
    assert (item["subAccountID"], item["servicePlanName"], item["globalAccountID"]) == (
        "sa-gone",
        "aws",
        "ga-1",
    )
    assert item["status"]["state"] == "deprovisioned"
    assert item["status"]["deletedAt"]


async def test_other_filters_apply_to_the_archive(zoo: InventoryBroker) -> None:
    """``state=deprovisioned`` with a subaccount that is not the archived one's lists nothing."""
    assert await zoo.listed({"state": "deprovisioned", "subaccount": "sa-ok"}) == []


async def test_the_state_in_the_body_agrees_with_the_filter(zoo: InventoryBroker) -> None:
    """Each live runtime's ``status.state`` is the state whose filter selects it."""
    states = {
        item["instanceID"]: item["status"]["state"] for item in (await zoo.runtimes({"state": "all"}))["data"]
    }
    assert states == {
        "ok": "succeeded",
        "broken": "failed",
        "bad-update": "error",
        "sleeping": "suspended",
        "going": "deprovisioning",
        "changing": "updating",
        "new": "provisioning",
    }


async def test_an_unknown_state_is_400_with_a_description(zoo: InventoryBroker) -> None:
    """A state KEB does not know is refused, naming it."""
    response = await zoo.client.get("/runtimes", params={"state": "sleepy"})
    assert response.status_code == 400
    assert response.json()["description"]


async def test_an_unsuspending_trial_is_provisioning() -> None:
    """Once its unsuspension starts, a suspended trial is listed again by default, as ``provisioning``."""
    async for broker in make_inventory_broker():
        await broker.provisioned("sleeping", trial())
        await broker.suspend("sleeping")
        await broker.unsuspend("sleeping")
        await broker.step()
        assert await broker.listed({"state": "provisioning"}) == ["sleeping"]
        assert (await broker.runtime("sleeping"))["status"]["state"] == "provisioning"


# --- expired ---------------------------------------------------------------------------------------------


@pytest.fixture
async def expired() -> AsyncIterator[InventoryBroker]:
    """An aws runtime ``ok`` and a trial ``old`` that was expired (PUT /expire/service_instance/old)."""
    async for broker in make_inventory_broker():
        await broker.provisioned("ok", aws())
        await broker.provisioned("old", trial())
        response = await broker.client.put("/expire/service_instance/old")
        assert response.status_code == 202, response.text
        yield broker


async def test_expired_lists_only_expired_runtimes(expired: InventoryBroker) -> None:
    """``expired=true`` with ``state=all``: only the expired trial."""
    await expired.settle()
    assert await expired.listed({"expired": "true", "state": "all"}) == ["old"]


async def test_expired_while_the_suspension_runs_lists_the_trial(expired: InventoryBroker) -> None:
    """``expired=true`` alone lists the expired trial while its suspension is still running."""
    await expired.step()
    assert await expired.listed({"expired": "true"}) == ["old"]


async def test_expired_alone_keeps_the_default_state_filter(expired: InventoryBroker) -> None:
    """Without ``state``, a trial whose suspension finished stays hidden even with ``expired=true`` (KEB)."""
    await expired.settle()
    assert await expired.listed({"expired": "true"}) == []


async def test_expired_runtimes_carry_expired_at(expired: InventoryBroker) -> None:
    """The expired trial's ``status.expiredAt`` is set; the aws runtime has none."""
    await expired.settle()
    assert (await expired.runtime("old"))["status"]["expiredAt"]
    assert "expiredAt" not in (await expired.runtime("ok"))["status"]


async def test_expired_false_does_not_filter(expired: InventoryBroker) -> None:
    """``expired=false`` is the same as leaving it out."""
    await expired.settle()
    assert await expired.listed({"expired": "false", "state": "all"}) == ["ok", "old"]


# --- with_bindings ---------------------------------------------------------------------------------------


async def test_with_bindings_lists_only_runtimes_that_have_bindings() -> None:
    """``with_bindings=true`` keeps the runtimes with at least one binding row."""
    async for broker in make_inventory_broker():
        await broker.provisioned("bound", aws(sa="sa-1"))
        await broker.provisioned("free", aws(sa="sa-2"))
        bound = await broker.osb("PUT", "/oauth/v2/service_instances/bound/service_bindings/b-1", json=BIND)
        assert bound.status_code == 201, bound.text
        assert await broker.listed({"with_bindings": "true"}) == ["bound"]
        assert await broker.listed({"with_bindings": "false"}) == ["bound", "free"]


async def test_with_bindings_forgets_a_runtime_whose_bindings_are_gone() -> None:
    """After its only binding is deleted, a runtime no longer has bindings."""
    async for broker in make_inventory_broker():
        await broker.provisioned("bound", aws())
        path = "/oauth/v2/service_instances/bound/service_bindings/b-1"
        assert (await broker.osb("PUT", path, json=BIND)).status_code == 201
        assert (await broker.osb("DELETE", path, params=BIND)).status_code == 200
        assert await broker.listed({"with_bindings": "true"}) == []


async def test_trial_and_aws_plans_are_both_listed_by_plan_name() -> None:
    """``plan=trial`` lists the trial only (the plan filter takes KEB's plan names)."""
    async for broker in make_inventory_broker():
        await broker.provisioned("a", aws())
        await broker.provisioned("t", trial())
        stored = await broker.stored("t")
        assert stored.plan_id == TRIAL
        assert await broker.listed({"plan": "trial"}) == ["t"]
