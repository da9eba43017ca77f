"""The catalog per platform region: which plans, and which cluster regions each plan offers."""

from __future__ import annotations

from typing import Any

from tests.integration.http.conftest import Broker, make_broker
from tests.support import AZURE, SERVICE, provision_body


def plans(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (service,) = catalog["services"]
    return {plan["name"]: plan for plan in service["plans"]}


def region_enum(plan: dict[str, Any]) -> list[str]:
    return list(plan["schemas"]["service_instance"]["create"]["parameters"]["properties"]["region"]["enum"])


async def catalog_of(broker: Broker, path: str) -> dict[str, Any]:
    response = await broker.osb("GET", path)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_the_catalog_offers_the_kyma_service(broker: Broker) -> None:
    """One service, kymaruntime, with KEB's id, retrievable instances and plans sorted by name."""
    catalog = await catalog_of(broker, "/oauth/v2/catalog")
    (service,) = catalog["services"]
    assert (service["id"], service["name"], service["instances_retrievable"]) == (
        SERVICE,
        "kymaruntime",
        True,
    )
    names = [plan["name"] for plan in service["plans"]]
    assert names == sorted(names)


async def test_an_eu_access_region_offers_aws_only_in_frankfurt(broker: Broker) -> None:
    """Under cf-eu11 the aws plan offers exactly eu-central-1."""
    catalog = await catalog_of(broker, "/oauth/cf-eu11/v2/catalog")
    assert region_enum(plans(catalog)["aws"]) == ["eu-central-1"]


async def test_the_default_region_offers_aws_worldwide(broker: Broker) -> None:
    """Without a region (cf-eu10) aws offers its default list, US regions included."""
    catalog = await catalog_of(broker, "/oauth/v2/catalog")
    regions = region_enum(plans(catalog)["aws"])
    assert "us-east-1" in regions
    assert "eu-central-1" in regions


async def test_a_plan_without_regions_for_the_platform_region_is_not_offered(broker: Broker) -> None:
    """sap-converged-cloud lists cf-eu10 but not cf-eu11, so only cf-eu10 offers it."""
    assert "sap-converged-cloud" in plans(await catalog_of(broker, "/oauth/cf-eu10/v2/catalog"))
    assert "sap-converged-cloud" not in plans(await catalog_of(broker, "/oauth/cf-eu11/v2/catalog"))


async def test_the_trial_plan_is_offered_everywhere(broker: Broker) -> None:
    """trial appears in every served platform region's catalog, even one no plan configuration names."""
    for path in ("/oauth/v2/catalog", "/oauth/cf-eu11/v2/catalog", "/oauth/cf-jp31/v2/catalog"):
        assert "trial" in plans(await catalog_of(broker, path))


async def test_the_default_request_region_is_configurable() -> None:
    """APP_BROKER_DEFAULT_REQUEST_REGION decides the catalog of /oauth/v2/catalog."""
    async for broker in make_broker(env={"APP_BROKER_DEFAULT_REQUEST_REGION": "cf-eu11"}):
        catalog = await catalog_of(broker, "/oauth/v2/catalog")
        assert region_enum(plans(catalog)["aws"]) == ["eu-central-1"]


async def test_only_enabled_plans_are_offered() -> None:
    """APP_BROKER_ENABLE_PLANS restricts the catalog."""
    async for broker in make_broker(env={"APP_BROKER_ENABLE_PLANS": "aws,trial"}):
        catalog = await catalog_of(broker, "/oauth/v2/catalog")
        assert sorted(plans(catalog)) == ["aws", "trial"]


async def test_a_disabled_plan_cannot_be_provisioned() -> None:
    """A plan left out of APP_BROKER_ENABLE_PLANS is refused with 400 naming plan_id."""
    async for broker in make_broker(env={"APP_BROKER_ENABLE_PLANS": "aws,trial"}):
        body = provision_body(plan_id=AZURE, parameters={"name": "c", "region": "westeurope"})
        response = await broker.osb("PUT", "/oauth/v2/service_instances/inst-1", json=body)
        assert response.status_code == 400
        assert "plan_id" in response.json()["description"]


async def test_the_new_plans_are_enabled_and_provisioned_through_app_broker_enable_plans() -> None:
    """Enabled by name, alicloud, build-runtime-alicloud and gdch are listed and provisioning is accepted."""
    async for broker in make_broker(env={"APP_BROKER_ENABLE_PLANS": "alicloud,build-runtime-alicloud,gdch"}):
        offered = plans(await catalog_of(broker, "/oauth/v2/catalog"))
        assert sorted(offered) == ["alicloud", "build-runtime-alicloud", "gdch"]
        assert region_enum(offered["gdch"]) == ["us-west16"]
        body = provision_body(
            plan_id=offered["alicloud"]["id"], parameters={"name": "c", "region": "eu-west-1"}
        )
        response = await broker.osb("PUT", "/oauth/v2/service_instances/inst-1", json=body)
        assert response.status_code == 202, response.text
