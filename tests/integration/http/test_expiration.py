"""PUT /expire/service_instance/{id}: trial and free instances expire and are suspended."""

from __future__ import annotations

from tests.integration.http.conftest import Broker
from tests.support import SERVICE, TRIAL, provision_body

TRIAL_BODY = provision_body(plan_id=TRIAL, parameters={"name": "my-trial"})


async def test_expiring_a_trial_is_202_with_the_suspension(broker: Broker) -> None:
    """A trial expires: 202 with an operation that removes its runtime."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    response = await broker.client.put("/expire/service_instance/trial-1")
    assert response.status_code == 202
    operation = response.json()["operation"]
    await broker.settle()
    assert await broker.last_operation("trial-1", operation) == "succeeded"
    assert broker.kcp.runtimes == {}


async def test_expiring_twice_while_suspending_returns_the_same_operation(broker: Broker) -> None:
    """A repeated expiry while the suspension runs reuses that suspension."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    first = (await broker.client.put("/expire/service_instance/trial-1")).json()["operation"]
    repeat = await broker.client.put("/expire/service_instance/trial-1")
    assert (repeat.status_code, repeat.json()["operation"]) == (202, first)


async def test_an_expired_trial_cannot_be_unsuspended(broker: Broker) -> None:
    """After expiry, context.active=true is refused with 400."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    await broker.client.put("/expire/service_instance/trial-1")
    await broker.settle()
    response = await broker.patch(
        "trial-1", {"service_id": SERVICE, "context": {"active": True}}, asynchronous=False
    )
    assert response.status_code == 400
    assert response.json()["description"]


async def test_an_expired_trial_cannot_be_updated(broker: Broker) -> None:
    """After expiry, a parameter update is refused with 400."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    await broker.client.put("/expire/service_instance/trial-1")
    await broker.settle()
    response = await broker.patch("trial-1", {"service_id": SERVICE, "parameters": {"name": "renamed"}})
    assert response.status_code == 400


async def test_expiring_an_aws_instance_is_400(broker: Broker) -> None:
    """Only trial and free instances expire; aws is 400 and keeps its runtime."""
    await broker.provisioned("inst-1")
    response = await broker.client.put("/expire/service_instance/inst-1")
    assert response.status_code == 400
    assert response.json()["description"]
    await broker.settle()
    assert len(broker.kcp.runtimes) == 1


async def test_expiring_an_unknown_instance_is_404(broker: Broker) -> None:
    """An unknown instance cannot expire: 404 with a description."""
    response = await broker.client.put("/expire/service_instance/nope")
    assert response.status_code == 404
    assert response.json()["description"]


async def test_expiry_is_not_an_osb_route(broker: Broker) -> None:
    """The expiry endpoint is called by KEB's cron jobs, which send no X-Broker-API-Version."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    response = await broker.client.put("/expire/service_instance/trial-1")
    assert response.status_code == 202


async def test_an_expired_instance_takes_a_global_account_update_with_200(broker: Broker) -> None:
    """After expiry, a PATCH carrying context.globalaccount_id is answered 200 (KEB's subaccount moves)."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    await broker.client.put("/expire/service_instance/trial-1")
    await broker.settle()
    response = await broker.patch(
        "trial-1", {"service_id": SERVICE, "context": {"globalaccount_id": "ga-9"}}, asynchronous=False
    )
    assert response.status_code == 200
