"""Platform regions have one canonical spelling, and only the configured ones are served (decisions.md §3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keb_app.settings import Settings
from keb_domain.errors import ConfigurationError, PlatformRegionNotServedError
from keb_domain.model.configuration import PlanConfig, TrialRegionMapping
from keb_domain.model.plans import PLANS_BY_NAME
from keb_domain.model.regions import (
    BTP_PLATFORM_REGIONS,
    EU_ACCESS_REGIONS,
    RegionPolicy,
    canonical_platform_region,
    is_eu_access,
)
from tests.support import settings_for_tests

POLICY = settings_for_tests().broker.policy
SERVED = sorted(POLICY.served_platform_regions)


@st.composite
def case_variants(draw: st.DrawFn, name: str) -> str:
    """``name`` with each ASCII letter in a drawn case."""
    return "".join(c.upper() if c.isalpha() and draw(st.booleans()) else c for c in name)


@given(st.sampled_from(SERVED).flatmap(lambda name: st.tuples(st.just(name), case_variants(name))))
def test_any_ascii_case_of_a_served_region_is_that_region(pair: tuple[str, str]) -> None:
    """CF-EU11, Cf-Eu11 and cf-eu11 name the same platform region."""
    name, spelling = pair
    assert POLICY.served_platform_region(spelling) == name


@given(
    st.sampled_from(SERVED),
    st.text(st.characters(min_codepoint=0x80), min_size=1, max_size=3),
    st.integers(min_value=0, max_value=8),
)
def test_a_non_ascii_character_anywhere_makes_a_name_unservable(name: str, extra: str, at: int) -> None:
    """A zero-width space or a look-alike letter inside a served name leaves no platform region."""
    spelling = name[:at] + extra + name[at:]
    assert canonical_platform_region(spelling) is None
    with pytest.raises(PlatformRegionNotServedError):
        POLICY.served_platform_region(spelling)


@given(st.text(max_size=80))
def test_only_names_whose_canonical_form_is_served_are_accepted(name: str) -> None:
    """For any string: it is served exactly when its ASCII lower-case form is a served region."""
    canonical = name.lower() if name.isascii() else None
    if canonical in POLICY.served_platform_regions:
        assert POLICY.served_platform_region(name) == canonical
    else:
        with pytest.raises(PlatformRegionNotServedError) as refused:
            POLICY.served_platform_region(name)
        assert "is not served" in refused.value.description


def test_the_refusal_names_the_region_with_invisible_characters_escaped() -> None:
    """The description shows what was sent, a zero-width space as an escape, so an operator sees it."""
    with pytest.raises(PlatformRegionNotServedError) as refused:
        POLICY.served_platform_region("cf-eu11\u200b")
    assert "'cf-eu11\\u200b'" in refused.value.description


@pytest.mark.parametrize("spelling", ["CF-EU11", "Cf-Ch20", "cf-eu01", "CF-EU02"])
def test_eu_access_does_not_depend_on_the_case(spelling: str) -> None:
    """The EU Access check applies to every case of an EU Access region's name."""
    assert is_eu_access(spelling)
    assert not is_eu_access(spelling + "\u200b")


def test_the_built_in_list_covers_the_eu_access_regions_and_the_default() -> None:
    """The default served set contains every EU Access region and the default request region."""
    assert set(EU_ACCESS_REGIONS) <= POLICY.served_platform_regions
    assert "cf-eu10" in POLICY.served_platform_regions
    assert set(BTP_PLATFORM_REGIONS) <= POLICY.served_platform_regions


def test_platform_regions_named_by_the_configuration_are_served() -> None:
    """A platform region key of the plans configuration or the trial mapping is served without listing it."""
    policy = RegionPolicy(
        plans={"aws": PlanConfig(regular_machines=("m",), regions={"cf-xx77": ("us-east-1",)})},
        providers={},
        trial=TrialRegionMapping(platform_to_abstract={"cf-yy88": "us"}),
        platform_regions=("cf-eu10",),
    )
    assert policy.served_platform_regions == {"cf-eu10", "cf-xx77", "cf-yy88"}
    with pytest.raises(PlatformRegionNotServedError):
        policy.served_platform_region("cf-eu11")


def test_app_broker_platform_regions_sets_the_listed_regions() -> None:
    """APP_BROKER_PLATFORM_REGIONS replaces the built-in list; its names are folded to lower case."""
    policy = settings_for_tests({"APP_BROKER_PLATFORM_REGIONS": "CF-EU10, cf-zz99"}).broker.policy
    assert policy.served_platform_region("cf-zz99") == "cf-zz99"
    assert policy.served_platform_region("cf-eu10") == "cf-eu10"
    # cf-jp31 is on the built-in list but named by no configuration: no longer served.
    with pytest.raises(PlatformRegionNotServedError):
        policy.served_platform_region("cf-jp31")


@pytest.mark.parametrize("value", ["cf-eu11\u200b", "cf eu10", "cf-eü10"])
def test_app_broker_platform_regions_refuses_names_without_a_canonical_form(value: str) -> None:
    """A configured name with spaces or non-ASCII characters stops startup with a message naming the key."""
    with pytest.raises(ConfigurationError, match="APP_BROKER_PLATFORM_REGIONS"):
        settings_for_tests({"APP_BROKER_PLATFORM_REGIONS": value})


def test_the_default_request_region_must_be_served() -> None:
    """APP_BROKER_DEFAULT_REQUEST_REGION naming no served region stops startup."""
    with pytest.raises(ConfigurationError, match="APP_BROKER_DEFAULT_REQUEST_REGION"):
        settings_for_tests({"APP_BROKER_DEFAULT_REQUEST_REGION": "cf-xx00"})


def test_the_default_request_region_is_stored_canonical() -> None:
    """APP_BROKER_DEFAULT_REQUEST_REGION=CF-EU11 is the EU Access region cf-eu11."""
    settings = settings_for_tests({"APP_BROKER_DEFAULT_REQUEST_REGION": "CF-EU11"})
    assert settings.broker.default_platform_region == "cf-eu11"


def test_a_plans_configuration_with_a_misspelt_platform_region_is_refused(tmp_path: Path) -> None:
    """A plans configuration key in upper case could never match a request, so startup refuses it."""
    path = tmp_path / "plans.yaml"
    path.write_text(
        "plansConfiguration:\n  aws:\n    regularMachines: [m]\n    regions:\n      CF-EU11: [x]\n"
    )
    with pytest.raises(ConfigurationError, match="CF-EU11"):
        Settings.from_env({"APP_PLANS_CONFIGURATION_FILE_PATH": str(path), "APP_AUTH_MODE": "none"})


def test_eu_access_cluster_regions_hold_for_any_stored_spelling() -> None:
    """An instance stored as CF-EU11 (before names were canonical) still gets only eu-central-1 for aws."""
    aws = PLANS_BY_NAME["aws"]
    assert (
        POLICY.allowed_regions(aws, "CF-EU11") == POLICY.allowed_regions(aws, "cf-eu11") == ("eu-central-1",)
    )
