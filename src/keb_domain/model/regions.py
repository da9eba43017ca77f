"""RegionPolicy: which plans and cluster regions a BTP platform region offers.

The platform region comes from the request path (``/oauth/{region}/v2/...``) or the configured default.
Rules (keb-reference §2.4):

* a plan's cluster regions are ``regions[platform region]`` or ``regions.default`` of its configuration;
  a plan with no regions or no machines vanishes from that platform region's catalog;
* ``free`` takes the regions of ``aws`` or ``azure``, by the platform provider; it vanishes where the
  platform has neither (KEB shows it there and then fails every provisioning request);
* ``trial`` is always offered; its cluster region comes from the trial mapping;
* the EU Access platform regions (``cf-eu11``, ``cf-ch20``, ``cf-eu01``, ``cf-eu02``) only ever offer
  their one EU cluster region, whatever the configuration says, so a loose configuration cannot move a
  runtime out of the EU.

Platform regions have one canonical form: the ASCII lower-case name (``CF-EU11`` is ``cf-eu11``). A name
with any non-ASCII character (a zero-width space, a Cyrillic look-alike) has no canonical form, and a
canonical name the broker does not serve is refused, so no spelling of ``cf-eu11`` escapes its rules
(decisions.md §3). KEB accepts any string here; we do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from keb_domain.errors import ConfigurationError, PlatformRegionNotServedError
from keb_domain.model.configuration import (
    DEFAULT_REGION_KEY,
    PlanConfig,
    ProviderConfig,
    TrialRegionMapping,
    parse_plans_configuration,
    parse_providers_configuration,
)
from keb_domain.model.plans import Plan, PlanKind, PlatformProvider, Provider


@attrs.frozen
class EuAccessRegion:
    """The one cluster region an EU Access platform region allows."""

    provider: Provider
    cluster_region: str


EU_ACCESS_REGIONS: Mapping[str, EuAccessRegion] = {
    "cf-eu11": EuAccessRegion(Provider.AWS, "eu-central-1"),
    "cf-ch20": EuAccessRegion(Provider.AZURE, "switzerlandnorth"),
    "cf-eu01": EuAccessRegion(Provider.OPENSTACK, "eu-de-2"),
    "cf-eu02": EuAccessRegion(Provider.OPENSTACK, "eu-de-1"),
}

# Trial and free runtimes requested from an EU Access platform region are forced into these.
EU_FORCED_REGION: Mapping[Provider, str] = {
    Provider.AWS: "eu-central-1",
    Provider.AZURE: "switzerlandnorth",
}


# SAP BTP's Cloud Foundry regions, the platform regions served unless APP_BROKER_PLATFORM_REGIONS says
# otherwise. The first digit names the hyperscaler (KEB's rule, PlatformProvider.of_region): 0 SAP
# Converged Cloud, 1 AWS, 2 Azure, 3 GCP, 4 Alibaba Cloud.
BTP_PLATFORM_REGIONS: tuple[str, ...] = (
    *("cf-eu01", "cf-eu02", "cf-us01", "cf-us02", "cf-jp01", "cf-ap01", "cf-br01", "cf-ca01", "cf-ae01"),
    *("cf-eu10", "cf-eu11", "cf-eu13", "cf-us10", "cf-us11", "cf-ap10", "cf-ap11", "cf-ap12"),
    *("cf-jp10", "cf-br10", "cf-ca10"),
    *("cf-eu20", "cf-ch20", "cf-us20", "cf-us21", "cf-ap20", "cf-ap21", "cf-jp20", "cf-br20", "cf-ca20"),
    *("cf-eu30", "cf-us30", "cf-ap30", "cf-jp30", "cf-jp31", "cf-in30", "cf-sa30", "cf-il30"),
    "cf-cn40",
)

MAX_PLATFORM_REGION_LENGTH = 63


def canonical_platform_region(name: str) -> str | None:
    """The one spelling of a platform region name: ASCII lower case; None for anything else.

    Only ASCII letters fold (``str.lower`` on ASCII text), so no Unicode case or compatibility rule can
    turn one name into another; names with other characters than letters, digits and ``-`` have none.
    """
    if not name or len(name) > MAX_PLATFORM_REGION_LENGTH or not name.isascii():
        return None
    folded = name.lower()
    if not all(c.isalnum() or c == "-" for c in folded):
        return None
    return folded


def is_eu_access(platform_region: str) -> bool:
    return canonical_platform_region(platform_region) in EU_ACCESS_REGIONS


def _canonical_names(names: object) -> frozenset[str]:
    if isinstance(names, str) or not isinstance(names, (list, tuple, set, frozenset)):
        raise ConfigurationError("platform regions: expected a list of names")
    result: set[str] = set()
    for name in names:
        canonical = canonical_platform_region(str(name))
        if canonical is None:
            raise ConfigurationError(
                f"platform region {str(name)[:MAX_PLATFORM_REGION_LENGTH]!r}: only ASCII letters, digits "
                "and '-' are allowed"
            )
        result.add(canonical)
    return frozenset(result)


@attrs.frozen
class RegionPolicy:
    """Answers region questions for the catalog, validation and provisioning."""

    plans: Mapping[str, PlanConfig]
    providers: Mapping[Provider, ProviderConfig]
    trial: TrialRegionMapping = attrs.field(factory=TrialRegionMapping)
    default_trial_provider: Provider = Provider.AZURE
    # The platform regions served besides those the plans configuration and the trial mapping name.
    platform_regions: frozenset[str] = attrs.field(
        default=frozenset(BTP_PLATFORM_REGIONS), converter=_canonical_names
    )

    @classmethod
    def from_keb_configuration(
        cls,
        plans: Mapping[str, Any],
        providers: Mapping[str, Any],
        *,
        trial: TrialRegionMapping | None = None,
        default_trial_provider: Provider = Provider.AZURE,
        platform_regions: frozenset[str] | tuple[str, ...] = BTP_PLATFORM_REGIONS,
    ) -> RegionPolicy:
        """A policy from KEB's ``plansConfiguration`` and ``providersConfiguration``, as parsed YAML.

        A key KEB does not define, an unknown plan or a malformed value is a ``ConfigurationError``
        naming it.
        """
        return cls(
            plans=parse_plans_configuration(plans),
            providers=parse_providers_configuration(providers),
            trial=trial if trial is not None else TrialRegionMapping(),
            default_trial_provider=default_trial_provider,
            platform_regions=frozenset(platform_regions),
        )

    @property
    def served_platform_regions(self) -> frozenset[str]:
        """The listed platform regions and those the configuration names in their canonical spelling."""
        return self._canonical_keys() | self.platform_regions

    def _named_platform_regions(self) -> set[str]:
        named = {key for config in self.plans.values() for key in config.regions}
        named.update(self.trial.platform_to_abstract)
        named.discard(DEFAULT_REGION_KEY)
        return named

    def _canonical_keys(self) -> frozenset[str]:
        return frozenset(k for k in self._named_platform_regions() if canonical_platform_region(k) == k)

    def misspelt_platform_regions(self) -> list[str]:
        """Platform regions the configuration names in another spelling than the canonical one.

        No request can reach them (requests are canonical), so a configuration naming one is refused at
        startup rather than silently applying ``default`` to that region.
        """
        return sorted(self._named_platform_regions() - self._canonical_keys())

    def served_platform_region(self, name: str) -> str:
        """The canonical name of a served platform region; PlatformRegionNotServedError for any other.

        ``CF-EU11`` is ``cf-eu11``; ``cf-eu11`` followed by a zero-width space, or a region missing from
        the configuration, is refused, so every route applies the rules of exactly one known region.
        """
        canonical = canonical_platform_region(name)
        if canonical is None or canonical not in self.served_platform_regions:
            limit = MAX_PLATFORM_REGION_LENGTH
            shown = name[:limit] + ("..." if len(name) > limit else "")
            raise PlatformRegionNotServedError(f"platform region {shown!r} is not served by this broker")
        return canonical

    def provider_config(self, provider: Provider) -> ProviderConfig:
        return self.providers.get(provider, ProviderConfig())

    def plan_config(self, plan: Plan, platform_region: str) -> PlanConfig | None:
        """The configuration a plan uses; free borrows that of aws or azure."""
        if plan.kind is PlanKind.FREE:
            provider = self.free_provider(platform_region)
            if provider is None:
                return None
            return self.plans.get(provider.value)
        return self.plans.get(plan.name)

    @staticmethod
    def free_provider(platform_region: str) -> Provider | None:
        """Free runs on the platform's own hyperscaler: AWS or Azure, nothing else."""
        cloud = PlatformProvider.of_region(platform_region).cloud
        return cloud if cloud in (Provider.AWS, Provider.AZURE) else None

    def allowed_regions(self, plan: Plan, platform_region: str) -> tuple[str, ...]:
        """Cluster regions the plan's ``region`` parameter may take under this platform region.

        Empty for trial, whose region is not a parameter of the schema.
        """
        if plan.kind is PlanKind.TRIAL:
            return ()
        config = self.plan_config(plan, platform_region)
        if config is None or not config.regular_machines:
            return ()
        regions = config.regions_for(platform_region)
        # Canonical lookup: instances stored before names were canonical may carry another spelling.
        eu = EU_ACCESS_REGIONS.get(canonical_platform_region(platform_region) or "")
        if eu is not None:
            provider = self.free_provider(platform_region) if plan.is_free else plan.provider
            regions = tuple(r for r in regions if provider is eu.provider and r == eu.cluster_region)
        return regions

    def is_available(self, plan: Plan, platform_region: str) -> bool:
        """Whether the plan appears in the catalog of this platform region and can be provisioned."""
        return plan.kind is PlanKind.TRIAL or bool(self.allowed_regions(plan, platform_region))

    def trial_cluster_region(self, provider: Provider, platform_region: str, requested: str | None) -> str:
        """Cluster region of a trial: EU forcing, then the platform mapping, then the ``region`` parameter."""
        if is_eu_access(platform_region) and provider in EU_FORCED_REGION:
            return EU_FORCED_REGION[provider]
        abstract = self.trial.platform_to_abstract.get(platform_region) or requested
        by_abstract = self.trial.cluster_regions.get(provider, {})
        if abstract is not None and abstract in by_abstract:
            return by_abstract[abstract]
        return self.trial.default_cluster_regions[provider]

    def free_cluster_region(self, provider: Provider, platform_region: str, requested: str) -> str:
        if is_eu_access(platform_region) and provider in EU_FORCED_REGION:
            return EU_FORCED_REGION[provider]
        return requested
