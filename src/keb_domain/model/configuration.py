"""Plans and providers configuration, in KEB's YAML formats.

``plansConfiguration`` maps comma-separated plan names to ``regularMachines``, ``additionalMachines``,
``regions`` (platform region -> cluster regions, with a ``default`` key) and ``upgradableToPlans``;
``providersConfiguration`` maps a provider to its machine display names, regions (display name, zones),
``regionsSupportingMachine`` and ``dualStack``. See KEB's ``docs/contributor/03-60-regions-configuration.md``.
The parsing here is pure: the application reads the YAML files and hands the mappings in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from keb_domain.errors import ConfigurationError
from keb_domain.model.plans import PLANS_BY_NAME, Provider

DEFAULT_REGION_KEY = "default"

# Plans KEB knows and this broker does not offer: accepted in configuration (so a KEB operator's files
# load unchanged) and ignored.
KEB_PLANS_NOT_OFFERED = frozenset({"alicloud", "build-runtime-alicloud", "gdch", "own_cluster"})


@attrs.frozen
class PlanConfig:
    """What one plan offers: machines and the cluster regions per platform region."""

    regular_machines: tuple[str, ...] = ()
    additional_machines: tuple[str, ...] = ()
    regions: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    upgradable_to: tuple[str, ...] = ()

    def regions_for(self, platform_region: str) -> tuple[str, ...]:
        """``regions[platform_region]``, else ``regions.default``, else nothing."""
        if platform_region in self.regions:
            return self.regions[platform_region]
        return self.regions.get(DEFAULT_REGION_KEY, ())


@attrs.frozen
class RegionInfo:
    """A cluster region of a provider."""

    display_name: str
    zones: tuple[str, ...]


@attrs.frozen
class ProviderConfig:
    """Provider-wide facts: machine names, regions and where special machines are available."""

    machines: Mapping[str, str] = attrs.field(factory=dict)
    regions: Mapping[str, RegionInfo] = attrs.field(factory=dict)
    # machine family prefix -> region -> zones (empty tuple: every zone of the region)
    regions_supporting_machine: Mapping[str, Mapping[str, tuple[str, ...]]] = attrs.field(factory=dict)
    dual_stack: bool = False

    def machine_display_name(self, machine: str) -> str:
        return self.machines.get(machine, machine)

    def region_display_name(self, region: str) -> str:
        info = self.regions.get(region)
        return info.display_name if info else region

    def zones(self, region: str) -> tuple[str, ...]:
        info = self.regions.get(region)
        return info.zones if info else ()

    def machine_available_in(self, machine: str, region: str) -> bool:
        """A machine whose family is listed in ``regionsSupportingMachine`` exists only in those regions."""
        for family, regions in self.regions_supporting_machine.items():
            if machine.startswith(family):
                return region in regions
        return True


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigurationError(f"{key}: expected a list of strings")
    return tuple(str(item) for item in value)


def parse_plans_configuration(raw: Mapping[str, Any]) -> dict[str, PlanConfig]:
    """Parse KEB's ``plansConfiguration`` (a top-level ``plansConfiguration`` key is accepted too)."""
    body = raw.get("plansConfiguration", raw)
    if not isinstance(body, Mapping):
        raise ConfigurationError("plansConfiguration: expected a mapping")
    result: dict[str, PlanConfig] = {}
    for names, entry in body.items():
        key = f"plansConfiguration.{names}"
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{key}: expected a mapping")
        regions_raw = entry.get("regions") or {}
        if not isinstance(regions_raw, Mapping):
            raise ConfigurationError(f"{key}.regions: expected a mapping")
        config = PlanConfig(
            regular_machines=_strings(entry.get("regularMachines"), f"{key}.regularMachines"),
            additional_machines=_strings(entry.get("additionalMachines"), f"{key}.additionalMachines"),
            regions={
                str(pr): _strings(regions, f"{key}.regions.{pr}") for pr, regions in regions_raw.items()
            },
            upgradable_to=_strings(entry.get("upgradableToPlans"), f"{key}.upgradableToPlans"),
        )
        for name in (n.strip() for n in str(names).split(",")):
            if name in KEB_PLANS_NOT_OFFERED:
                continue
            if name not in PLANS_BY_NAME:
                raise ConfigurationError(f"{key}: unknown plan name {name!r}")
            result[name] = config
    return result


def parse_providers_configuration(raw: Mapping[str, Any]) -> dict[Provider, ProviderConfig]:
    """Parse KEB's ``providersConfiguration`` (``sap-converged-cloud`` is the openstack provider)."""
    body = raw.get("providersConfiguration", raw)
    if not isinstance(body, Mapping):
        raise ConfigurationError("providersConfiguration: expected a mapping")
    result: dict[Provider, ProviderConfig] = {}
    for name, entry in body.items():
        key = f"providersConfiguration.{name}"
        provider = _provider_named(str(name))
        if provider is None:
            continue  # providers without plans here (alicloud, gdch) are accepted and unused
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{key}: expected a mapping")
        regions: dict[str, RegionInfo] = {}
        for region, raw_info in (entry.get("regions") or {}).items():
            info = raw_info or {}
            regions[str(region)] = RegionInfo(
                display_name=str(info.get("displayName", region)),
                zones=_strings(info.get("zones"), f"{key}.regions.{region}.zones"),
            )
        supporting: dict[str, dict[str, tuple[str, ...]]] = {}
        for family, by_region in (entry.get("regionsSupportingMachine") or {}).items():
            supporting[str(family)] = {
                str(region): _strings(zones, f"{key}.regionsSupportingMachine.{family}.{region}")
                for region, zones in (by_region or {}).items()
            }
        result[provider] = ProviderConfig(
            machines={str(k): str(v) for k, v in (entry.get("machines") or {}).items()},
            regions=regions,
            regions_supporting_machine=supporting,
            dual_stack=bool(entry.get("dualStack", False)),
        )
    return result


def _provider_named(name: str) -> Provider | None:
    aliases = {"sap-converged-cloud": Provider.OPENSTACK, "openstack": Provider.OPENSTACK}
    if name in aliases:
        return aliases[name]
    try:
        return Provider(name)
    except ValueError:
        return None


TRIAL_REGIONS = ("europe", "us", "asia")


@attrs.frozen
class TrialRegionMapping:
    """Platform region -> abstract trial region, and abstract region -> cluster region per provider."""

    platform_to_abstract: Mapping[str, str] = attrs.field(
        factory=lambda: {"cf-eu10": "europe", "cf-us10": "us", "cf-ap21": "asia"}
    )
    cluster_regions: Mapping[Provider, Mapping[str, str]] = attrs.field(
        factory=lambda: {
            Provider.AWS: {"europe": "eu-west-1", "us": "us-east-1", "asia": "ap-southeast-1"},
            Provider.AZURE: {"europe": "westeurope", "us": "eastus", "asia": "southeastasia"},
            Provider.GCP: {"europe": "europe-west3", "us": "us-central1", "asia": "asia-south1"},
        }
    )
    default_cluster_regions: Mapping[Provider, str] = attrs.field(
        factory=lambda: {Provider.AWS: "eu-west-1", Provider.AZURE: "eastus", Provider.GCP: "europe-west3"}
    )
