"""``colocateControlPlane``: offered unless the plan disables it, checked against Gardener's seeds cache,
never updatable, and ``spec.shoot.enforceSeedLocation`` of the Runtime resource."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from keb_adapters.memory.landscape_facts import MemorySeedRegions
from keb_domain.model.plans import PLANS_BY_NAME, Provider
from tests.integration.http.conftest import Broker, make_broker
from tests.integration.http.switched import (
    aws,
    controls_order,
    refused_provisioning,
    schema_properties,
    the_runtime,
)
from tests.support import AWS, FREE, SERVICE, TRIAL

AZURE_LITE = PLANS_BY_NAME["azure_lite"].id
SEEDS = {Provider.AWS: ("eu-west-1", "eu-central-1", "us-east-1")}


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    async for value in make_broker(seed_regions=MemorySeedRegions(SEEDS)):
        yield value


async def test_offered_on_create_only_and_after_region(broker: Broker) -> None:
    """KEB's ProvisioningProperties: standard plans and azure_lite on create; no update schema has it."""
    for plan_id in (AWS, AZURE_LITE):
        assert (await schema_properties(broker, plan_id))["colocateControlPlane"]["type"] == "boolean"
        assert "colocateControlPlane" not in await schema_properties(broker, plan_id, "update")
    for plan_id in (TRIAL, FREE):
        assert "colocateControlPlane" not in await schema_properties(broker, plan_id)
    order = await controls_order(broker, AWS)
    assert order.index("region") + 1 == order.index("colocateControlPlane")


async def test_in_a_seed_region_it_enforces_the_seed_location(broker: Broker) -> None:
    """eu-central-1 has an aws seed: accepted, and the Runtime resource says enforceSeedLocation."""
    await broker.provisioned("inst-1", aws(colocateControlPlane=True))
    assert the_runtime(broker)["spec"]["shoot"]["enforceSeedLocation"] is True


async def test_not_asked_for_the_seed_location_is_free(broker: Broker) -> None:
    """Without the parameter (or false) enforceSeedLocation is false."""
    await broker.provisioned("inst-1", aws(colocateControlPlane=False))
    assert the_runtime(broker)["spec"]["shoot"]["enforceSeedLocation"] is False


async def test_outside_the_seed_regions_it_is_refused_with_the_regions_that_would_do(broker: Broker) -> None:
    """us-west-2 has no seed: KEB's 400 lists the plan's regions that have one, in the cache's order."""
    body = aws(colocateControlPlane=True)
    body["parameters"]["region"] = "us-west-2"
    assert await refused_provisioning(broker, body) == (
        "cannot colocate the control plane in the us-west-2 region. Provider aws can have control planes "
        "in the following regions: [eu-central-1 us-east-1]"
    )


async def test_without_a_seeds_cache_nothing_can_be_colocated() -> None:
    """No ConfigMap (or no entry for the provider): no region qualifies, so the request is refused."""
    async for broker in make_broker(seed_regions=MemorySeedRegions()):
        description = await refused_provisioning(broker, aws(colocateControlPlane=True))
        assert description.endswith("in the following regions: []")


async def test_an_update_cannot_change_it(broker: Broker) -> None:
    """Not updatable: a different value is refused; the provisioned value sent back is accepted."""
    await broker.provisioned("inst-1", aws(colocateControlPlane=True))
    changed = await broker.patch(
        "inst-1", {"service_id": SERVICE, "parameters": {"colocateControlPlane": False}}
    )
    assert changed.status_code == 400, changed.text
    assert "colocateControlPlane cannot be changed" in changed.json()["description"]
    same = {"service_id": SERVICE, "parameters": {"colocateControlPlane": True, "autoScalerMax": 5}}
    assert (await broker.patch("inst-1", same)).status_code == 202
    await broker.settle()
    assert the_runtime(broker)["spec"]["shoot"]["enforceSeedLocation"] is True
