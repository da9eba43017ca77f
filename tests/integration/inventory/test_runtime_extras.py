"""``GET /runtimes`` extras of KEB's RuntimeDTO: ``runtime_config``, ``actions``, the secret name."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from keb_domain.model.plans import PLANS_BY_NAME
from tests.integration.inventory.conftest import InventoryBroker, aws, make_inventory_broker
from tests.support import SERVICE, provision_body

AZURE_ID = PLANS_BY_NAME["azure"].id
BUILD_RUNTIME_AZURE_ID = PLANS_BY_NAME["build-runtime-azure"].id


@pytest.fixture
async def one() -> AsyncIterator[InventoryBroker]:
    """One provisioned aws runtime ``inst-1``."""
    async for broker in make_inventory_broker():
        await broker.provisioned("inst-1", aws())
        yield broker


async def test_runtime_config_embeds_the_runtime_resource(one: InventoryBroker) -> None:
    """``runtime_config=true`` adds the Runtime resource KCP holds, without managedFields."""
    item = await one.runtime("inst-1", {"runtime_config": "true"})
    config = item["runtimeConfig"]
    assert config["kind"] == "Runtime"
    assert config["metadata"]["name"] == item["runtimeID"].lower()
    assert "managedFields" not in config["metadata"]
    assert config["spec"]["shoot"]["provider"]["type"] == "aws"
    assert "runtimeConfig" not in await one.runtime("inst-1")


async def test_runtime_config_is_left_out_when_the_resource_is_gone(one: InventoryBroker) -> None:
    """A runtime whose Runtime resource does not exist has no runtimeConfig (KEB logs and leaves it out)."""
    runtime_id = (await one.stored("inst-1")).runtime_id
    del one.kcp.runtimes[runtime_id.lower()]  # removed behind the broker's back
    item = await one.runtime("inst-1", {"runtime_config": "true"})
    assert "runtimeConfig" not in item


async def test_subscription_secret_name_is_the_runtime_credentials_binding(one: InventoryBroker) -> None:
    """``subscriptionSecretName`` is the credentials binding the Runtime resource names."""
    item = await one.runtime("inst-1", {"runtime_config": "true"})
    assert item["subscriptionSecretName"] == item["runtimeConfig"]["spec"]["shoot"]["secretBindingName"]
    assert "betaEnabled" not in item  # keb has no CIS subaccount synchronisation: never known
    assert "usedForProduction" not in item


async def test_actions_list_plan_changes() -> None:
    """``actions=true`` shows one plan_update per accepted plan change, with KEB's message and values."""
    async for broker in make_inventory_broker({"APP_BROKER_ENABLE_PLAN_UPGRADES": "true"}):
        body = provision_body(AZURE_ID, {"name": "blue", "region": "westeurope"})
        await broker.provisioned("inst-1", body)
        assert "actions" not in await broker.runtime("inst-1", {"actions": "true"})
        response = await broker.patch(
            "inst-1", {"service_id": SERVICE, "plan_id": BUILD_RUNTIME_AZURE_ID, "parameters": {}}
        )
        assert response.status_code == 202, response.text
        await broker.settle()
        item = await broker.runtime("inst-1", {"actions": "true"})
        assert [(a["type"], a["oldValue"], a["newValue"]) for a in item["actions"]] == [
            ("plan_update", AZURE_ID, BUILD_RUNTIME_AZURE_ID)
        ]
        assert item["actions"][0]["message"] == (
            f"Plan updated from azure (PlanID: {AZURE_ID}) to build-runtime-azure "
            f"(PlanID: {BUILD_RUNTIME_AZURE_ID})."
        )
        assert "actions" not in await broker.runtime("inst-1")
