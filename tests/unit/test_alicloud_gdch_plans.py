"""The alicloud, build-runtime-alicloud and gdch plans: catalog, schemas and the Runtime resource they yield.

Expected values are KEB's: plan ids from ``internal/broker/plans.go``, regions and machines from its test
configuration (``cmd/broker/testdata/plans.yaml``, ``providers.yaml``), which the built-in configuration
gives these plans, and provider values from ``internal/provider/alicloud.go`` and ``gdch.go``.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from keb_adapters.http.wire import catalog_body
from keb_domain.errors import InvalidParametersError
from keb_domain.model.catalog import CatalogSettings, catalog_for, offered_plan
from keb_domain.model.plans import PLANS_BY_NAME, Provider
from keb_domain.model.resources import zone_names
from tests.unit.harness import default_config, make_core, provision_command

POLICY = default_config().policy
ALICLOUD_ID = "9f2c3b4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
BUILD_RUNTIME_ALICLOUD_ID = "72efa867-7b54-4d59-8df7-68f4759ff271"
GDCH_ID = "024e11fb-40df-4753-a992-24d136e2d15c"
ALICLOUD_MACHINES = [
    "ecs.g9i.large",
    "ecs.g9i.xlarge",
    "ecs.g9i.2xlarge",
    "ecs.g9i.4xlarge",
    "ecs.g9i.8xlarge",
    "ecs.g9i.12xlarge",
    "ecs.g9i.16xlarge",
]
GDCH_MACHINES = [
    "n3-standard-2-gdc",
    "n3-standard-4-gdc",
    "n3-standard-8-gdc",
    "n3-standard-16-gdc",
    "n3-standard-32-gdc",
    "n3-standard-64-gdc",
]


def catalog_plans(platform_region: str, settings: CatalogSettings | None = None) -> dict[str, Any]:
    catalog = catalog_body(catalog_for(POLICY, platform_region, settings or default_config().catalog))
    (service,) = catalog["services"]
    return {plan["name"]: plan for plan in service["plans"]}


def create_schema(plan: str, platform_region: str = "cf-eu10") -> dict[str, Any]:
    schema: dict[str, Any] = catalog_plans(platform_region)[plan]["schemas"]["service_instance"]["create"][
        "parameters"
    ]
    return schema


# --- catalog ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "plan_id", "display"),
    [
        ("alicloud", ALICLOUD_ID, "Alicloud"),
        ("build-runtime-alicloud", BUILD_RUNTIME_ALICLOUD_ID, "BUILD-RUNTIME-ALICLOUD"),
        ("gdch", GDCH_ID, "GDCH"),
    ],
)
def test_the_new_plans_carry_kebs_ids_and_names(name: str, plan_id: str, display: str) -> None:
    """Each plan is in cf-eu10's catalog under KEB's id, name and display name, and is bindable."""
    entry = catalog_plans("cf-eu10")[name]
    assert entry["id"] == plan_id
    assert entry["metadata"]["displayName"] == display
    assert entry["bindable"] is True


def test_alicloud_may_be_upgraded_to_its_build_runtime_plan() -> None:
    """``upgradableToPlans: [build-runtime-alicloud]`` makes alicloud plan_updateable, as KEB."""
    settings = CatalogSettings(plan_upgrades_enabled=True)
    plans = catalog_plans("cf-eu10", settings)
    assert plans["alicloud"]["plan_updateable"] is True
    assert plans["gdch"]["plan_updateable"] is False


@pytest.mark.parametrize("platform_region", ["cf-eu10", "cf-us10", "cf-ap21", "cf-cn40", "cf-sa30"])
def test_the_default_regions_offer_the_new_plans_outside_eu_access(platform_region: str) -> None:
    """``regions.default`` applies to every platform region that is not EU Access."""
    plans = catalog_plans(platform_region)
    assert {"alicloud", "build-runtime-alicloud", "gdch"} <= set(plans)


@pytest.mark.parametrize("platform_region", ["cf-eu11", "cf-ch20", "cf-eu01", "cf-eu02"])
def test_eu_access_platform_regions_never_offer_the_new_plans(platform_region: str) -> None:
    """An EU Access platform region keeps its one EU hyperscaler; alicloud and gdch are not it."""
    plans = catalog_plans(platform_region)
    assert not {"alicloud", "build-runtime-alicloud", "gdch"} & set(plans)


def test_app_broker_enable_plans_switches_the_new_plans_off() -> None:
    """Left out of APP_BROKER_ENABLE_PLANS, the plans are neither listed nor provisionable."""
    settings = CatalogSettings(enabled_plans=frozenset({"aws", "trial"}))
    assert set(catalog_plans("cf-eu10", settings)) == {"aws", "trial"}
    for plan_id in (ALICLOUD_ID, BUILD_RUNTIME_ALICLOUD_ID, GDCH_ID):
        assert offered_plan(POLICY, settings, plan_id, "cf-eu10") is None


# --- schemas ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("plan", ["alicloud", "build-runtime-alicloud"])
def test_alicloud_schemas_offer_kebs_machines_and_regions(plan: str) -> None:
    """Machine types, regions with their display names, and the standard autoscaler range."""
    properties = create_schema(plan)["properties"]
    assert properties["machineType"]["enum"] == ALICLOUD_MACHINES
    assert properties["machineType"]["_enumDisplayName"]["ecs.g9i.large"] == "ecs.g9i.large (2vCPU, 8GB RAM)"
    assert properties["region"]["enum"] == ["ap-southeast-1", "eu-central-1", "eu-west-1"]
    assert properties["region"]["_enumDisplayName"]["eu-west-1"] == "eu-west-1 (UK, London)"
    assert (properties["autoScalerMin"]["default"], properties["autoScalerMax"]["default"]) == (3, 20)
    assert properties["additionalWorkerNodePools"]["items"]["properties"]["machineType"]["enum"] == (
        ALICLOUD_MACHINES
    )
    assert "networking" in properties
    assert create_schema(plan)["required"] == ["name", "region"]


def test_gdch_schemas_have_no_networking() -> None:
    """gdch's ``disableNetworking`` removes the parameter; machines and its one region are KEB's."""
    properties = create_schema("gdch")["properties"]
    assert "networking" not in properties
    assert properties["machineType"]["enum"] == GDCH_MACHINES
    assert properties["region"]["enum"] == ["us-west16"]
    assert properties["autoScalerMax"]["default"] == 20  # KEB's schema default, whatever gdch provisions


def test_gdch_hides_colocation_and_gvisor_where_alicloud_offers_them() -> None:
    """gdch's ``disableColocateControlPlane`` and ``disableGvisor`` hold with APP_BROKER_GVISOR_ENABLED on."""
    options = attrs.evolve(default_config().catalog.schema_options, gvisor=True)
    settings = attrs.evolve(default_config().catalog, schema_options=options)
    plans = catalog_plans("cf-eu10", settings)
    gdch = plans["gdch"]["schemas"]["service_instance"]["create"]["parameters"]["properties"]
    alicloud = plans["alicloud"]["schemas"]["service_instance"]["create"]["parameters"]["properties"]
    assert {"colocateControlPlane", "gvisor"} <= set(alicloud)
    assert not {"colocateControlPlane", "gvisor"} & set(gdch)


# --- Runtime resource -------------------------------------------------------------------------------


async def provisioned_runtime(
    plan: str, parameters: dict[str, Any], ga: str = "ga-1"
) -> tuple[dict[str, Any], str]:
    """The Runtime resource and the claimed binding of a succeeded provisioning of ``plan``."""
    core = make_core()
    result = await core.instances.provision(
        provision_command(
            plan_id=PLANS_BY_NAME[plan].id, parameters={"name": "my-cluster", **parameters}, ga=ga
        )
    )
    await core.settle()
    operation = core.operation(result.operation_id)
    assert operation.state.value == "succeeded", operation.description
    instance = core.instance("inst-1")
    return core.kcp.runtimes[instance.runtime_id.lower()], instance.credentials_binding


@pytest.mark.parametrize("plan", ["alicloud", "build-runtime-alicloud"])
async def test_an_alicloud_runtime_has_kebs_provider_values(plan: str) -> None:
    """Provider alicloud, cloud_essd volumes of the plan's 80Gi, three zones, the alicloud pool's binding."""
    runtime, binding = await provisioned_runtime(plan, {"region": "eu-central-1"})
    shoot = runtime["spec"]["shoot"]
    assert shoot["provider"]["type"] == "alicloud"
    assert shoot["region"] == "eu-central-1"
    [worker] = shoot["provider"]["workers"]
    assert worker["machine"]["type"] == "ecs.g9i.large"
    assert worker["volume"] == {"size": "80Gi", "type": "cloud_essd"}
    assert worker["zones"] == ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
    assert (worker["minimum"], worker["maximum"], worker["maxSurge"]) == (3, 20, 3)
    assert shoot["secretBindingName"] == binding == "alicloud-001"
    assert shoot["purpose"] == "development"
    assert runtime["metadata"]["labels"]["kyma-project.io/provider"] == "Alicloud"
    assert runtime["metadata"]["labels"]["kyma-project.io/broker-plan-id"] == PLANS_BY_NAME[plan].id


async def test_a_gdch_runtime_has_kebs_provider_values() -> None:
    """Provider gdch, ``Standard`` volumes, ``region-zone`` names, at most 10 nodes unless asked otherwise."""
    runtime, binding = await provisioned_runtime(
        "gdch", {"region": "us-west16", "machineType": "n3-standard-8-gdc"}
    )
    shoot = runtime["spec"]["shoot"]
    assert shoot["provider"]["type"] == "gdch"
    assert shoot["region"] == "us-west16"
    [worker] = shoot["provider"]["workers"]
    assert worker["machine"]["type"] == "n3-standard-8-gdc"
    assert worker["volume"] == {"size": "80Gi", "type": "Standard"}
    assert worker["zones"] == ["us-west16-a", "us-west16-b", "us-west16-c"]
    assert (worker["minimum"], worker["maximum"]) == (3, 10)
    assert shoot["networking"]["nodes"] == "10.250.0.0/16"  # no parameter: KEB's defaults
    assert shoot["secretBindingName"] == binding == "gdch-001"
    assert runtime["metadata"]["labels"]["kyma-project.io/provider"] == "GDCH"


async def test_a_gdch_autoscaler_maximum_that_is_asked_for_is_kept() -> None:
    """The 10-node default applies only when the request leaves ``autoScalerMax`` out."""
    runtime, _ = await provisioned_runtime("gdch", {"region": "us-west16", "autoScalerMax": 40})
    assert runtime["spec"]["shoot"]["provider"]["workers"][0]["maximum"] == 40


async def test_a_gdch_autoscaler_minimum_above_the_unset_maximum_is_refused() -> None:
    """autoScalerMin 15 without a maximum would yield 15..10: refused as KEB refuses min > max."""
    core = make_core()
    command = provision_command(
        plan_id=PLANS_BY_NAME["gdch"].id,
        parameters={"name": "my-cluster", "region": "us-west16", "autoScalerMin": 15},
    )
    with pytest.raises(
        InvalidParametersError, match="autoScalerMax 10 should be larger than or equal to autoScalerMin 15"
    ):
        await core.instances.provision(command)
    assert core.storage.instances.get("inst-1") is None


@pytest.mark.parametrize(
    ("provider", "region", "expected"),
    [
        (Provider.ALICLOUD, "eu-central-1", ["eu-central-1a", "eu-central-1b"]),
        (Provider.ALICLOUD, "cn-beijing", ["cn-beijing-a", "cn-beijing-b"]),
        (Provider.GDCH, "us-west16", ["us-west16-a", "us-west16-b"]),
    ],
)
def test_zone_names_follow_kebs_full_zone_name(provider: Provider, region: str, expected: list[str]) -> None:
    """Alibaba Cloud appends the letter to a region ending in a digit, else joins with '-'; GDCH joins."""
    assert zone_names(provider, region, ("a", "b", "c"), 2) == expected
