"""The rules of the parameters KEB's switches offer: properties of the ACL, gVisor, volume and colocation
checks, and the settings that switch them."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keb_app.landscape.facts import built_in_volume_sizes
from keb_domain.errors import InvalidParametersError
from keb_domain.model.parameters import (
    check_access_control_list,
    check_additional_volume_size,
    check_colocation,
    check_gvisor,
)
from keb_domain.model.plans import ALL_PLANS, PLANS_BY_NAME, Provider
from keb_domain.model.volumes import VolumeSizeError, VolumeSizeTable, missing_volume_sizes
from tests.support import settings_for_tests

AWS_PLAN = PLANS_BY_NAME["aws"]
LISTED = frozenset({"aws"})

networks = st.one_of(
    st.builds(
        lambda address, prefix: ipaddress.ip_network(f"{address}/{prefix}", strict=False),
        st.ip_addresses(v=4),
        st.integers(0, 32),
    ),
    st.builds(
        lambda address, prefix: ipaddress.ip_network(f"{address}/{prefix}", strict=False),
        st.ip_addresses(v=6),
        st.integers(0, 128),
    ),
)


def acl(*cidrs: str) -> dict[str, Any]:
    return {"accessControlList": {"allowedCIDRs": list(cidrs)}}


@given(st.lists(networks, max_size=5))
def test_canonical_cidrs_of_either_family_are_accepted(found: list[Any]) -> None:
    """KEB's ValidateCidr: any canonical IPv4 or IPv6 CIDR passes."""
    check_access_control_list(AWS_PLAN, acl(*(str(n) for n in found)), LISTED)


@given(networks, st.integers(1, 2**32 - 1))
def test_a_host_address_inside_the_network_is_refused(network: Any, offset: int) -> None:
    """``10.250.0.1/19``-like values (host bits set) are not canonical: 400."""
    host_bits = network.num_addresses
    if host_bits == 1:
        return  # a /32 or /128 has no host bits to set
    address = network.network_address + (offset % (host_bits - 1)) + 1
    with pytest.raises(InvalidParametersError, match="must be valid canonical CIDR"):
        check_access_control_list(AWS_PLAN, acl(f"{address}/{network.prefixlen}"), LISTED)


@given(st.text(max_size=20).filter(lambda t: "/" not in t))
def test_a_value_without_a_prefix_is_not_a_cidr(text: str) -> None:
    """Addresses without ``/n`` and other text are refused as invalid CIDR addresses."""
    with pytest.raises(InvalidParametersError, match="invalid CIDR address"):
        check_access_control_list(AWS_PLAN, acl(text), LISTED)


@pytest.mark.parametrize("plan", [p for p in ALL_PLANS if p.name != "aws"], ids=lambda p: p.name)
def test_an_acl_for_a_plan_not_listed_is_refused_even_empty(plan: Any) -> None:
    """KEB's validateACL checks the plan before the CIDRs."""
    with pytest.raises(InvalidParametersError, match="AccessControlList is not supported for this plan"):
        check_access_control_list(plan, acl(), LISTED)


@given(st.integers(0, 10_000))
def test_any_non_negative_additional_size_passes_for_a_listed_plan(size: int) -> None:
    """The upper bound is the schema's (the configured maximum); the rule only refuses negatives."""
    check_additional_volume_size(AWS_PLAN, {"additionalVolumeSizeGi": size}, LISTED)


@given(st.integers(max_value=-1))
def test_a_negative_additional_size_is_refused(size: int) -> None:
    """KEB's ValidateAdditionalVolumeSizeGi, also for a pool."""
    with pytest.raises(InvalidParametersError, match=">= 0"):
        check_additional_volume_size(AWS_PLAN, {"additionalVolumeSizeGi": size}, LISTED)
    pool = {"additionalWorkerNodePools": [{"name": "p", "additionalVolumeSizeGi": size}]}
    with pytest.raises(InvalidParametersError, match=">= 0"):
        check_additional_volume_size(AWS_PLAN, pool, LISTED)


@pytest.mark.parametrize(
    "parameters",
    [
        {"gvisor": {"enabled": True}},
        {"additionalWorkerNodePools": [{"name": "a"}, {"name": "b", "gvisor": {"enabled": True}}]},
    ],
)
def test_gvisor_needs_a_whitelisted_account(parameters: dict[str, Any]) -> None:
    """Enabled anywhere: only for the whitelist; disabled everywhere: anyone."""
    check_gvisor(parameters, "ga-1", frozenset({"ga-1"}))
    with pytest.raises(InvalidParametersError, match="not available for your account"):
        check_gvisor(parameters, "ga-2", frozenset({"ga-1"}))
    check_gvisor({"gvisor": {"enabled": False}}, "ga-2", frozenset())


@given(st.lists(st.sampled_from(["eu-west-1", "eu-central-1", "us-east-1", "us-west-2"]), unique=True))
def test_colocation_needs_a_seed_in_one_of_the_plan_s_regions(seeds: list[str]) -> None:
    """Accepted exactly when the region has a seed and the plan offers it."""
    plan_regions = ("eu-central-1", "us-east-1", "us-west-2")
    for region in plan_regions:
        if region in seeds:
            check_colocation(Provider.AWS, region, plan_regions, seeds)
        else:
            with pytest.raises(InvalidParametersError, match=f"in the {region} region"):
                check_colocation(Provider.AWS, region, plan_regions, seeds)


def test_volume_sizes_are_looked_up_as_keb_does() -> None:
    """Lower-cased machine names; a missing provider, machine or a zero size is KEB's error."""
    table = VolumeSizeTable({"aws": {"m6i.large": 80, "m5.large": 0}})
    assert table.size_gb(Provider.AWS, "M6i.Large") == 80
    for provider, machine in ((Provider.GCP, "n2"), (Provider.AWS, "m7i.large"), (Provider.AWS, "m5.large")):
        with pytest.raises(VolumeSizeError):
            table.size_gb(provider, machine)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("all", {p.name for p in ALL_PLANS}),
        ("ALL", {p.name for p in ALL_PLANS}),
        ("no-plan", set()),
        ("aws,azure", {"aws", "azure"}),
    ],
)
def test_acl_plans_read_keb_s_special_names(value: str, expected: set[str]) -> None:
    """``all`` and ``no-plan`` as in KEB's IsACLEnabledForPlanName; otherwise plan names."""
    settings = settings_for_tests({"APP_BROKER_ACL_ENABLED_PLANS": value})
    assert settings.broker.catalog.schema_options.acl_plans == expected


def test_the_gvisor_whitelist_is_read_from_keb_s_file_format(tmp_path: Path) -> None:
    """``whitelist: [ids]``, as KEB's gvisorWhitelistedGlobalAccountIds; no file: nobody."""
    assert settings_for_tests().broker.gvisor_allowed_global_accounts == frozenset()
    path = tmp_path / "w.yaml"
    path.write_text("whitelist:\n  - ga-1\n  - ga-2\n", encoding="utf-8")
    settings = settings_for_tests({"APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH": str(path)})
    assert settings.broker.gvisor_allowed_global_accounts == {"ga-1", "ga-2"}


def test_startup_names_each_machine_type_without_a_size() -> None:
    """KEB's ValidateAllMachineTypes: the providers' machine types of enabled plans, resolved, each once."""
    broker = settings_for_tests().broker
    sizes = built_in_volume_sizes()
    assert missing_volume_sizes(VolumeSizeTable(sizes), broker.policy, broker.catalog.enabled_plans) == []
    gcp = {m: s for m, s in sizes["gcp"].items() if m != "n2-standard-4"}
    table = VolumeSizeTable({**sizes, "gcp": gcp, "azure": {}})
    missing = missing_volume_sizes(table, broker.policy, {"gcp", "aws"})
    assert missing == ["gcp/n2-standard-4"]
