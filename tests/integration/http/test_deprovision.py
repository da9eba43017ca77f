"""Deprovisioning over HTTP: always asynchronous, idempotent, 410 for what does not exist."""

from __future__ import annotations

import pytest

from keb_adapters.memory.clusters import MemoryControlPlane
from tests.integration.http.conftest import Broker, instance_path, make_broker
from tests.support import AWS, SERVICE, TRIAL, FakeClock

INSTANCE = instance_path("inst-1")


async def test_deprovisioning_without_accepts_incomplete_is_accepted(broker: Broker) -> None:
    """Deprovisioning is always asynchronous: 202 with an operation even without accepts_incomplete."""
    await broker.provisioned("inst-1")
    response = await broker.deprovision("inst-1")
    assert response.status_code == 202
    assert response.json()["operation"]


async def test_deprovisioning_with_accepts_incomplete_is_accepted(broker: Broker) -> None:
    """accepts_incomplete=true gets the same 202."""
    await broker.provisioned("inst-1")
    response = await broker.osb(
        "DELETE", INSTANCE, params={"service_id": SERVICE, "plan_id": AWS, "accepts_incomplete": "true"}
    )
    assert response.status_code == 202


async def test_deprovisioning_an_unknown_instance_is_410_with_an_empty_body(broker: Broker) -> None:
    """DELETE of an instance that does not exist answers 410 {}."""
    response = await broker.deprovision("never-existed")
    assert (response.status_code, response.json()) == (410, {})


async def test_a_repeated_delete_while_running_returns_the_same_operation(broker: Broker) -> None:
    """A re-sent DELETE while deprovisioning runs is 202 with the original operation."""
    await broker.provisioned("inst-1")
    first = (await broker.deprovision("inst-1")).json()["operation"]
    await broker.step()
    repeat = await broker.deprovision("inst-1")
    assert (repeat.status_code, repeat.json()["operation"]) == (202, first)


async def test_a_delete_after_a_finished_deprovisioning_is_410(broker: Broker) -> None:
    """Once the instance is gone, DELETE answers 410 {}."""
    await broker.provisioned("inst-1")
    await broker.deprovision("inst-1")
    await broker.settle()
    response = await broker.deprovision("inst-1")
    assert (response.status_code, response.json()) == (410, {})


async def test_deprovisioning_removes_the_runtime(broker: Broker) -> None:
    """A finished deprovisioning leaves neither a Runtime CR nor a Kyma CR."""
    await broker.provisioned("inst-1")
    assert broker.kcp.runtimes
    await broker.deprovision("inst-1")
    await broker.settle()
    assert (broker.kcp.runtimes, broker.kcp.kymas) == ({}, {})


async def test_deprovisioning_during_provisioning_halts_it(broker: Broker) -> None:
    """A DELETE accepted while provisioning runs wins: the instance and its runtime end up gone."""
    provisioning = await broker.provision("inst-1")
    await broker.step()
    deleted = await broker.deprovision("inst-1")
    assert deleted.status_code == 202
    await broker.settle()
    assert broker.kcp.runtimes == {}
    assert await broker.last_operation("inst-1", provisioning) == "succeeded"  # the deprovisioning's answer
    assert (await broker.deprovision("inst-1")).status_code == 410


@pytest.mark.parametrize(
    ("params", "missing"),
    [({"plan_id": AWS}, "service_id"), ({"service_id": SERVICE}, "plan_id"), ({}, "_id")],
    ids=["service_id", "plan_id", "both"],
)
async def test_deprovisioning_without_service_or_plan_is_400(
    broker: Broker, params: dict[str, str], missing: str
) -> None:
    """service_id and plan_id are required query parameters of DELETE; a missing one is named."""
    await broker.provisioned("inst-1")
    response = await broker.osb("DELETE", INSTANCE, params=params)
    assert response.status_code == 400
    assert missing in response.json()["description"]
    assert await broker.last_operation("inst-1") == "succeeded"  # nothing started


async def test_query_hints_need_not_match_the_instance(broker: Broker) -> None:
    """As KEB, DELETE's service_id and plan_id must be present but are not compared with the instance."""
    await broker.provisioned("inst-1")
    response = await broker.osb("DELETE", INSTANCE, params={"service_id": SERVICE, "plan_id": TRIAL})
    assert response.status_code == 202


async def test_last_operation_after_a_finished_deprovisioning_is_succeeded(broker: Broker) -> None:
    """When the instance and its operations are gone, polling the deprovisioning still says succeeded."""
    await broker.provisioned("inst-1")
    operation = (await broker.deprovision("inst-1")).json()["operation"]
    await broker.settle()
    for params in ({"operation": operation}, {}):
        response = await broker.osb("GET", f"{INSTANCE}/last_operation", params=params)
        assert response.status_code == 200
        assert response.json()["state"] == "succeeded"


async def test_a_delete_after_a_failed_deprovisioning_starts_a_new_one() -> None:
    """When deprovisioning failed (the runtime never went away), DELETE starts a new operation."""
    clock = FakeClock()
    kcp = MemoryControlPlane(clock, ready_after=3.0, deletion_delay=3600)
    env = {"APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_DELETION": "5s"}
    async for broker in make_broker(env=env, kcp=kcp, clock=clock):
        await broker.provisioned("inst-1")
        first = (await broker.deprovision("inst-1")).json()["operation"]
        await broker.settle()
        assert await broker.last_operation("inst-1", first) == "failed"
        again = await broker.deprovision("inst-1")
        assert again.status_code == 202
        assert again.json()["operation"] != first
