"""``accessControlList`` (KEB's APP_BROKER_ACL_ENABLED_PLANS): schemas, rules and the Runtime resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.http.conftest import Broker, make_broker
from tests.integration.http.switched import (
    aws,
    controls_order,
    refused_provisioning,
    schema_properties,
    the_runtime,
)
from tests.support import AWS, AZURE, SERVICE, TRIAL, provision_body


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    async for value in make_broker({"APP_BROKER_ACL_ENABLED_PLANS": "aws,trial"}):
        yield value


def api_server(broker: Broker) -> dict[str, Any]:
    found: dict[str, Any] = the_runtime(broker)["spec"]["shoot"]["kubernetes"]["kubeAPIServer"]
    return found


async def test_listed_plans_offer_it_on_create_and_update(broker: Broker) -> None:
    """aws and trial (listed) show accessControlList in both schemas, before oidc; azure does not."""
    for plan_id in (AWS, TRIAL):
        for which in ("create", "update"):
            acl = (await schema_properties(broker, plan_id, which))["accessControlList"]
            assert acl["required"] == ["allowedCIDRs"]
            assert acl["properties"]["allowedCIDRs"]["items"]["type"] == "string"
    order = await controls_order(broker, AWS)
    assert order.index("networking") < order.index("accessControlList") < order.index("oidc")
    assert "accessControlList" not in await schema_properties(broker, AZURE)


@pytest.mark.parametrize(("value", "plans"), [("all", True), ("no-plan", False), ("", False)])
async def test_all_and_no_plan_are_keb_special_names(value: str, plans: bool) -> None:
    """``all`` offers it in every plan; ``no-plan`` (KEB's chart default) and empty in none."""
    async for broker in make_broker({"APP_BROKER_ACL_ENABLED_PLANS": value}):
        for plan_id in (AWS, AZURE, TRIAL):
            assert ("accessControlList" in await schema_properties(broker, plan_id)) is plans


async def test_the_cidrs_reach_the_api_server_and_an_update_replaces_or_removes_them(broker: Broker) -> None:
    """KEB's createKubernetesConfiguration and updateACL: set, replaced, and removed by an empty list."""
    await broker.provisioned(
        "inst-1", aws(accessControlList={"allowedCIDRs": ["5.6.0.0/16", "2001:db8::/32"]})
    )
    assert api_server(broker)["acl"] == {"allowedCIDRs": ["5.6.0.0/16", "2001:db8::/32"]}
    for cidrs, expected in ((["10.0.0.0/8"], {"allowedCIDRs": ["10.0.0.0/8"]}), ([], None)):
        patch = {"service_id": SERVICE, "parameters": {"accessControlList": {"allowedCIDRs": cidrs}}}
        assert (await broker.patch("inst-1", patch)).status_code == 202
        await broker.settle()
        assert api_server(broker).get("acl") == expected


async def test_without_the_parameter_there_is_no_acl(broker: Broker) -> None:
    """The Runtime resource has an ACL only when the parameter was given."""
    await broker.provisioned("inst-1", aws())
    assert "acl" not in api_server(broker)


@pytest.mark.parametrize(
    ("plan_id", "parameters", "message"),
    [
        (
            AZURE,
            {"region": "westeurope", "accessControlList": {"allowedCIDRs": []}},
            "not supported for this plan",
        ),
        (AWS, {"region": "eu-central-1", "accessControlList": {"allowedCIDRs": ["5.6.0.1/16"]}}, "canonical"),
        (AWS, {"region": "eu-central-1", "accessControlList": {"allowedCIDRs": ["5.6.0.0"]}}, "invalid CIDR"),
        (AWS, {"region": "eu-central-1", "accessControlList": {"allowedCIDRs": ["x/8"]}}, "invalid CIDR"),
        (AWS, {"region": "eu-central-1", "accessControlList": {}}, "allowedCIDRs"),
    ],
)
async def test_refused_with_keb_s_rules(
    broker: Broker, plan_id: str, parameters: dict[str, Any], message: str
) -> None:
    """A plan not listed, a CIDR not canonical or not a CIDR, no allowedCIDRs: 400, nothing created."""
    assert message in await refused_provisioning(broker, provision_body(plan_id, {"name": "c", **parameters}))


async def test_an_update_of_an_unlisted_plan_is_refused() -> None:
    """On update too: a plan not listed gets KEB's 400 and its runtime is unchanged."""
    async for broker in make_broker():
        await broker.provisioned("inst-1", aws())
        patch = {"service_id": SERVICE, "parameters": {"accessControlList": {"allowedCIDRs": []}}}
        response = await broker.patch("inst-1", patch)
        assert response.status_code == 400, response.text
        assert response.json()["description"] == "AccessControlList is not supported for this plan"
