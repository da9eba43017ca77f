"""``GET /info/runtimes``: every existing runtime as one JSON array, oldest first (keb-reference §5.2)."""

from __future__ import annotations

from tests.integration.inventory.conftest import InventoryBroker, aws, azure, make_inventory_broker, trial
from tests.support import AWS, AZURE, SERVICE

ITEM_KEYS = {
    "runtimeId",
    "globalAccountId",
    "subaccountId",
    "subaccountRegion",
    "serviceInstanceId",
    "serviceClassId",
    "serviceClassName",
    "servicePlanId",
    "servicePlanName",
    "status",
}
UPDATE = {"service_id": SERVICE, "parameters": {"autoScalerMax": 12}}


async def test_an_empty_database_gives_an_empty_array(broker: InventoryBroker) -> None:
    """No instances: ``[]``, as JSON."""
    assert await broker.info() == []


async def test_items_are_sorted_by_creation(broker: InventoryBroker) -> None:
    """Runtimes come oldest first, whatever their ids."""
    for instance_id, sa in (("zz", "sa-1"), ("aa", "sa-2"), ("mm", "sa-3")):
        await broker.provisioned(instance_id, aws(sa=sa))
    assert [item["serviceInstanceId"] for item in await broker.info()] == ["zz", "aa", "mm"]


async def test_an_item_has_keb_s_keys_and_values(broker: InventoryBroker) -> None:
    """Keys are KEB's ``...Id`` spellings; values are the instance's ids, plan and platform region."""
    await broker.provisioned("inst-1", azure("ga-9", "sa-9"), region="cf-us10")
    stored = await broker.stored("inst-1")
    [item] = await broker.info()
    assert set(item) == ITEM_KEYS
    assert {key: item[key] for key in ITEM_KEYS - {"status"}} == {
        "runtimeId": stored.runtime_id,
        "globalAccountId": "ga-9",
        "subaccountId": "sa-9",
        "subaccountRegion": "cf-us10",
        "serviceInstanceId": "inst-1",
        "serviceClassId": SERVICE,
        "serviceClassName": "kymaruntime",
        "servicePlanId": AZURE,
        "servicePlanName": "azure",
    }


async def test_the_status_has_times_and_the_provisioning(broker: InventoryBroker) -> None:
    """A provisioned runtime: ``createdAt``, ``updatedAt`` and ``provisioning`` with state and description."""
    await broker.provisioned("inst-1", aws())
    [item] = await broker.info()
    assert set(item["status"]) == {"createdAt", "updatedAt", "provisioning"}
    assert item["status"]["provisioning"] == {"state": "succeeded", "description": "Processing finished"}


async def test_updated_at_is_the_last_operation_s(broker: InventoryBroker) -> None:
    """After an update, ``updatedAt`` is that update's last change, later than the creation."""
    await broker.provisioned("inst-1", aws())
    assert (await broker.patch("inst-1", UPDATE)).status_code == 202
    await broker.settle()
    runtime = await broker.runtime("inst-1")
    [item] = await broker.info()
    assert item["status"]["updatedAt"] == runtime["status"]["update"]["data"][0]["updatedAt"]
    assert item["status"]["updatedAt"] > item["status"]["createdAt"]


async def test_provisioning_comes_from_the_first_provisioning(broker: InventoryBroker) -> None:
    """While a trial's unsuspension runs, ``provisioning`` still shows the first, succeeded, provisioning."""
    await broker.provisioned("t", trial())
    await broker.suspend("t")
    await broker.unsuspend("t")
    await broker.step()
    assert (await broker.runtime("t"))["status"]["state"] == "provisioning"
    [item] = await broker.info()
    assert item["status"]["provisioning"]["state"] == "succeeded"


async def test_a_running_provisioning_is_in_progress(broker: InventoryBroker) -> None:
    """A runtime still provisioning is listed, its provisioning ``in progress``."""
    await broker.provision("inst-1", aws())
    [item] = await broker.info()
    assert item["status"]["provisioning"]["state"] == "in progress"


async def test_a_failed_provisioning_is_listed_as_failed(broker: InventoryBroker) -> None:
    """Failed runtimes are listed too, with their provisioning's failure."""
    broker.failing.add("inst-1")
    await broker.provision("inst-1", aws())
    await broker.settle()
    [item] = await broker.info()
    assert item["status"]["provisioning"]["state"] == "failed"
    assert "KIM could not create the shoot" in item["status"]["provisioning"]["description"]


async def test_a_suspension_is_not_a_deprovisioning(broker: InventoryBroker) -> None:
    """A suspended trial has no ``deprovisioning``: suspensions do not count."""
    await broker.provisioned("t", trial())
    await broker.suspend("t")
    [item] = await broker.info()
    assert "deprovisioning" not in item["status"]


async def test_deprovisioning_comes_from_the_latest_deprovisioning() -> None:
    """After a deprovisioning failed and a second one started, ``deprovisioning`` is the second one."""
    env = {"APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_DELETION": "1s"}  # KIM deletes in 2 s: the first fails
    async for broker in make_inventory_broker(env):
        await broker.provisioned("inst-1", aws())
        first = await broker.deprovision("inst-1")
        await broker.settle()
        assert await broker.last_operation("inst-1", first.json()["operation"]) == "failed"
        assert (await broker.deprovision("inst-1", AWS)).status_code == 202
        await broker.step()
        [item] = await broker.info()
        assert item["status"]["deprovisioning"]["state"] == "in progress"


async def test_a_deprovisioned_runtime_is_gone(broker: InventoryBroker) -> None:
    """Once deprovisioned (archived), a runtime no longer appears; the others do."""
    await broker.provisioned("stays", aws(sa="sa-1"))
    await broker.provisioned("goes", aws(sa="sa-2"))
    await broker.deprovisioned("goes")
    assert [item["serviceInstanceId"] for item in await broker.info()] == ["stays"]


async def test_suspended_and_expired_runtimes_are_listed(broker: InventoryBroker) -> None:
    """Unlike ``/runtimes`` by default, ``/info/runtimes`` lists every instance row, suspended or not."""
    await broker.provisioned("t", trial())
    assert (await broker.client.put("/expire/service_instance/t")).status_code == 202
    await broker.settle()
    assert [item["serviceInstanceId"] for item in await broker.info()] == ["t"]
