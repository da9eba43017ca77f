"""Helpers of the tests of the parameters KEB's switches offer (gVisor, ACL, colocation, volume sizes)."""

from __future__ import annotations

from typing import Any

from tests.integration.http.conftest import Broker
from tests.support import AWS, provision_body


async def schema_properties(
    broker: Broker, plan_id: str, which: str = "create", region: str = "cf-eu10"
) -> dict[str, Any]:
    """The ``properties`` of a plan's create or update parameter schema in the catalog."""
    response = await broker.osb("GET", f"/oauth/{region}/v2/catalog")
    assert response.status_code == 200, response.text
    plan = next(p for p in response.json()["services"][0]["plans"] if p["id"] == plan_id)
    found: dict[str, Any] = plan["schemas"]["service_instance"][which]["parameters"]["properties"]
    return found


async def controls_order(broker: Broker, plan_id: str, which: str = "create") -> list[str]:
    response = await broker.osb("GET", "/oauth/cf-eu10/v2/catalog")
    plan = next(p for p in response.json()["services"][0]["plans"] if p["id"] == plan_id)
    order: list[str] = plan["schemas"]["service_instance"][which]["parameters"]["_controlsOrder"]
    return order


def the_runtime(broker: Broker) -> dict[str, Any]:
    """The one Runtime resource the broker wrote."""
    (body,) = broker.kcp.runtimes.values()
    return body


async def refused_provisioning(broker: Broker, body: dict[str, Any]) -> str:
    """PUT a provisioning that must be refused: 400 and no Runtime resource; returns the description."""
    response = await broker.osb("PUT", "/oauth/v2/service_instances/inst-x", json=body)
    assert response.status_code == 400, response.text
    assert not broker.kcp.runtimes
    return str(response.json()["description"])


def aws(**parameters: Any) -> dict[str, Any]:
    return provision_body(AWS, {"name": "c", "region": "eu-central-1", **parameters})


POOL = {"name": "pool", "machineType": "m6i.large", "haZones": True, "autoScalerMin": 3, "autoScalerMax": 4}
