"""``GET /events``: operation events, filtered by instances, runtimes and operations (comma-separated)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.inventory.conftest import InventoryBroker, aws, make_inventory_broker
from tests.support import SERVICE

EVENT_KEYS = {"level", "instanceID", "operationID", "message", "createdAt"}


@pytest.fixture
async def two() -> AsyncIterator[InventoryBroker]:
    """Two provisioned runtimes, ``a`` and ``b``; ``a`` then updated."""
    async for broker in make_inventory_broker():
        await broker.provisioned("a", aws(sa="sa-a"))
        await broker.provisioned("b", aws(sa="sa-b"))
        update = await broker.patch("a", {"service_id": SERVICE, "parameters": {"autoScalerMax": 12}})
        assert update.status_code == 202, update.text
        await broker.settle()
        yield broker


async def events(broker: InventoryBroker, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = await broker.client.get("/events", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def test_without_filters_every_event_is_listed(two: InventoryBroker) -> None:
    """No filter: the events of both runtimes, with KEB's keys, oldest first."""
    found = await events(two)
    assert {event["instanceID"] for event in found} == {"a", "b"}
    assert all(set(event) == EVENT_KEYS for event in found)
    assert [event["createdAt"] for event in found] == sorted(event["createdAt"] for event in found)


async def test_instance_ids_select_their_events(two: InventoryBroker) -> None:
    """``instance_ids=b``: only b's events."""
    found = await events(two, {"instance_ids": "b"})
    assert found
    assert {event["instanceID"] for event in found} == {"b"}


async def test_instance_ids_are_comma_separated(two: InventoryBroker) -> None:
    """``instance_ids=a,b`` (spaces allowed): the events of both."""
    assert {event["instanceID"] for event in await events(two, {"instance_ids": "a, b"})} == {"a", "b"}


async def test_runtime_ids_select_their_instances_events(two: InventoryBroker) -> None:
    """``runtime_ids=<b's runtime>``: b's events."""
    runtime_id = (await two.stored("b")).runtime_id
    found = await events(two, {"runtime_ids": runtime_id})
    assert found
    assert {event["instanceID"] for event in found} == {"b"}


async def test_an_unknown_runtime_id_selects_nothing(two: InventoryBroker) -> None:
    """A runtime id nobody has: ``[]``, not every event."""
    assert await events(two, {"runtime_ids": "no-such-runtime"}) == []


async def test_operation_ids_select_one_operation_s_events(two: InventoryBroker) -> None:
    """``operation_ids=<a's update>``: only that operation's events."""
    update = (await two.runtime("a"))["status"]["update"]["data"][0]["operationID"]
    found = await events(two, {"operation_ids": update})
    assert found
    assert {(event["instanceID"], event["operationID"]) for event in found} == {("a", update)}


async def test_events_of_a_deprovisioned_runtime_are_found_by_its_runtime_id(two: InventoryBroker) -> None:
    """After deprovisioning, the archive still maps the old runtime id to the instance's events."""
    runtime_id = (await two.stored("b")).runtime_id
    await two.deprovisioned("b")
    found = await events(two, {"runtime_ids": runtime_id})
    assert found
    assert {event["instanceID"] for event in found} == {"b"}


async def test_an_empty_database_has_no_events(broker: InventoryBroker) -> None:
    """Nothing happened yet: ``[]``."""
    assert await events(broker) == []


async def test_repeated_keys_are_all_used_as_in_runtimes(two: InventoryBroker) -> None:
    """``instance_ids=a&instance_ids=b`` lists the events of both (KEB keeps only the first value)."""
    response = await two.client.get("/events", params=[("instance_ids", "a"), ("instance_ids", "b")])
    assert response.status_code == 200, response.text
    assert {event["instanceID"] for event in response.json()} == {"a", "b"}
    runtime_b = (await two.stored("b")).runtime_id
    mixed = await two.client.get("/events", params=[("instance_ids", "a"), ("runtime_ids", runtime_b)])
    assert {event["instanceID"] for event in mixed.json()} == {"a", "b"}
