"""``GET /runtimes`` filters: OR within a key (repeated keys), AND across keys (keb-reference §5.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.inventory.conftest import InventoryBroker, aws, azure, make_inventory_broker

# Three provisioned runtimes, created in this order:
#   i-1  aws    ga-1 sa-1  eu-central-1
#   i-2  azure  ga-2 sa-2  westeurope
#   i-3  aws    ga-1 sa-3  eu-central-1
ALL = ["i-1", "i-2", "i-3"]


@pytest.fixture
async def broker() -> AsyncIterator[InventoryBroker]:
    async for value in make_inventory_broker():
        await value.provisioned("i-1", aws("ga-1", "sa-1"))
        await value.provisioned("i-2", azure("ga-2", "sa-2"))
        await value.provisioned("i-3", aws("ga-1", "sa-3", name="other"))
        yield value


async def values_of(broker: InventoryBroker, instance_id: str) -> dict[str, str]:
    """Each filter key with the value that names ``instance_id``."""
    stored = await broker.stored(instance_id)
    return {
        "account": stored.global_account_id,
        "subaccount": stored.subaccount_id,
        "instance_id": stored.instance_id,
        "runtime_id": stored.runtime_id,
        "region": stored.cluster_region,
        "shoot": stored.shoot_name,
        "plan": stored.plan_name,
    }


KEYS = ["account", "subaccount", "instance_id", "runtime_id", "region", "shoot", "plan"]


async def test_without_filters_every_runtime_is_listed_oldest_first(broker: InventoryBroker) -> None:
    """No filter: all three runtimes, in creation order."""
    assert await broker.listed() == ALL


@pytest.mark.parametrize("key", KEYS)
async def test_each_filter_alone_selects_its_runtime(broker: InventoryBroker, key: str) -> None:
    """A filter naming the azure runtime's value lists only that runtime."""
    value = (await values_of(broker, "i-2"))[key]
    assert await broker.listed({key: value}) == ["i-2"]


@pytest.mark.parametrize("key", KEYS)
async def test_an_unknown_value_selects_nothing(broker: InventoryBroker, key: str) -> None:
    """A value no runtime has: an empty page with ``count`` and ``totalCount`` 0."""
    page = await broker.runtimes({key: "nobody-has-this"})
    assert (page["data"], page["count"], page["totalCount"]) == ([], 0, 0)


@pytest.mark.parametrize("key", ["instance_id", "runtime_id", "shoot", "subaccount"])
async def test_a_repeated_key_is_an_or(broker: InventoryBroker, key: str) -> None:
    """``key=a&key=b`` lists the runtimes having either value, still oldest first."""
    third, first = (await values_of(broker, "i-3"))[key], (await values_of(broker, "i-1"))[key]
    assert await broker.listed([(key, third), (key, first)]) == ["i-1", "i-3"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("account", "ga-1"), ("plan", "aws")], ["i-1", "i-3"]),
        ([("account", "ga-1"), ("subaccount", "sa-3")], ["i-3"]),
        ([("account", "ga-1"), ("subaccount", "sa-2")], []),
        ([("account", "ga-1"), ("account", "ga-2"), ("plan", "azure")], ["i-2"]),
        ([("plan", "aws"), ("plan", "azure"), ("region", "eu-central-1")], ["i-1", "i-3"]),
        ([("region", "westeurope"), ("subaccount", "sa-1"), ("subaccount", "sa-2")], ["i-2"]),
    ],
)
async def test_different_keys_are_an_and(
    broker: InventoryBroker, query: list[tuple[str, str]], expected: list[str]
) -> None:
    """Keys combine with AND, each key's values with OR."""
    assert await broker.listed(query) == expected


async def test_region_is_the_cluster_region_not_the_platform_region(broker: InventoryBroker) -> None:
    """``region`` filters on the cluster region; the platform region ``cf-eu10`` matches nothing."""
    assert await broker.listed({"region": "cf-eu10"}) == []


async def test_plan_is_the_plan_name_not_its_id(broker: InventoryBroker) -> None:
    """``plan`` takes the plan name: the azure plan's id matches nothing."""
    plan_id = (await broker.stored("i-2")).plan_id
    assert await broker.listed({"plan": plan_id}) == []


async def test_shoot_matches_whole_names_only(broker: InventoryBroker) -> None:
    """KEB anchors the shoot alternation: a prefix of a shoot name matches nothing."""
    shoot = (await broker.stored("i-1")).shoot_name
    assert await broker.listed({"shoot": shoot[:-1]}) == []


async def test_filters_are_case_sensitive(broker: InventoryBroker) -> None:
    """Ids are compared exactly: ``GA-1`` is not ``ga-1``."""
    assert await broker.listed({"account": "GA-1"}) == []


async def test_total_count_counts_all_matches_across_pages(broker: InventoryBroker) -> None:
    """With a filter and a small page, ``count`` is the page's and ``totalCount`` all matches'."""
    page = await broker.runtimes({"account": "ga-1", "page_size": "1", "page": "2"})
    assert ([d["instanceID"] for d in page["data"]], page["count"], page["totalCount"]) == (["i-3"], 1, 2)
