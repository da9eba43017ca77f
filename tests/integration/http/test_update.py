"""Updates over HTTP: AsyncRequired, no-op 200, refused states, and trial suspension via context.active."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.http.conftest import Broker, instance_path, make_broker
from tests.support import SERVICE, TRIAL, provision_body

INSTANCE = instance_path("inst-1")
MORE_NODES = {"service_id": SERVICE, "parameters": {"autoScalerMax": 25}}
TRIAL_BODY = provision_body(plan_id=TRIAL, parameters={"name": "my-trial"})


async def test_an_update_needing_work_without_accepts_incomplete_is_422_async_required(
    broker: Broker,
) -> None:
    """A parameter change is asynchronous, so without accepts_incomplete it is 422 AsyncRequired."""
    await broker.provisioned("inst-1")
    response = await broker.patch("inst-1", MORE_NODES, asynchronous=False)
    assert response.status_code == 422
    assert response.json()["error"] == "AsyncRequired"
    assert response.json()["description"]


async def test_a_refused_update_changes_nothing(broker: Broker) -> None:
    """After a 422 AsyncRequired the instance keeps its parameters and no operation starts."""
    await broker.provisioned("inst-1")
    await broker.patch("inst-1", MORE_NODES, asynchronous=False)
    fetched = await broker.osb("GET", INSTANCE)
    assert "autoScalerMax" not in fetched.json()["parameters"]
    assert await broker.services.storage.next_due_at() is None
    polled = await broker.osb("GET", f"{INSTANCE}/last_operation")
    assert polled.json()["state"] == "succeeded"


async def test_an_update_with_accepts_incomplete_is_202_and_succeeds(broker: Broker) -> None:
    """With accepts_incomplete a parameter change runs as an operation that rewrites the Runtime CR."""
    await broker.provisioned("inst-1")
    response = await broker.patch("inst-1", MORE_NODES)
    assert response.status_code == 202
    operation = response.json()["operation"]
    await broker.settle()
    assert await broker.last_operation("inst-1", operation) == "succeeded"
    (runtime,) = broker.kcp.runtimes.values()
    assert runtime["spec"]["shoot"]["provider"]["workers"][0]["maximum"] == 25


async def test_a_repeated_update_while_running_returns_the_same_operation(broker: Broker) -> None:
    """Re-sending the same PATCH while the update runs is 202 with the running update."""
    await broker.provisioned("inst-1")
    first = (await broker.patch("inst-1", MORE_NODES)).json()["operation"]
    repeat = await broker.patch("inst-1", MORE_NODES)
    assert (repeat.status_code, repeat.json()["operation"]) == (202, first)


@pytest.mark.parametrize("asynchronous", [True, False], ids=["accepts-incomplete", "synchronous"])
async def test_an_update_without_effect_is_200(broker: Broker, asynchronous: bool) -> None:
    """Parameters equal to the current ones need no work: 200, with or without accepts_incomplete."""
    await broker.provisioned("inst-1")
    body = {"service_id": SERVICE, "parameters": {"name": "my-cluster"}}
    response = await broker.patch("inst-1", body, asynchronous=asynchronous)
    assert response.status_code == 200
    assert "operation" not in response.json()
    assert await broker.services.storage.next_due_at() is None


async def test_an_empty_update_is_200(broker: Broker) -> None:
    """A PATCH with only service_id changes nothing and answers 200."""
    await broker.provisioned("inst-1")
    response = await broker.patch("inst-1", {"service_id": SERVICE}, asynchronous=False)
    assert response.status_code == 200


async def test_updating_an_unknown_instance_is_404(broker: Broker) -> None:
    """PATCH of an instance that does not exist is 404 with a description."""
    response = await broker.patch("nope", MORE_NODES)
    assert response.status_code == 404
    assert response.json()["description"]


async def test_updating_a_failed_instance_is_422() -> None:
    """An instance whose provisioning failed cannot be updated."""
    env = {"APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_CREATE": "5s"}
    async for broker in make_broker(env=env, ready_after=3600):
        await broker.provision("inst-1")
        await broker.settle()
        response = await broker.patch("inst-1", MORE_NODES)
        assert response.status_code == 422
        assert "failed" in response.json()["description"]


async def test_updating_a_deprovisioning_instance_is_422(broker: Broker) -> None:
    """Once a deprovisioning was accepted, updates are refused."""
    await broker.provisioned("inst-1")
    await broker.deprovision("inst-1")
    response = await broker.patch("inst-1", MORE_NODES)
    assert response.status_code == 422
    assert response.json()["description"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"service_id": "other-service", "parameters": {"autoScalerMax": 25}}, "service_id"),
        ({"service_id": SERVICE, "parameters": {"autoScalerMax": 1000}}, "autoScalerMax"),
        ({"parameters": {"autoScalerMax": 25}}, "service_id"),
        ({"service_id": SERVICE, "parameters": "not an object"}, "parameters"),
    ],
    ids=["unknown-service", "autoscaler-too-large", "missing-service", "parameters-type"],
)
async def test_an_invalid_update_is_400_naming_the_field(
    broker: Broker, body: dict[str, Any], field: str
) -> None:
    """Invalid update requests are 400 and name what is wrong."""
    await broker.provisioned("inst-1")
    response = await broker.patch("inst-1", body)
    assert response.status_code == 400
    assert field in response.json()["description"]


async def test_an_invalid_trial_name_is_400(broker: Broker) -> None:
    """The trial update schema keeps the name pattern: a name with spaces is refused."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    response = await broker.patch("trial-1", {"service_id": SERVICE, "parameters": {"name": "no spaces"}})
    assert response.status_code == 400
    assert "name" in response.json()["description"]


async def test_a_plan_change_that_is_not_allowed_is_400(broker: Broker) -> None:
    """Plan upgrades are off by default, so changing the plan is refused."""
    await broker.provisioned("inst-1")
    response = await broker.patch("inst-1", {"service_id": SERVICE, "plan_id": TRIAL})
    assert response.status_code == 400
    assert "plan" in response.json()["description"]


async def test_a_malformed_update_body_is_400(broker: Broker) -> None:
    """A PATCH body that is not JSON is a 400 with a description."""
    await broker.provisioned("inst-1")
    response = await broker.osb(
        "PATCH", INSTANCE, content=b"service_id=x", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["description"]


async def test_unknown_update_fields_are_ignored(broker: Broker) -> None:
    """Unknown fields in a PATCH body, including previous_values extras, do not fail it."""
    await broker.provisioned("inst-1")
    body = {
        **MORE_NODES,
        "previous_values": {"plan_id": "x", "organization_id": "o", "maintenance_info": {}},
        "x-extension": True,
    }
    response = await broker.patch("inst-1", body)
    assert response.status_code == 202


# --- trial suspension and unsuspension ---------------------------------------------------------------


def activity(active: bool) -> dict[str, Any]:
    return {"service_id": SERVICE, "context": {"globalaccount_id": "ga-1", "active": active}}


async def test_suspending_a_trial_is_200_and_runs_in_the_background(broker: Broker) -> None:
    """context.active=false answers 200 at once; the runtime is removed by a background operation."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    response = await broker.patch("trial-1", activity(False), asynchronous=False)
    assert response.status_code == 200
    assert len(broker.kcp.runtimes) == 1  # not yet: the operation runs in the background
    await broker.settle()
    assert broker.kcp.runtimes == {}
    assert broker.kcp.kymas == {}


async def test_a_suspended_trial_is_still_retrievable(broker: Broker) -> None:
    """A suspended trial still answers GET with 200."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    await broker.patch("trial-1", activity(False))
    await broker.settle()
    response = await broker.osb("GET", instance_path("trial-1"))
    assert response.status_code == 200


async def test_unsuspending_a_trial_recreates_its_runtime(broker: Broker) -> None:
    """context.active=true answers 200 and a new Runtime CR (with a new runtime id) is created."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    (first_runtime,) = broker.kcp.runtimes
    await broker.patch("trial-1", activity(False))
    await broker.settle()
    response = await broker.patch("trial-1", activity(True), asynchronous=False)
    assert response.status_code == 200
    assert broker.kcp.runtimes == {}
    await broker.settle()
    (second_runtime,) = broker.kcp.runtimes
    assert second_runtime != first_runtime
    assert broker.kcp.runtimes[second_runtime]["status"]["state"] == "Ready"
    assert second_runtime in broker.kcp.kymas


async def test_repeating_the_current_activity_starts_nothing(broker: Broker) -> None:
    """active=true on an active trial is a no-op 200."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    response = await broker.patch("trial-1", activity(True), asynchronous=False)
    assert response.status_code == 200
    assert await broker.services.storage.next_due_at() is None


async def test_context_active_does_not_suspend_a_paid_plan(broker: Broker) -> None:
    """Only trials are suspended: active=false on an aws instance is just a context update."""
    await broker.provisioned("inst-1")
    response = await broker.patch("inst-1", activity(False), asynchronous=False)
    assert response.status_code == 200
    await broker.settle()
    assert len(broker.kcp.runtimes) == 1
