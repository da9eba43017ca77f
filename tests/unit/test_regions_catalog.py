"""Properties of RegionPolicy and the catalog: which plans and cluster regions a platform region offers."""

from __future__ import annotations

import string
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keb_adapters.http.wire import catalog_body
from keb_domain.model.catalog import CatalogSettings, catalog_for, offered_plan
from keb_domain.model.configuration import TRIAL_REGIONS, PlanConfig
from keb_domain.model.plans import ALL_PLANS, PLANS_BY_ID, PLANS_BY_NAME, Plan, PlatformProvider, Provider
from keb_domain.model.regions import EU_ACCESS_REGIONS, EU_FORCED_REGION, RegionPolicy, is_eu_access
from keb_domain.model.schemas import SchemaOptions, plan_schemas
from tests.unit.harness import default_config

POLICY = default_config().policy
ALL_ENABLED = CatalogSettings()
# Every platform-region key the built-in plans configuration names explicitly.
CONFIGURED_KEYS = sorted({key for config in POLICY.plans.values() for key in config.regions} - {"default"})
EU_REGIONS = sorted(EU_ACCESS_REGIONS)

platform_regions = st.one_of(
    st.builds(
        lambda letters, number: f"cf-{letters}{number:02d}",
        st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=2),
        st.integers(0, 99),
    ),
    st.text(max_size=12),
    st.sampled_from(CONFIGURED_KEYS),
    st.sampled_from(EU_REGIONS),
)
plans = st.sampled_from(ALL_PLANS)

# Loose configurations: any plan may map any platform region (EU ones included) to any cluster region.
CLUSTER_REGIONS = (
    "eu-central-1",
    "switzerlandnorth",
    "eu-de-1",
    "eu-de-2",
    "us-east-1",
    "westeurope",
    "europe-west3",
    "na-us-1",
)
plan_configs = st.builds(
    PlanConfig,
    regular_machines=st.lists(st.sampled_from(["small", "large"]), max_size=2, unique=True).map(tuple),
    regions=st.dictionaries(
        st.one_of(st.sampled_from([*EU_REGIONS, "default", "cf-eu10"]), platform_regions),
        st.lists(st.sampled_from(CLUSTER_REGIONS), max_size=4, unique=True).map(tuple),
        max_size=6,
    ),
)
configurable_names = [p.name for p in ALL_PLANS if not (p.is_trial or p.is_free)]
loose_policies = st.builds(
    RegionPolicy,
    plans=st.dictionaries(st.sampled_from(configurable_names), plan_configs),
    providers=st.just(POLICY.providers),
)
policies = st.one_of(st.just(POLICY), loose_policies)


def catalog_plans(policy: RegionPolicy, platform_region: str, settings: CatalogSettings = ALL_ENABLED) -> Any:
    catalog = catalog_body(catalog_for(policy, platform_region, settings))
    (service,) = catalog["services"]
    return service["plans"]


def names(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["name"] for entry in entries]


# --- which plans are offered ------------------------------------------------------------------------


@given(policies, platform_regions)
def test_a_plan_is_in_the_catalog_exactly_when_the_policy_makes_it_available(
    policy: RegionPolicy, platform_region: str
) -> None:
    """The catalog of a platform region lists exactly the plans RegionPolicy.is_available admits."""
    listed = set(names(catalog_plans(policy, platform_region)))
    assert listed == {p.name for p in ALL_PLANS if policy.is_available(p, platform_region)}


@given(policies, platform_regions, plans)
def test_offered_plan_agrees_with_the_catalog(policy: RegionPolicy, platform_region: str, plan: Plan) -> None:
    """offered_plan (used to accept a provisioning request) finds a plan iff the catalog lists it."""
    listed = plan.id in {entry["id"] for entry in catalog_plans(policy, platform_region)}
    found = offered_plan(policy, ALL_ENABLED, plan.id, platform_region)
    assert (found == plan) if listed else (found is None)


@given(platform_regions)
def test_an_unknown_plan_id_is_never_offered(platform_region: str) -> None:
    """A plan id that is not KEB's is not offered anywhere."""
    assert offered_plan(POLICY, ALL_ENABLED, "00000000-0000-0000-0000-000000000000", platform_region) is None


@given(policies, platform_regions)
def test_trial_is_always_offered(policy: RegionPolicy, platform_region: str) -> None:
    """Trial is in every platform region's catalog, whatever the plans configuration says."""
    assert "trial" in names(catalog_plans(policy, platform_region))


@given(platform_regions)
def test_free_is_offered_exactly_on_aws_and_azure_platforms(platform_region: str) -> None:
    """Free runs on the platform's own hyperscaler, so only AWS and Azure platform regions offer it."""
    provider = PlatformProvider.of_region(platform_region)
    offered = "free" in names(catalog_plans(POLICY, platform_region))
    assert offered == (provider in (PlatformProvider.AWS, PlatformProvider.AZURE))


@given(
    policies,
    platform_regions,
    st.frozensets(st.sampled_from([p.name for p in ALL_PLANS])),
)
def test_plans_are_sorted_by_name_with_unique_ids(
    policy: RegionPolicy, platform_region: str, enabled: frozenset[str]
) -> None:
    """Plans come sorted by name (as KEB) and no plan id appears twice."""
    entries = catalog_plans(policy, platform_region, CatalogSettings(enabled_plans=enabled))
    assert names(entries) == sorted(names(entries))
    ids = [entry["id"] for entry in entries]
    assert len(ids) == len(set(ids))
    assert all(PLANS_BY_ID[entry["id"]].name == entry["name"] for entry in entries)


@given(policies, platform_regions, st.frozensets(st.sampled_from([p.name for p in ALL_PLANS])))
def test_disabled_plans_never_appear_and_are_never_offered(
    policy: RegionPolicy, platform_region: str, enabled: frozenset[str]
) -> None:
    """A plan left out of APP_BROKER_ENABLE_PLANS is neither listed nor accepted for provisioning."""
    settings = CatalogSettings(enabled_plans=enabled)
    assert set(names(catalog_plans(policy, platform_region, settings))) <= enabled
    for plan in ALL_PLANS:
        if plan.name not in enabled:
            assert offered_plan(policy, settings, plan.id, platform_region) is None


def test_the_default_configuration_offers_the_documented_plans_per_platform_region() -> None:
    """Examples from the built-in configuration: EU Access keys, AWS default, OpenStack explicit keys."""
    assert names(catalog_plans(POLICY, "cf-eu11")) == ["aws", "build-runtime-aws", "free", "preview", "trial"]
    assert names(catalog_plans(POLICY, "cf-ch20")) == [
        "azure",
        "azure_lite",
        "build-runtime-azure",
        "free",
        "trial",
    ]
    assert names(catalog_plans(POLICY, "cf-eu01")) == ["sap-converged-cloud", "trial"]
    assert "sap-converged-cloud" not in names(catalog_plans(POLICY, "cf-sa30"))
    assert "sap-converged-cloud" in names(catalog_plans(POLICY, "cf-eu20"))


# --- cluster regions in the schemas -----------------------------------------------------------------


@given(policies, platform_regions)
def test_create_schema_region_enum_equals_the_allowed_regions(
    policy: RegionPolicy, platform_region: str
) -> None:
    """Each offered plan's create schema enumerates exactly RegionPolicy.allowed_regions; trial has none."""
    for entry in catalog_plans(policy, platform_region):
        plan = PLANS_BY_ID[entry["id"]]
        create = entry["schemas"]["service_instance"]["create"]["parameters"]["properties"]
        allowed = policy.allowed_regions(plan, platform_region)
        if plan.is_trial:
            assert "region" not in create
            assert allowed == ()
        else:
            assert create["region"]["enum"] == list(allowed)
            assert set(create["region"]["_enumDisplayName"]) == set(allowed)


@given(policies, platform_regions, plans)
def test_update_schemas_never_offer_a_region(policy: RegionPolicy, platform_region: str, plan: Plan) -> None:
    """Region, networking and modules are create-only: no update schema contains them."""
    schemas = plan_schemas(policy, plan, platform_region, SchemaOptions())
    if schemas is None:
        assert not policy.is_available(plan, platform_region)
        return
    update = schemas[1]["properties"]
    assert not {"region", "networking", "modules"} & set(update)


@given(policies, st.sampled_from(EU_REGIONS), plans)
def test_eu_access_regions_never_offer_a_cluster_region_outside_their_eu_region(
    policy: RegionPolicy, platform_region: str, plan: Plan
) -> None:
    """Under cf-eu11/cf-ch20/cf-eu01/cf-eu02 a plan offers at most the one EU cluster region."""
    expected = EU_ACCESS_REGIONS[platform_region].cluster_region
    assert set(policy.allowed_regions(plan, platform_region)) <= {expected}


@given(policies, st.sampled_from(EU_REGIONS))
def test_eu_access_catalogs_enumerate_only_the_eu_region(policy: RegionPolicy, platform_region: str) -> None:
    """No region enum in an EU Access platform region's catalog leaks a non-EU cluster region."""
    expected = EU_ACCESS_REGIONS[platform_region].cluster_region
    for entry in catalog_plans(policy, platform_region):
        schema = entry["schemas"]["service_instance"]["create"]["parameters"]["properties"]
        if "region" in schema:
            assert schema["region"]["enum"] == [expected]


@pytest.mark.parametrize(
    ("platform_region", "plan_name", "expected"),
    [
        ("cf-eu11", "aws", ("eu-central-1",)),
        ("cf-eu11", "free", ("eu-central-1",)),
        ("cf-ch20", "azure", ("switzerlandnorth",)),
        ("cf-ch20", "free", ("switzerlandnorth",)),
        ("cf-eu01", "sap-converged-cloud", ("eu-de-2",)),
        ("cf-eu02", "sap-converged-cloud", ("eu-de-1",)),
        ("cf-eu11", "azure", ()),
        ("cf-eu01", "aws", ()),
    ],
)
def test_eu_access_regions_offer_their_eu_cluster_region(
    platform_region: str, plan_name: str, expected: tuple[str, ...]
) -> None:
    """Each EU Access platform region offers its EU cluster region to the plans of its provider only."""
    assert POLICY.allowed_regions(PLANS_BY_NAME[plan_name], platform_region) == expected


def test_a_loose_configuration_cannot_move_an_eu_access_runtime_out_of_the_eu() -> None:
    """Even a configuration mapping cf-eu11 to US regions offers only eu-central-1 there."""
    loose = attrs.evolve(
        POLICY,
        plans={
            **POLICY.plans,
            "aws": PlanConfig(
                regular_machines=("m6i.large",),
                regions={"cf-eu11": ("us-east-1", "eu-central-1"), "default": ("us-east-1",)},
            ),
        },
    )
    assert loose.allowed_regions(PLANS_BY_NAME["aws"], "cf-eu11") == ("eu-central-1",)
    assert loose.allowed_regions(PLANS_BY_NAME["aws"], "cf-eu10") == ("us-east-1",)


def test_a_plan_without_machines_disappears() -> None:
    """A plan whose configuration has regions but no regularMachines is offered nowhere."""
    bare = RegionPolicy(
        plans={"aws": PlanConfig(regions={"default": ("eu-central-1",)})}, providers=POLICY.providers
    )
    assert not bare.is_available(PLANS_BY_NAME["aws"], "cf-eu10")


# --- the platform provider --------------------------------------------------------------------------

DIGIT_PROVIDERS = {
    "0": PlatformProvider.SAP_CONVERGED_CLOUD,
    "1": PlatformProvider.AWS,
    "2": PlatformProvider.AZURE,
    "3": PlatformProvider.GCP,
    "4": PlatformProvider.ALICLOUD,
    **dict.fromkeys("56789", PlatformProvider.UNKNOWN),
}
# Text without ASCII digits. Digits of other scripts (Arabic-Indic, Devanagari, fullwidth) are not KEB's
# [0-9], so they are sampled on purpose next to arbitrary characters.
OTHER_DIGITS = "\u0661\u0663\u06f5\u0967\uff11\uff12"
no_ascii_digits = st.one_of(
    st.text(alphabet=st.sampled_from(string.ascii_lowercase + "-" + OTHER_DIGITS), max_size=10),
    st.text(alphabet=st.characters(blacklist_characters="0123456789"), max_size=10),
)


@given(no_ascii_digits, st.sampled_from(sorted(DIGIT_PROVIDERS)), st.text(max_size=10))
def test_the_platform_provider_comes_from_the_first_ascii_digit(prefix: str, digit: str, rest: str) -> None:
    """The first [0-9] decides (provider.go): 0 SCC, 1 AWS, 2 Azure, 3 GCP, 4 Alicloud, others unknown."""
    assert PlatformProvider.of_region(prefix + digit + rest) is DIGIT_PROVIDERS[digit]


@given(no_ascii_digits)
def test_a_platform_region_without_a_digit_has_no_provider(region: str) -> None:
    """A region with no [0-9] in it (or no region at all) has the unknown provider."""
    assert PlatformProvider.of_region(region) is PlatformProvider.UNKNOWN


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("cf-eu11", PlatformProvider.AWS),
        ("cf-ch20", PlatformProvider.AZURE),
        ("cf-sa30", PlatformProvider.GCP),
        ("cf-eu01", PlatformProvider.SAP_CONVERGED_CLOUD),
        ("cf-cn40", PlatformProvider.ALICLOUD),
        (None, PlatformProvider.UNKNOWN),
        ("", PlatformProvider.UNKNOWN),
    ],
)
def test_keb_platform_region_examples(region: str | None, expected: PlatformProvider) -> None:
    """The examples of keb-reference §1.1."""
    assert PlatformProvider.of_region(region) is expected


# --- trial cluster regions --------------------------------------------------------------------------

TRIAL_PROVIDERS = (Provider.AWS, Provider.AZURE, Provider.GCP)
requested_regions = st.one_of(st.none(), st.sampled_from(TRIAL_REGIONS))


@given(
    st.sampled_from(EU_REGIONS),
    st.sampled_from([Provider.AWS, Provider.AZURE]),
    requested_regions,
)
def test_trials_from_eu_access_regions_are_forced_into_the_eu(
    platform_region: str, provider: Provider, requested: str | None
) -> None:
    """An AWS trial from an EU Access region lands in eu-central-1, an Azure one in switzerlandnorth."""
    assert POLICY.trial_cluster_region(provider, platform_region, requested) == EU_FORCED_REGION[provider]


@given(
    st.sampled_from(["cf-eu10", "cf-us10", "cf-ap21"]), st.sampled_from(TRIAL_PROVIDERS), requested_regions
)
def test_the_platform_mapping_wins_over_the_region_parameter(
    platform_region: str, provider: Provider, requested: str | None
) -> None:
    """Under a mapped platform region the ``region`` parameter of a trial changes nothing."""
    abstract = POLICY.trial.platform_to_abstract[platform_region]
    expected = POLICY.trial.cluster_regions[provider][abstract]
    assert POLICY.trial_cluster_region(provider, platform_region, requested) == expected


@given(platform_regions, st.sampled_from(TRIAL_PROVIDERS), st.sampled_from(TRIAL_REGIONS))
def test_elsewhere_the_trial_region_parameter_picks_the_cluster_region(
    platform_region: str, provider: Provider, requested: str
) -> None:
    """Outside the mapping and EU Access, ``region`` (europe/us/asia) chooses the provider's region."""
    if platform_region in POLICY.trial.platform_to_abstract or (
        is_eu_access(platform_region) and provider in EU_FORCED_REGION
    ):
        return
    assert (
        POLICY.trial_cluster_region(provider, platform_region, requested)
        == POLICY.trial.cluster_regions[provider][requested]
    )


@pytest.mark.parametrize(
    ("provider", "expected"),
    [(Provider.AWS, "eu-west-1"), (Provider.AZURE, "eastus"), (Provider.GCP, "europe-west3")],
)
def test_an_unmapped_trial_without_a_region_gets_the_provider_default(
    provider: Provider, expected: str
) -> None:
    """keb-reference §2.4: AWS eu-west-1, Azure eastus, GCP europe-west3 by default."""
    assert POLICY.trial_cluster_region(provider, "cf-xy42", None) == expected


@pytest.mark.parametrize(
    ("platform_region", "provider", "expected"),
    [
        ("cf-eu10", Provider.AWS, "eu-west-1"),
        ("cf-us10", Provider.AZURE, "eastus"),
        ("cf-ap21", Provider.GCP, "asia-south1"),
        ("cf-ap21", Provider.AWS, "ap-southeast-1"),
        ("cf-eu10", Provider.AZURE, "westeurope"),
    ],
)
def test_trial_region_mapping_examples(platform_region: str, provider: Provider, expected: str) -> None:
    """The trial mapping of keb-reference §2.4, platform region -> abstract region -> cluster region."""
    assert POLICY.trial_cluster_region(provider, platform_region, None) == expected
