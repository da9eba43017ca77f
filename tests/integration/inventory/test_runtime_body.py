"""The ``GET /runtimes`` body: RuntimeDTO keys, embedded operations and bindings, pages and their errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from keb_adapters.memory.storage import MemoryStorage
from tests.integration.inventory.conftest import (
    InventoryBroker,
    Query,
    aws,
    make_inventory_broker,
    query_params,
    trial,
)
from tests.support import AWS, SERVICE
from tests.unit.inventory.fleet import SUCCEEDED, Fleet, runtime

BIND = {"service_id": SERVICE, "plan_id": AWS}
RUNTIME_KEYS = {
    "instanceID",
    "runtimeID",
    "globalAccountID",
    "subscriptionGlobalAccountID",
    "subAccountID",
    "region",
    "subAccountRegion",
    "shootName",
    "serviceClassID",
    "serviceClassName",
    "servicePlanID",
    "servicePlanName",
    "provider",
    "userID",
    "parameters",
    "status",
}
OPERATION_KEYS = {"state", "type", "description", "createdAt", "updatedAt", "operationID", "finishedStages"}
BINDING_KEYS = {"id", "createdAt", "expiresInSeconds", "expiresAt", "kubeconfigExists", "createdBy"}


@pytest.fixture
async def one() -> AsyncIterator[InventoryBroker]:
    """One aws runtime ``inst-1`` provisioned under the platform region cf-us10."""
    async for broker in make_inventory_broker():
        await broker.provisioned("inst-1", aws("ga-1", "sa-1"), region="cf-us10")
        yield broker


async def updated_three_times(broker: InventoryBroker) -> None:
    for maximum in (10, 11, 12):
        response = await broker.patch(
            "inst-1", {"service_id": SERVICE, "parameters": {"autoScalerMax": maximum}}
        )
        assert response.status_code == 202, response.text
        await broker.settle()


# --- RuntimeDTO ------------------------------------------------------------------------------------------


async def test_a_runtime_has_the_keys_keb_names(one: InventoryBroker) -> None:
    """Every key §5.1 lists as always present is there, spelled as KEB spells it."""
    item = await one.runtime("inst-1")
    assert set(item) >= RUNTIME_KEYS


async def test_the_identifiers_are_the_instance_s(one: InventoryBroker) -> None:
    """Ids, plan, provider and regions come from the instance as provisioned."""
    stored = await one.stored("inst-1")
    item = await one.runtime("inst-1")
    assert {k: item[k] for k in ("instanceID", "runtimeID", "globalAccountID", "subAccountID")} == {
        "instanceID": "inst-1",
        "runtimeID": stored.runtime_id,
        "globalAccountID": "ga-1",
        "subAccountID": "sa-1",
    }
    assert (item["servicePlanID"], item["servicePlanName"], item["provider"]) == (AWS, "aws", "AWS")
    assert (item["region"], item["subAccountRegion"], item["shootName"]) == (
        "eu-central-1",
        "cf-us10",
        stored.shoot_name,
    )
    assert (item["serviceClassID"], item["serviceClassName"]) == (SERVICE, "kymaruntime")


async def test_the_user_is_the_context_s(one: InventoryBroker) -> None:
    """``userID`` is the ERS context's user id."""
    assert (await one.runtime("inst-1"))["userID"] == "user@example.com"


async def test_parameters_are_the_user_s_provisioning_parameters(one: InventoryBroker) -> None:
    """``parameters`` are what the user provisioned with."""
    assert (await one.runtime("inst-1"))["parameters"] == {"name": "my-cluster", "region": "eu-central-1"}


async def test_the_status_has_state_times_and_the_provisioning(one: InventoryBroker) -> None:
    """``status`` has ``createdAt``, ``modifiedAt``, ``state`` and a ``provisioning`` operation object."""
    status = (await one.runtime("inst-1"))["status"]
    assert {"createdAt", "modifiedAt", "state", "provisioning"} <= set(status)
    assert set(status["provisioning"]) >= OPERATION_KEYS
    assert (status["provisioning"]["type"], status["provisioning"]["state"]) == ("provision", "succeeded")


async def test_modified_at_is_the_last_operation_s_update(one: InventoryBroker) -> None:
    """``modifiedAt`` follows the newest operation's ``updatedAt``, not the instance's creation."""
    await updated_three_times(one)
    status = (await one.runtime("inst-1"))["status"]
    assert status["modifiedAt"] == status["update"]["data"][0]["updatedAt"]
    assert status["modifiedAt"] > status["createdAt"]


async def test_the_provisioning_is_the_first_one_after_an_unsuspension() -> None:
    """After suspension and unsuspension, ``status.provisioning`` is still the first provisioning."""
    async for broker in make_inventory_broker():
        first = await broker.provisioned("t", trial())
        await broker.suspend("t")
        await broker.unsuspend("t")
        await broker.settle()
        status = (await broker.runtime("t"))["status"]
        assert status["provisioning"]["operationID"] == first
        assert status["unsuspension"]["count"] == 1
        assert status["suspension"]["count"] == 1
        assert status["suspension"]["data"][0]["type"] == "suspension"


async def test_a_suspension_is_not_the_deprovisioning() -> None:
    """A suspended trial has a ``suspension`` list but no ``deprovisioning``."""
    async for broker in make_inventory_broker():
        await broker.provisioned("t", trial())
        await broker.suspend("t")
        status = (await broker.runtime("t"))["status"]
        assert "deprovisioning" not in status
        assert status["suspension"]["count"] == 1


async def test_a_running_deprovisioning_is_embedded(one: InventoryBroker) -> None:
    """Once a DELETE's deprovisioning runs, ``status.deprovisioning`` shows it in progress."""
    assert (await one.deprovision("inst-1")).status_code == 202
    await one.step()
    deprovisioning = (await one.runtime("inst-1"))["status"]["deprovisioning"]
    assert (deprovisioning["type"], deprovisioning["state"]) == ("deprovision", "in progress")
    assert set(deprovisioning) >= OPERATION_KEYS


# --- op_detail -------------------------------------------------------------------------------------------


async def test_all_operations_embed_the_newest_two_updates(one: InventoryBroker) -> None:
    """By default ``update`` holds the newest 2 updates, newest first; ``totalCount`` counts all (§5.1)."""
    await updated_three_times(one)
    update = (await one.runtime("inst-1"))["status"]["update"]
    maxima = [entry["parameters"]["autoScalerMax"] for entry in update["data"]]
    assert (maxima, update["count"], update["totalCount"]) == ([12, 11], 2, 3)


async def test_op_detail_all_is_the_default(one: InventoryBroker) -> None:
    """``op_detail=all`` gives the same body as no ``op_detail``."""
    await updated_three_times(one)
    assert await one.runtime("inst-1", {"op_detail": "all", "state": "all"}) == await one.runtime("inst-1")


async def test_op_detail_last_embeds_one_operation_per_list(one: InventoryBroker) -> None:
    """``op_detail=last`` keeps only the newest update, with ``totalCount`` still counting all."""
    await updated_three_times(one)
    update = (await one.runtime("inst-1", {"op_detail": "last", "state": "all"}))["status"]["update"]
    maxima = [entry["parameters"]["autoScalerMax"] for entry in update["data"]]
    assert (maxima, update["count"], update["totalCount"]) == ([12], 1, 3)


async def test_an_unknown_op_detail_is_400(one: InventoryBroker) -> None:
    """``op_detail`` is ``all`` or ``last``; anything else is refused with a description."""
    response = await one.client.get("/runtimes", params={"op_detail": "some"})
    assert response.status_code == 400
    assert response.json()["description"]


# --- bindings --------------------------------------------------------------------------------------------


async def test_bindings_true_embeds_the_bindings(one: InventoryBroker) -> None:
    """``bindings=true`` adds ``bindings[]`` with KEB's BindingDTO keys and the binding's values."""
    path = "/oauth/v2/service_instances/inst-1/service_bindings/b-1"
    created = await one.osb("PUT", path, json={**BIND, "parameters": {"expiration_seconds": 900}})
    assert created.status_code == 201, created.text
    bindings = (await one.runtime("inst-1", {"bindings": "true", "state": "all"}))["bindings"]
    assert len(bindings) == 1
    assert set(bindings[0]) == BINDING_KEYS
    assert (bindings[0]["id"], bindings[0]["expiresInSeconds"], bindings[0]["kubeconfigExists"]) == (
        "b-1",
        900,
        True,
    )


async def test_without_bindings_true_no_bindings_key_appears(one: InventoryBroker) -> None:
    """Bindings are embedded only when asked for."""
    path = "/oauth/v2/service_instances/inst-1/service_bindings/b-1"
    assert (await one.osb("PUT", path, json=BIND)).status_code == 201
    assert "bindings" not in await one.runtime("inst-1")


async def test_bindings_true_on_a_runtime_without_bindings_is_an_empty_list(one: InventoryBroker) -> None:
    """A runtime without bindings gets ``bindings: []`` when they are asked for."""
    assert (await one.runtime("inst-1", {"bindings": "true", "state": "all"}))["bindings"] == []


# --- paging ----------------------------------------------------------------------------------------------


@pytest.fixture
async def five() -> AsyncIterator[InventoryBroker]:
    """Five provisioned runtimes r-1 ... r-5, created in this order."""
    async for broker in make_inventory_broker():
        for number in range(1, 6):
            await broker.provisioned(f"r-{number}", aws(sa=f"sa-{number}"))
        yield broker


async def test_pages_of_two_walk_through_in_creation_order(five: InventoryBroker) -> None:
    """``page_size=2``: pages 1, 2, 3 hold 2, 2 and 1 runtimes, oldest first; ``totalCount`` is 5."""
    pages = [await five.runtimes({"page_size": "2", "page": str(page)}) for page in (1, 2, 3)]
    assert [[d["instanceID"] for d in p["data"]] for p in pages] == [["r-1", "r-2"], ["r-3", "r-4"], ["r-5"]]
    assert [(p["count"], p["totalCount"]) for p in pages] == [(2, 5), (2, 5), (1, 5)]


async def test_a_page_past_the_end_is_empty_with_the_total(five: InventoryBroker) -> None:
    """A page beyond the last match: no data, ``count`` 0, ``totalCount`` still 5."""
    page = await five.runtimes({"page_size": "2", "page": "4"})
    assert (page["data"], page["count"], page["totalCount"]) == ([], 0, 5)


async def test_the_default_and_largest_page_is_100() -> None:
    """Without ``page_size`` a page holds 100 runtimes; ``page_size=100`` is allowed."""
    async for broker in make_inventory_broker():
        storage = broker.services.storage
        assert isinstance(storage, MemoryStorage)
        lives = [runtime(n, [("provision", SUCCEEDED)]) for n in range(101)]
        await Fleet(tuple(i for i, _ in lives), tuple(o for _, ops in lives for o in ops)).store(storage)
        default, largest = await broker.runtimes(), await broker.runtimes({"page_size": "100"})
        assert (default["count"], default["totalCount"]) == (100, 101)
        assert largest == default
        assert [d["instanceID"] for d in (await broker.runtimes({"page": "2"}))["data"]] == ["i-100"]


BAD_PAGES: list[Query] = [
    {"page_size": "101"},
    {"page_size": "0"},
    {"page_size": "-1"},
    {"page_size": "ten"},
    {"page_size": "1.5"},
    {"page_size": ""},
    [("page_size", "10"), ("page_size", "20")],
    [("page_size", "10"), ("page_size", "10")],
    {"page": "0"},
    {"page": "-3"},
    {"page": "two"},
    [("page", "1"), ("page", "2")],
]


@pytest.mark.parametrize("query", BAD_PAGES)
async def test_a_bad_page_or_page_size_is_400_with_a_description(one: InventoryBroker, query: Query) -> None:
    """Out-of-range, non-integer or repeated paging parameters are refused with a JSON description."""
    response = await one.client.get("/runtimes", params=query_params(query))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body["description"], str)
    assert body["description"]
