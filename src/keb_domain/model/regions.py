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
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from keb_domain.model.configuration import PlanConfig, ProviderConfig, TrialRegionMapping
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


def is_eu_access(platform_region: str) -> bool:
    return platform_region in EU_ACCESS_REGIONS


@attrs.frozen
class RegionPolicy:
    """Answers region questions for the catalog, validation and provisioning."""

    plans: Mapping[str, PlanConfig]
    providers: Mapping[Provider, ProviderConfig]
    trial: TrialRegionMapping = attrs.field(factory=TrialRegionMapping)
    default_trial_provider: Provider = Provider.AZURE

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
        eu = EU_ACCESS_REGIONS.get(platform_region)
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
