"""Parsing of KEB's plansConfiguration/providersConfiguration and of plan lists in settings."""

from __future__ import annotations

from typing import Any

import pytest

from keb_domain.errors import ConfigurationError
from keb_domain.model.configuration import (
    PlanConfig,
    parse_plans_configuration,
    parse_providers_configuration,
)
from keb_domain.model.plans import Provider
from tests.support import settings_for_tests

# Shaped like KEB's scripts/values.yaml, including plans and providers this broker does not offer.
KEB_PLANS: dict[str, Any] = {
    "plansConfiguration": {
        "aws,build-runtime-aws": {
            "regularMachines": ["m6i.large", "m5.large"],
            "additionalMachines": ["c7i.large"],
            "regions": {"cf-eu11": ["eu-central-1"], "default": ["eu-central-1", "us-east-1"]},
        },
        "alicloud,build-runtime-alicloud": {
            "regularMachines": ["ecs.g8i.large"],
            "regions": {"default": ["cn-beijing"]},
        },
        "gdch": {"regularMachines": ["n2-standard-2"], "regions": {"default": ["local"]}},
        "own_cluster": {"regularMachines": ["any"], "regions": {"default": ["anywhere"]}},
        "azure": {
            "upgradableToPlans": ["build-runtime-azure"],
            "regularMachines": ["Standard_D2s_v5"],
            "regions": {"cf-ch20": ["switzerlandnorth"], "default": ["westeurope"]},
        },
    }
}


def test_a_keb_plans_configuration_with_alicloud_and_gdch_keys_loads() -> None:
    """alicloud and gdch are configured like every plan; own_cluster, which KEB removed, is skipped."""
    parsed = parse_plans_configuration(KEB_PLANS)
    assert set(parsed) == {"aws", "build-runtime-aws", "azure", "alicloud", "build-runtime-alicloud", "gdch"}
    assert parsed["alicloud"] is parsed["build-runtime-alicloud"]
    assert parsed["gdch"].regions == {"default": ("local",)}
    assert parsed["aws"] == PlanConfig(
        regular_machines=("m6i.large", "m5.large"),
        additional_machines=("c7i.large",),
        regions={"cf-eu11": ("eu-central-1",), "default": ("eu-central-1", "us-east-1")},
    )
    assert parsed["azure"].upgradable_to == ("build-runtime-azure",)


def test_the_top_level_key_is_optional() -> None:
    """A bare mapping parses like one wrapped in ``plansConfiguration``."""
    assert parse_plans_configuration(KEB_PLANS["plansConfiguration"]) == parse_plans_configuration(KEB_PLANS)


@pytest.mark.parametrize("key", ["aws,bogus", "bogus", " aws , azure_heavy "])
def test_an_unknown_plan_name_is_an_error_naming_it(key: str) -> None:
    """A plan name KEB does not know stops startup with a message naming it."""
    raw = {key: {"regularMachines": ["m"], "regions": {"default": ["r"]}}}
    with pytest.raises(ConfigurationError) as caught:
        parse_plans_configuration(raw)
    unknown = next(name.strip() for name in key.split(",") if name.strip() not in {"aws", "azure"})
    assert repr(unknown) in str(caught.value)


def test_a_malformed_region_list_is_an_error_naming_the_key() -> None:
    """A region list that is a string is rejected with its full key."""
    raw = {"aws": {"regularMachines": ["m"], "regions": {"cf-eu10": "eu-central-1"}}}
    with pytest.raises(ConfigurationError, match=r"plansConfiguration\.aws\.regions\.cf-eu10"):
        parse_plans_configuration(raw)


def test_regions_fall_back_to_default_and_else_to_nothing() -> None:
    """``regions[platform region]`` wins; ``default`` covers the rest; without it nothing is offered."""
    with_default = PlanConfig(regions={"cf-eu11": ("eu-central-1",), "default": ("us-east-1",)})
    without_default = PlanConfig(regions={"cf-eu10": ("eu-de-2",)})
    assert with_default.regions_for("cf-eu11") == ("eu-central-1",)
    assert with_default.regions_for("cf-us10") == ("us-east-1",)
    assert without_default.regions_for("cf-us10") == ()


def test_a_keb_providers_configuration_with_alicloud_and_gdch_loads() -> None:
    """alicloud and gdch are providers like the others; sap-converged-cloud is openstack."""
    parsed = parse_providers_configuration(
        {
            "providersConfiguration": {
                "aws": {
                    "dualStack": True,
                    "machines": {"m6i.large": "m6i.large (2vCPU, 8GB RAM)"},
                    "regions": {"eu-central-1": {"displayName": "Frankfurt", "zones": ["a", "b", "c"]}},
                    "regionsSupportingMachine": {"g6": {"us-west-2": None, "eu-central-1": ["a"]}},
                },
                "alicloud": {"regions": {"cn-beijing": {"displayName": "Beijing"}}},
                "gdch": {},
                "sap-converged-cloud": {"regions": {"eu-de-1": {"zones": ["a"]}}},
            }
        }
    )
    assert set(parsed) == {Provider.AWS, Provider.OPENSTACK, Provider.ALICLOUD, Provider.GDCH}
    assert parsed[Provider.ALICLOUD].region_display_name("cn-beijing") == "Beijing"
    assert parsed[Provider.GDCH].regions == {}
    aws = parsed[Provider.AWS]
    assert aws.dual_stack
    assert aws.zones("eu-central-1") == ("a", "b", "c")
    assert aws.region_display_name("eu-central-1") == "Frankfurt"
    assert aws.machine_available_in("g6.xlarge", "us-west-2")
    assert not aws.machine_available_in("g6.xlarge", "ap-south-1")
    assert aws.machine_available_in("m6i.large", "ap-south-1")
    assert parsed[Provider.OPENSTACK].region_display_name("eu-de-1") == "eu-de-1"


@pytest.mark.parametrize("variable", ["APP_BROKER_ENABLE_PLANS", "APP_BROKER_BINDING_BINDABLE_PLANS"])
def test_an_unknown_plan_in_a_plan_list_setting_names_the_variable_and_the_plan(variable: str) -> None:
    """keb-reference §2.2: unknown plan names in any plan list are a startup error."""
    with pytest.raises(ConfigurationError) as caught:
        settings_for_tests({variable: "aws,azure_mega"})
    assert variable in str(caught.value)
    assert "azure_mega" in str(caught.value)


def test_the_built_in_configuration_offers_every_plan_somewhere() -> None:
    """The embedded default configures every configurable plan (free and trial need none)."""
    plans = settings_for_tests().broker.policy.plans
    assert set(plans) == {
        "aws",
        "preview",
        "build-runtime-aws",
        "azure",
        "build-runtime-azure",
        "azure_lite",
        "gcp",
        "build-runtime-gcp",
        "sap-converged-cloud",
        "alicloud",
        "build-runtime-alicloud",
        "gdch",
    }
