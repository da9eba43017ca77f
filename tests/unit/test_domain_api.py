"""The public API of keb_domain: it answers as the broker does, from the same single configuration."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

import keb_domain as kd
from keb_adapters.http.wire import catalog_body
from tests.unit.harness import default_config
from tests.unit.test_regions_catalog import platform_regions, policies

CONTEXT = {"globalaccount_id": "ga", "subaccount_id": "sa", "user_id": "me@example.com"}
AWS = kd.PLANS_BY_NAME["aws"].id


def test_the_built_in_policy_is_the_one_the_broker_reads_without_configuration_files() -> None:
    """default_region_policy() holds the plans and providers the broker's embedded default parses."""
    broker = default_config().policy
    library = kd.default_region_policy()
    assert library.plans == broker.plans
    assert library.providers == broker.providers
    assert library.served_platform_regions == broker.served_platform_regions


def test_the_built_in_documents_are_fresh_copies() -> None:
    """A caller changing the returned document does not change the next caller's."""
    first = kd.default_plans_configuration()
    first["plansConfiguration"].clear()
    kd.default_providers_configuration().clear()
    assert kd.default_plans_configuration()["plansConfiguration"]
    assert kd.default_providers_configuration()["providersConfiguration"]


@given(policies, platform_regions)
def test_the_catalog_value_is_what_the_catalog_body_publishes(policy: kd.RegionPolicy, region: str) -> None:
    """Every OfferedPlan is a plan of the OSB catalog body, with the same schemas, in the same order."""
    settings = kd.CatalogSettings(plan_upgrades_enabled=True, bindable_plans=frozenset({"aws", "trial"}))
    (service,) = catalog_body(kd.catalog_for(policy, region, settings))["services"]
    published: list[dict[str, Any]] = service["plans"]
    offered = kd.catalog_for(policy, region, settings).plans
    assert [p.id for p in offered] == [entry["id"] for entry in published]
    for plan, entry in zip(offered, published, strict=True):
        schemas = entry["schemas"]["service_instance"]
        assert plan.create_schema == schemas["create"]["parameters"]
        assert plan.update_schema == schemas["update"]["parameters"]
        assert plan.bindable == entry.get("bindable", False)
        assert plan.updateable == entry["plan_updateable"]


def test_keb_format_configuration_builds_the_same_policy_as_its_parts() -> None:
    """from_keb_configuration parses both documents as the broker's settings do."""
    policy = kd.RegionPolicy.from_keb_configuration(
        kd.default_plans_configuration(), kd.default_providers_configuration()
    )
    assert policy == kd.default_region_policy()


def test_a_configuration_key_keb_does_not_define_is_refused_by_name() -> None:
    """A misspelt key is a ConfigurationError naming it, not silently ignored."""
    with pytest.raises(kd.ConfigurationError, match="regularMachine"):
        kd.RegionPolicy.from_keb_configuration({"aws": {"regularMachine": []}}, {})


def test_parameters_the_schema_does_not_name_are_accepted_and_not_kept() -> None:
    """As KEB's typed parameters, an unknown key passes validation and is dropped from what is stored."""
    valid = kd.validate_provisioning(
        kd.default_region_policy(),
        plan_id=AWS,
        platform_region="cf-eu10",
        parameters={"name": "n", "region": "eu-central-1", "colour": "blue"},
        context=CONTEXT,
    )
    assert dict(valid.parameters) == {"name": "n", "region": "eu-central-1"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"plan_id": "nope"}, "plan_id: 'nope' is not in the catalog"),
        ({"service_id": "other"}, "service_id: 'other' is not in the catalog"),
        ({"context": {**CONTEXT, "user_id": ""}}, "context.user_id: the user ID must not be empty"),
        ({"parameters": {"name": "n"}}, "region"),
    ],
)
def test_each_refusal_is_a_keb_error_naming_the_field(changes: dict[str, Any], message: str) -> None:
    """Unknown plan or service, an empty context id, a missing required parameter: each names its field."""
    request: dict[str, Any] = {
        "plan_id": AWS,
        "platform_region": "cf-eu10",
        "parameters": {"name": "n", "region": "eu-central-1"},
        "context": CONTEXT,
        **changes,
    }
    with pytest.raises(kd.InvalidRequestError) as refused:
        kd.validate_provisioning(kd.default_region_policy(), **request)
    assert message in refused.value.description


def test_an_eu_access_trial_is_forced_into_the_eu() -> None:
    """An AWS trial from cf-eu11 runs in eu-central-1 and is marked EU Access."""
    valid = kd.validate_provisioning(
        kd.default_region_policy(),
        plan_id=kd.PLANS_BY_NAME["trial"].id,
        platform_region="cf-eu11",
        parameters={"name": "t", "provider": "AWS"},
        context=CONTEXT,
    )
    assert (valid.provider, valid.cluster_region, valid.eu_access) == (kd.Provider.AWS, "eu-central-1", True)
