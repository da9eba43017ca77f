"""HAP rule parsing, validation and evaluation (KEB's ``03-11-hap-rules.md``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keb_domain.model.hap import (
    DEFAULT_RULES,
    HapRuleError,
    HapRules,
    NoMatchingRuleError,
    PoolRequest,
    parse_rule,
)
from keb_domain.model.plans import PLANS_BY_NAME

PLANS = tuple(PLANS_BY_NAME)


def request(plan: str = "aws", pr: str = "cf-eu10", hr: str = "eu-central-1", hs: str = "aws") -> PoolRequest:
    return PoolRequest(plan, pr, hr, hs)


def test_the_default_rules_cover_every_plan() -> None:
    """KEB's chart rules parse, and every plan has an entry."""
    rules = HapRules.parse(DEFAULT_RULES, PLANS, required_plans=PLANS)
    assert {rule.plan for rule in rules.rules} == set(PLANS)


@pytest.mark.parametrize(
    ("req", "selector"),
    [
        (request(), "hyperscalerType=aws,!euAccess,shared!=true,!dirty"),
        (request(pr="cf-eu11"), "hyperscalerType=aws,euAccess=true,shared!=true,!dirty"),
        (
            request("gcp", "cf-sa30", "me-central2", "gcp"),
            "hyperscalerType=gcp_cf-sa30,!euAccess,shared!=true,!dirty",
        ),
        (request("trial", hs="azure"), "hyperscalerType=azure,!euAccess,shared=true"),
        (
            request("sap-converged-cloud", "cf-eu20", "eu-de-1", "openstack"),
            "hyperscalerType=openstack,!euAccess,shared=true",
        ),
        (
            request("alicloud", "cf-eu10", "eu-central-1", "alicloud"),
            "hyperscalerType=alicloud,!euAccess,shared!=true,!dirty",
        ),
        (
            request("build-runtime-alicloud", "cf-cn40", "ap-southeast-1", "alicloud"),
            "hyperscalerType=alicloud,!euAccess,shared!=true,!dirty",
        ),
        (
            request("gdch", "cf-us10", "us-west16", "gdch"),
            "hyperscalerType=gdch,!euAccess,shared!=true,!dirty",
        ),
    ],
)
def test_default_rules_yield_kebs_label_selectors(req: PoolRequest, selector: str) -> None:
    """Each documented example request gets the selector KEB's label selector builder writes."""
    pool = HapRules.parse(DEFAULT_RULES, PLANS).pool_for(req)
    assert str(pool.base()) == selector


def test_a_dedicated_pool_selects_the_tenant_or_an_unclaimed_binding() -> None:
    """Tenant matching adds tenantName=GA, claiming adds !tenantName; a shared pool ignores tenants."""
    rules = HapRules.parse(DEFAULT_RULES, PLANS)
    pool = rules.pool_for(request())
    assert str(pool.claimed_by("ga-1")).endswith(",tenantName=ga-1")
    assert str(pool.unclaimed()).endswith(",!tenantName")
    shared = rules.pool_for(request("trial"))
    assert "tenantName" not in str(shared.claimed_by("ga-1"))


def test_region_outputs_extend_the_hyperscaler_type() -> None:
    """PR and HR outputs append the request's regions, in that order."""
    rules = HapRules.parse(["aws(PR=cf-eu11, HR=eu-central-1) -> EU, S, PR, HR"], PLANS)
    pool = rules.pool_for(request(pr="cf-eu11"))
    assert (pool.hyperscaler_type, pool.shared, pool.eu_access) == ("aws_cf-eu11_eu-central-1", True, True)


def test_the_most_specific_entry_wins() -> None:
    """An entry with more input attributes outranks a plainer one that also applies."""
    rules = HapRules.parse(
        ["aws -> S", "aws(PR=cf-eu11) -> EU, PR", "aws(PR=cf-eu11, HR=westeu) -> HR"], PLANS
    )
    assert rules.pool_for(request(pr="cf-eu11", hr="westeu")).rule == "aws(PR=cf-eu11, HR=westeu) -> HR"
    assert rules.pool_for(request(pr="cf-eu11")).rule == "aws(PR=cf-eu11) -> EU, PR"
    assert rules.pool_for(request()).rule == "aws -> S"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["aws", "awz"], "hap rule 'awz': unknown plan 'awz'"),
        (["aws", "aws -> S"], "hap rule 'aws -> S' duplicates 'aws'"),
        (["aws(HR=x)", "aws(HR=x) -> EU"], "hap rule 'aws(HR=x) -> EU' duplicates 'aws(HR=x)'"),
        (
            ["aws(PR=cf-eu11)", "aws(HR=westeu)"],
            "hap rule 'aws(HR=westeu)' is ambiguous with 'aws(PR=cf-eu11)'",
        ),
        (["aws(HR=*)", "aws(HR=westeu)"], "hap rule 'aws(HR=westeu)' is ambiguous with 'aws(HR=*)'"),
        (["aws(PR=a, PR=b)"], "input PR given twice"),
        (["aws -> S, S"], "output S given twice"),
        (["aws -> X"], "output 'X' is not one of PR, HR, S, EU"),
        (["aws(ZZ=1)"], "input 'ZZ=1' is not PR=<value> or HR=<value>"),
        (["aws((x"], "expected PLAN(PR=..., HR=...) -> PR, HR, S, EU"),
    ],
)
def test_invalid_rule_sets_fail_with_a_message_naming_the_entry(entries: list[str], message: str) -> None:
    """Unknown plans, duplicates, ambiguity and syntax errors are refused, naming the entry."""
    with pytest.raises(HapRuleError) as raised:
        HapRules.parse(entries, PLANS)
    assert message in raised.value.description


def test_a_plan_without_an_entry_is_refused_when_required() -> None:
    """Every enabled plan needs a rule entry (KEB's startup check)."""
    with pytest.raises(HapRuleError, match="plan 'gcp' has no rule entry"):
        HapRules.parse(["aws"], PLANS, required_plans=["aws", "gcp"])


def test_a_request_no_entry_matches_gets_a_clear_error() -> None:
    """No fallback: a request outside every entry is an error naming its attributes."""
    rules = HapRules.parse(["aws(PR=cf-eu11)"], PLANS)
    with pytest.raises(NoMatchingRuleError, match="plan 'aws', platform region 'cf-eu10'"):
        rules.pool_for(request())


def test_empty_parentheses_are_the_plain_plan() -> None:
    """``aws()`` and ``aws`` are the same entry (KEB's note)."""
    assert parse_rule("aws()", PLANS).inputs == parse_rule("aws", PLANS).inputs == ()


_REGIONS = ("r1", "r2")
_entry = st.builds(
    lambda plan, pr, hr, outs: (
        plan
        + ("(" + ", ".join(x for x in (pr and f"PR={pr}", hr and f"HR={hr}") if x) + ")" if pr or hr else "")
        + (" -> " + ", ".join(outs) if outs else "")
    ),
    st.sampled_from(("aws", "gcp")),
    st.sampled_from(("", *_REGIONS)),
    st.sampled_from(("", "*", *_REGIONS)),
    st.lists(st.sampled_from(("PR", "HR", "S", "EU")), unique=True, max_size=4),
)
_request = st.builds(
    PoolRequest,
    st.sampled_from(("aws", "gcp")),
    st.sampled_from(_REGIONS),
    st.sampled_from(_REGIONS),
    st.just("aws"),
)


@given(st.lists(_entry, max_size=6), st.lists(_request, min_size=1, max_size=5))
def test_every_valid_rule_set_yields_exactly_one_pool_or_a_clear_error(
    entries: list[str], requests: list[PoolRequest]
) -> None:
    """A rule set either fails validation naming an entry, or gives each request one unambiguous pool."""
    try:
        rules = HapRules.parse(entries, PLANS)
    except HapRuleError as error:
        refused = error.description
    else:
        refused = ""
    if refused:
        assert any(repr(entry.strip()) in refused for entry in entries)
        return
    for req in requests:
        matching = [rule for rule in rules.rules if rule.applies_to(req)]
        if not matching:
            with pytest.raises(NoMatchingRuleError):
                rules.pool_for(req)
            continue
        top = max(len(rule.inputs) for rule in matching)
        assert len([rule for rule in matching if len(rule.inputs) == top]) == 1
        pool = rules.pool_for(req)
        assert pool.hyperscaler_type.startswith(req.hyperscaler)
        assert pool.rule in {rule.text for rule in matching}
