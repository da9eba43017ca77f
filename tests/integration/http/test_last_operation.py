"""last_operation: the named operation of this instance, else its latest; 404 for what never existed."""

from __future__ import annotations

from tests.integration.http.conftest import Broker, instance_path
from tests.support import SERVICE

POLL = f"{instance_path('inst-1')}/last_operation"


async def test_a_running_provisioning_is_in_progress(broker: Broker) -> None:
    """While the runtime is not Ready the provisioning reports in progress with a description."""
    operation = await broker.provision("inst-1")
    await broker.step()
    response = await broker.osb("GET", POLL, params={"operation": operation})
    assert response.status_code == 200
    assert response.json() == {"state": "in progress", "description": "Operation created"}


async def test_a_finished_provisioning_is_succeeded(broker: Broker) -> None:
    """After the workers finished, the provisioning reports succeeded."""
    operation = await broker.provision("inst-1")
    await broker.settle()
    response = await broker.osb("GET", POLL, params={"operation": operation})
    assert response.json() == {"state": "succeeded", "description": "Processing finished"}


async def test_an_unknown_operation_value_reports_the_latest_operation(broker: Broker) -> None:
    """A fixed string from a platform is not an error: the instance's latest operation answers."""
    await broker.provisioned("inst-1")
    update = await broker.patch("inst-1", {"service_id": SERVICE, "parameters": {"autoScalerMax": 25}})
    await broker.step()  # the update started and waits for the runtime
    assert update.status_code == 202
    response = await broker.osb("GET", POLL, params={"operation": "provision"})
    assert (response.status_code, response.json()["state"]) == (200, "in progress")


async def test_another_instances_operation_reports_this_instances_latest(broker: Broker) -> None:
    """An operation id of a different instance is ignored in favour of this instance's latest operation."""
    await broker.provisioned("inst-1")
    foreign = await broker.provision("inst-2")
    response = await broker.osb("GET", POLL, params={"operation": foreign})
    assert (response.status_code, response.json()["state"]) == (200, "succeeded")


async def test_without_an_operation_the_latest_is_reported(broker: Broker) -> None:
    """Without the operation parameter the newest started operation answers."""
    await broker.provision("inst-1")
    response = await broker.osb("GET", POLL)
    assert (response.status_code, response.json()["state"]) == (200, "in progress")


async def test_a_named_older_operation_is_reported_as_itself(broker: Broker) -> None:
    """Naming the finished provisioning reports it, even while a later update runs."""
    provisioning = await broker.provisioned("inst-1")
    await broker.patch("inst-1", {"service_id": SERVICE, "parameters": {"autoScalerMax": 25}})
    await broker.step()
    response = await broker.osb("GET", POLL, params={"operation": provisioning})
    assert response.json()["state"] == "succeeded"


async def test_an_instance_that_never_existed_is_404(broker: Broker) -> None:
    """Polling an instance the broker never knew is 404 with a description."""
    response = await broker.osb("GET", POLL, params={"operation": "whatever"})
    assert response.status_code == 404
    assert response.json()["description"]


async def test_query_hints_are_accepted(broker: Broker) -> None:
    """service_id and plan_id hints (after a plan change, the old plan) do not disturb polling."""
    operation = await broker.provision("inst-1")
    response = await broker.osb(
        "GET", POLL, params={"operation": operation, "service_id": SERVICE, "plan_id": "old-plan"}
    )
    assert response.status_code == 200


async def test_a_pending_operation_is_reported_in_progress(broker: Broker) -> None:
    """An update accepted while provisioning runs waits as pending, which OSB sees as in progress."""
    await broker.provision("inst-1")
    await broker.step()
    update = await broker.patch("inst-1", {"service_id": SERVICE, "parameters": {"autoScalerMax": 25}})
    assert update.status_code == 202
    polled = await broker.osb("GET", POLL, params={"operation": update.json()["operation"]})
    assert polled.json()["state"] == "in progress"


async def test_a_pending_operation_is_not_the_latest(broker: Broker) -> None:
    """Without an operation id, an update still waiting to start is skipped: the provisioning answers."""
    await broker.provisioned("inst-1")
    update = await broker.patch("inst-1", {"service_id": SERVICE, "parameters": {"autoScalerMax": 25}})
    assert update.status_code == 202
    latest = await broker.osb("GET", POLL)
    assert latest.json()["state"] == "succeeded"
    named = await broker.osb("GET", POLL, params={"operation": update.json()["operation"]})
    assert named.json()["state"] == "in progress"
