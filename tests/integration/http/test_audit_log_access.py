"""``auditLogAccess`` (APP_BROKER_AUDIT_LOG_ACCESS): schemas, validation, updates and the Runtime resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.http.conftest import Broker, make_broker
from tests.support import AWS, SERVICE, TRIAL, provision_body

ON = {"APP_BROKER_AUDIT_LOG_ACCESS": "true"}


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    async for value in make_broker(ON):
        yield value


async def schemas(broker: Broker, plan_id: str) -> dict[str, Any]:
    response = await broker.osb("GET", "/oauth/cf-eu10/v2/catalog")
    plan = next(p for p in response.json()["services"][0]["plans"] if p["id"] == plan_id)
    found: dict[str, Any] = plan["schemas"]["service_instance"]
    return found


def runtime_spec(broker: Broker) -> dict[str, Any]:
    (body,) = broker.kcp.runtimes.values()
    spec: dict[str, Any] = body["spec"]
    return spec


async def test_the_switch_offers_it_to_paid_plans_on_create_and_update(broker: Broker) -> None:
    """With the switch on, aws shows auditLogAccess in both schemas; trial does not (KEB's plans.go)."""
    aws = await schemas(broker, AWS)
    assert aws["create"]["parameters"]["properties"]["auditLogAccess"]["type"] == "boolean"
    assert "auditLogAccess" in aws["update"]["parameters"]["properties"]
    trial = await schemas(broker, TRIAL)
    assert "auditLogAccess" not in trial["create"]["parameters"]["properties"]


async def test_without_the_switch_it_is_not_offered_and_dropped() -> None:
    """Default settings: no auditLogAccess in the schema, and one sent anyway never reaches the cluster."""
    async for broker in make_broker():
        assert "auditLogAccess" not in (await schemas(broker, AWS))["create"]["parameters"]["properties"]
        await broker.provisioned(
            "inst-1",
            provision_body(parameters={"name": "c", "region": "eu-central-1", "auditLogAccess": True}),
        )
        assert "auditLogAccessEnabled" not in runtime_spec(broker)


async def test_enabled_at_provisioning_it_reaches_the_runtime_and_stays(broker: Broker) -> None:
    """auditLogAccess=true sets spec.auditLogAccessEnabled; switching it off later is a 400."""
    await broker.provisioned(
        "inst-1", provision_body(parameters={"name": "c", "region": "eu-central-1", "auditLogAccess": True})
    )
    assert runtime_spec(broker)["auditLogAccessEnabled"] is True
    off = await broker.patch("inst-1", {"service_id": SERVICE, "parameters": {"auditLogAccess": False}})
    assert off.status_code == 400, off.text
    assert off.json()["description"].endswith("Audit Log Access cannot be disabled once enabled.")


async def test_it_can_be_enabled_by_an_update(broker: Broker) -> None:
    """An update with auditLogAccess=true turns it on in the existing Runtime resource."""
    await broker.provisioned("inst-1")
    assert "auditLogAccessEnabled" not in runtime_spec(broker)
    on = await broker.patch("inst-1", {"service_id": SERVICE, "parameters": {"auditLogAccess": True}})
    assert on.status_code == 202, on.text
    await broker.settle()
    assert runtime_spec(broker)["auditLogAccessEnabled"] is True


async def test_a_trial_update_asking_for_it_is_refused(broker: Broker) -> None:
    """Trial (and free) runtimes never get audit log access: KEB's 400 names the plan."""
    await broker.provisioned("t-1", provision_body(plan_id=TRIAL, parameters={"name": "t"}))
    response = await broker.patch("t-1", {"service_id": SERVICE, "parameters": {"auditLogAccess": True}})
    assert response.status_code == 400, response.text
    assert "Audit Log Access is not available for trial plan." in response.json()["description"]
