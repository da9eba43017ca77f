"""``ingressFiltering`` (KEB's ingress filtering plans): schemas, rules and the Runtime resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.http.conftest import Broker, make_broker
from tests.support import AWS, AZURE, SERVICE, TRIAL, provision_body

LISTED = {"APP_INFRASTRUCTURE_MANAGER_INGRESS_FILTERING_PLANS": "aws,trial"}


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    async for value in make_broker(LISTED):
        yield value


async def properties(broker: Broker, plan_id: str, which: str = "create") -> dict[str, Any]:
    response = await broker.osb("GET", "/oauth/cf-eu10/v2/catalog")
    plan = next(p for p in response.json()["services"][0]["plans"] if p["id"] == plan_id)
    found: dict[str, Any] = plan["schemas"]["service_instance"][which]["parameters"]["properties"]
    return found


def ingress(broker: Broker) -> dict[str, Any]:
    (body,) = broker.kcp.runtimes.values()
    found: dict[str, Any] = body["spec"]["security"]["networking"]["filter"]["ingress"]
    return found


def aws(**parameters: Any) -> dict[str, Any]:
    return provision_body(AWS, {"name": "c", "region": "eu-central-1", **parameters})


async def test_listed_plans_offer_it_on_create_and_update(broker: Broker) -> None:
    """aws and trial (listed) show ingressFiltering in both schemas; azure (not listed) does not."""
    for plan_id in (AWS, TRIAL):
        assert (await properties(broker, plan_id))["ingressFiltering"]["type"] == "boolean"
        assert "ingressFiltering" in await properties(broker, plan_id, "update")
    assert "ingressFiltering" not in await properties(broker, AZURE)


async def test_asked_for_by_an_internal_account_it_reaches_the_runtime(broker: Broker) -> None:
    """ingressFiltering=true on a listed plan sets filter.ingress.enabled; an update turns it off."""
    await broker.provisioned("inst-1", aws(ingressFiltering=True))
    assert ingress(broker) == {"enabled": True}
    off = await broker.patch("inst-1", {"service_id": SERVICE, "parameters": {"ingressFiltering": False}})
    assert off.status_code == 202, off.text
    await broker.settle()
    assert ingress(broker) == {"enabled": False}


async def test_not_asked_for_the_runtime_says_disabled(broker: Broker) -> None:
    """KEB always writes filter.ingress; without the parameter it is disabled."""
    await broker.provisioned("inst-1", aws())
    assert ingress(broker) == {"enabled": False}


@pytest.mark.parametrize(("plan_id", "licence"), [(AZURE, None), (AWS, "CUSTOMER")])
async def test_unlisted_plans_and_external_accounts_are_refused(
    broker: Broker, plan_id: str, licence: str | None
) -> None:
    """A plan not listed, or an external account asking for true: KEB's 400, nothing created."""
    body = provision_body(
        plan_id, {"name": "c", "region": "westeurope" if plan_id == AZURE else "eu-central-1"}
    )
    body["parameters"]["ingressFiltering"] = True
    if licence:
        body["context"]["license_type"] = licence
    response = await broker.osb("PUT", "/oauth/v2/service_instances/inst-x", json=body)
    assert response.status_code == 400, response.text
    assert "ingress filtering option is not available" in response.json()["description"]
    assert not broker.kcp.runtimes


async def test_without_any_listed_plan_it_is_refused() -> None:
    """Default settings list no plan: the parameter is not offered, and sending it is KEB's 400."""
    async for broker in make_broker():
        assert "ingressFiltering" not in await properties(broker, AWS)
        response = await broker.osb("PUT", "/oauth/v2/service_instances/i", json=aws(ingressFiltering=False))
        assert response.status_code == 400, response.text
