"""Hyperscaler account pools (HAP): which pool of Gardener CredentialsBindings a runtime's account comes from.

The rule language is KEB's (``docs/contributor/03-11-hap-rules.md``, the chart's ``hap.rule``)::

    PLAN(PR=<platform region>, HR=<hyperscaler region>) -> PR, HR, S, EU

Input attributes (in parentheses) decide whether an entry applies to a request; ``HR=*`` matches any
hyperscaler region. Output attributes shape the pool: ``PR``/``HR`` append the regions to the
``hyperscalerType`` label value, ``S`` selects shared bindings, ``EU`` EU Access ones. Of the entries that
apply, the one with the most input attributes wins; entries that could apply to the same request with the
same number of attributes are ambiguous and refused at start, as are duplicates and unknown plans.

Everything here is pure: parsing, validation, evaluation and the label selectors a pool yields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from keb_domain.errors import KebError

HYPERSCALER_TYPE = "hyperscalerType"
TENANT_NAME = "tenantName"
DIRTY = "dirty"
INTERNAL = "internal"
SHARED = "shared"
EU_ACCESS = "euAccess"

#: KEB's chart default (``resources/keb/values.yaml``, ``hap.rule``) and rules for the plans it leaves out.
DEFAULT_RULES: tuple[str, ...] = (
    "aws",
    "aws(PR=cf-eu11) -> EU",
    "azure",
    "azure(PR=cf-ch20) -> EU",
    "gcp",
    "gcp(PR=cf-sa30) -> PR",
    "trial -> S",
    "sap-converged-cloud(HR=*) -> S",
    "azure_lite",
    "preview",
    "free",
    "build-runtime-aws",
    "build-runtime-aws(PR=cf-eu11) -> EU",
    "build-runtime-azure",
    "build-runtime-azure(PR=cf-ch20) -> EU",
    "build-runtime-gcp",
    "build-runtime-gcp(PR=cf-sa30) -> PR",
    # Not in the chart's default: the entries of KEB's test rules (cmd/broker/testdata/hap-rules.yaml).
    "alicloud",
    "build-runtime-alicloud",
    "gdch",
)


class HapRuleError(KebError):
    """The ``hap.rule`` configuration is malformed or inconsistent; the message names the entry."""


class NoMatchingRuleError(KebError):
    """No rule entry applies to a provisioning request (KEB has no fallback either)."""


_ENTRY = re.compile(
    r"^\s*(?P<plan>[A-Za-z0-9_-]+)\s*(?:\((?P<inputs>[^()]*)\))?\s*(?:->\s*(?P<outputs>.*))?$"
)
_INPUT = re.compile(r"^\s*(?P<key>PR|HR)\s*=\s*(?P<value>[A-Za-z0-9_*-]+)\s*$")
_OUTPUTS = ("PR", "HR", "S", "EU")


@attrs.frozen
class PoolRequest:
    """What a provisioning says about itself that rules can match on."""

    plan: str
    platform_region: str
    hyperscaler_region: str
    hyperscaler: str  # Gardener's provider type: aws, azure, gcp, openstack


@attrs.frozen
class Requirement:
    """One label selector requirement: ``key=value``, ``key!=value`` or ``!key``."""

    key: str
    op: str  # "=", "!=", "!"
    value: str = ""

    def __str__(self) -> str:
        if self.op == "!":
            return f"!{self.key}"
        return f"{self.key}{self.op}{self.value}"

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "=":
            return labels.get(self.key) == self.value
        if self.op == "!=":
            return labels.get(self.key) != self.value
        return self.key not in labels


@attrs.frozen
class LabelSelector:
    """A conjunction of requirements, rendered as Kubernetes' ``labelSelector`` query parameter."""

    requirements: tuple[Requirement, ...]

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def with_(self, *more: Requirement) -> LabelSelector:
        return LabelSelector(self.requirements + more)


@attrs.frozen
class Pool:
    """The pool a request gets: the labels its CredentialsBindings carry."""

    hyperscaler_type: str
    shared: bool
    eu_access: bool
    rule: str  # the entry that chose it, for messages

    def base(self) -> LabelSelector:
        """KEB's ``NewLabelSelectorFromRuleset``: shared pools need no ``dirty``/``shared`` exclusions."""
        reqs = [
            Requirement(HYPERSCALER_TYPE, "=", self.hyperscaler_type),
            Requirement(EU_ACCESS, "=", "true") if self.eu_access else Requirement(EU_ACCESS, "!"),
        ]
        if self.shared:
            reqs.append(Requirement(SHARED, "=", "true"))
        else:
            reqs += [Requirement(SHARED, "!=", "true"), Requirement(DIRTY, "!")]
        return LabelSelector(tuple(reqs))

    def claimed_by(self, tenant: str) -> LabelSelector:
        """Bindings this global account already holds in the pool (every binding, for a shared pool)."""
        if self.shared:
            return self.base()
        return self.base().with_(Requirement(TENANT_NAME, "=", tenant))

    def unclaimed(self) -> LabelSelector:
        """Bindings no tenant holds yet."""
        return self.base().with_(Requirement(TENANT_NAME, "!"))


@attrs.frozen
class HapRule:
    """One parsed rule entry."""

    text: str
    plan: str
    platform_region: str | None = None
    hyperscaler_region: str | None = None
    outputs: frozenset[str] = frozenset()

    @property
    def inputs(self) -> tuple[tuple[str, str], ...]:
        pairs = (("PR", self.platform_region), ("HR", self.hyperscaler_region))
        return tuple((k, v) for k, v in pairs if v is not None)

    def applies_to(self, request: PoolRequest) -> bool:
        if self.plan != request.plan:
            return False
        if self.platform_region is not None and self.platform_region != request.platform_region:
            return False
        return self.hyperscaler_region in (None, "*", request.hyperscaler_region)

    def could_overlap(self, other: HapRule) -> bool:
        """Whether one request could match both entries (same plan, no input value in conflict)."""
        if self.plan != other.plan:
            return False
        both_regions = None not in (self.platform_region, other.platform_region)
        if both_regions and self.platform_region != other.platform_region:
            return False
        mine, theirs = self.hyperscaler_region, other.hyperscaler_region
        return mine in (None, "*") or theirs in (None, "*") or mine == theirs

    def pool(self, request: PoolRequest) -> Pool:
        kind = request.hyperscaler
        if "PR" in self.outputs:
            kind += f"_{request.platform_region}"
        if "HR" in self.outputs:
            kind += f"_{request.hyperscaler_region}"
        return Pool(kind, shared="S" in self.outputs, eu_access="EU" in self.outputs, rule=self.text)


def parse_rule(text: str, plans: Iterable[str]) -> HapRule:
    """One entry; HapRuleError names it and says what is wrong."""
    match = _ENTRY.match(text)
    if match is None:
        raise HapRuleError(f"hap rule {text!r}: expected PLAN(PR=..., HR=...) -> PR, HR, S, EU")
    plan = match["plan"]
    known = set(plans)
    if plan not in known:
        raise HapRuleError(f"hap rule {text!r}: unknown plan {plan!r} (known: {', '.join(sorted(known))})")
    values: dict[str, str] = {}
    for part in (match["inputs"] or "").split(","):
        if not part.strip():
            continue
        found = _INPUT.match(part)
        if found is None:
            raise HapRuleError(f"hap rule {text!r}: input {part.strip()!r} is not PR=<value> or HR=<value>")
        if found["key"] in values:
            raise HapRuleError(f"hap rule {text!r}: input {found['key']} given twice")
        if found["key"] == "PR" and found["value"] == "*":
            raise HapRuleError(f"hap rule {text!r}: PR needs a platform region, not *")
        values[found["key"]] = found["value"]
    outputs: set[str] = set()
    if match["outputs"] is not None:
        for part in match["outputs"].split(","):
            name = part.strip()
            if name not in _OUTPUTS:
                raise HapRuleError(f"hap rule {text!r}: output {name!r} is not one of PR, HR, S, EU")
            if name in outputs:
                raise HapRuleError(f"hap rule {text!r}: output {name} given twice")
            outputs.add(name)
    return HapRule(text.strip(), plan, values.get("PR"), values.get("HR"), frozenset(outputs))


@attrs.frozen
class HapRules:
    """A validated rule set: for every request at most one entry applies with the highest priority."""

    rules: tuple[HapRule, ...]

    @classmethod
    def parse(
        cls, entries: Sequence[str], plans: Iterable[str], required_plans: Iterable[str] = ()
    ) -> HapRules:
        """Parse and validate; HapRuleError names the offending entry (or the plan without any)."""
        known = tuple(plans)
        rules = tuple(parse_rule(entry, known) for entry in entries)
        for i, rule in enumerate(rules):
            for earlier in rules[:i]:
                if (rule.plan, rule.inputs) == (earlier.plan, earlier.inputs):
                    raise HapRuleError(
                        f"hap rule {rule.text!r} duplicates {earlier.text!r} (outputs do not make it unique)"
                    )
                if len(rule.inputs) == len(earlier.inputs) and rule.could_overlap(earlier):
                    raise HapRuleError(
                        f"hap rule {rule.text!r} is ambiguous with {earlier.text!r}: "
                        "a request can match both with the same number of attributes"
                    )
        covered = {rule.plan for rule in rules}
        for plan in required_plans:
            if plan not in covered:
                raise HapRuleError(f"hap rules: plan {plan!r} has no rule entry")
        return cls(rules)

    def pool_for(self, request: PoolRequest) -> Pool:
        """The pool of the most specific entry that applies; NoMatchingRuleError when none does."""
        matching = [rule for rule in self.rules if rule.applies_to(request)]
        if not matching:
            raise NoMatchingRuleError(
                f"no hyperscaler account pool rule matches plan {request.plan!r}, platform region "
                f"{request.platform_region!r}, hyperscaler region {request.hyperscaler_region!r}"
            )
        best = max(matching, key=lambda rule: len(rule.inputs))
        return best.pool(request)


@attrs.frozen
class CredentialsBindingInfo:
    """What the broker needs to know about one CredentialsBinding in the Gardener project."""

    name: str
    labels: Mapping[str, str]
    resource_version: str = ""

    @property
    def releasable(self) -> bool:
        """KEB never releases shared or internal bindings, nor one that is already dirty."""
        return not any(self.labels.get(key) == "true" for key in (SHARED, INTERNAL, DIRTY))


def least_used(candidates: Sequence[CredentialsBindingInfo], usage: Mapping[str, int]) -> str:
    """A shared pool spreads runtimes: the binding with the fewest Shoots (ties: by name)."""
    return min(candidates, key=lambda b: (usage.get(b.name, 0), b.name)).name


def first_by_name(candidates: Sequence[CredentialsBindingInfo]) -> CredentialsBindingInfo:
    """Every replica picks the same binding from the same list, so racing claims collide on one object."""
    return min(candidates, key=lambda b: b.name)
