"""Plans and providers configuration, in KEB's YAML formats.

``plansConfiguration`` maps comma-separated plan names to ``regularMachines``, ``additionalMachines``,
``internalOnlyMachines``, ``volumeSizeGb``, ``regions`` (platform region -> cluster regions, with a
``default`` key), ``upgradableToPlans`` and the ``disableNetworking`` / ``disableColocateControlPlane`` /
``disableGvisor`` switches; ``providersConfiguration`` maps a provider to its machine display names,
``machinesVersions`` (``mi.{size}: m7i.{size}``), regions (display name, zones),
``regionsSupportingMachine``, ``dualStack``, ``zonesDiscovery`` and ``clientConfiguration``. These are the
keys of KEB's ``internal/provider/configuration``. A key outside them is refused, naming it: KEB's YAML
decoder would drop it silently, and an operator would never learn that it did nothing.
The parsing here is pure: the application reads the YAML files and hands the mappings in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from keb_domain.errors import ConfigurationError
from keb_domain.model.plans import PLANS_BY_NAME, Provider

DEFAULT_REGION_KEY = "default"

# Plans KEB once knew and no longer offers: accepted in configuration (so an older KEB operator's files
# load unchanged) and ignored. KEB removed ``own_cluster`` in January 2026 (kyma-environment-broker#2724):
# it adopted a cluster from a user's kubeconfig, which KIM and the Runtime resource cannot express.
KEB_PLANS_NOT_OFFERED = frozenset({"own_cluster"})


@attrs.frozen
class PlanConfig:
    """What one plan offers: machines and the cluster regions per platform region."""

    regular_machines: tuple[str, ...] = ()
    additional_machines: tuple[str, ...] = ()
    regions: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    upgradable_to: tuple[str, ...] = ()
    # Machine type prefixes external accounts (CUSTOMER, PARTNER, TRIAL licences) may not choose.
    internal_only_machines: tuple[str, ...] = ()
    volume_size_gb: int | None = None  # None: the provider's default (80)
    disable_networking: bool = False  # no ``networking`` parameter in the schemas
    # With these a standard plan's schemas lack ``colocateControlPlane`` / ``gvisor`` (pools' too).
    disable_colocate_control_plane: bool = False
    disable_gvisor: bool = False

    def is_internal_only(self, machine: str) -> bool:
        """KEB's ``IsInternalOnlyMachine``: an entry is a prefix of machine types."""
        return any(entry and machine.startswith(entry) for entry in self.internal_only_machines)

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
    # ``machinesVersions``: (input template, output template), the most specific first.
    machines_versions: tuple[tuple[str, str], ...] = ()
    # KEB's Azure API client environment (public, china, usgov). It only steers KEB's calls to Azure
    # (zone discovery); keb makes none, so the value is validated and has nothing to steer.
    client_configuration: str = ""

    def resolve_machine(self, machine: str) -> str:
        """KEB's ``ResolveMachineType``: ``mi.large`` with ``mi.{size}: m7i.{size}`` is ``m7i.large``.

        The schemas offer the names as configured; the Runtime resource gets the resolved type.
        """
        for template, output in self.machines_versions:
            names = _PLACEHOLDER.findall(template)
            match = _template_regex(template).fullmatch(machine)
            if match is None:
                continue
            resolved = _fill(output, dict(zip(names, match.groups(), strict=True)))
            if resolved:
                return resolved
        return machine

    def available_zones(self, machine: str, region: str) -> tuple[str, ...]:
        """Zones ``regionsSupportingMachine`` lists for the machine's family in the region (may be empty)."""
        for family, regions in self.regions_supporting_machine.items():
            if machine.startswith(family):
                return regions.get(region, ())
        return ()

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


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(template: str, values: Mapping[str, str]) -> str:
    """Placeholders replaced by their values; one without a value stays as written (KEB)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _template_regex(template: str) -> re.Pattern[str]:
    """``Standard_D{size}`` -> ``Standard_D([a-zA-Z0-9]+)``: placeholders match letters and digits only,
    so an already versioned type (``Standard_D48s_v5``) never matches an unversioned template."""
    pattern, last = "", 0
    for match in _PLACEHOLDER.finditer(template):
        pattern += re.escape(template[last : match.start()]) + "([a-zA-Z0-9]+)"
        last = match.end()
    return re.compile(pattern + re.escape(template[last:]))


def _template_errors(template: str, reject_adjacent: bool) -> tuple[list[str], list[str]]:
    """Placeholder names of a template and what is wrong with it (KEB's ``ValidateMachinesVersions``)."""
    names: list[str] = []
    errors: list[str] = []
    index, previous_placeholder = 0, False
    while index < len(template):
        char = template[index]
        if char == "{":
            end = template.find("}", index + 1)
            if end == -1:
                errors.append(f"unclosed placeholder at position {index}")
                break
            name = template[index + 1 : end]
            if not name:
                errors.append(f"empty placeholder at position {index}")
            elif not all(c == "_" or c.isalnum() for c in name):
                errors.append(f"invalid placeholder name {name!r}")
            else:
                if name in names:
                    errors.append(f"duplicate placeholder {{{name}}}")
                names.append(name)
            if reject_adjacent and previous_placeholder:
                errors.append("adjacent placeholders are not allowed")
            previous_placeholder = True
            index = end + 1
        elif char == "}":
            errors.append(f"unmatched closing brace at position {index}")
            index += 1
        else:
            previous_placeholder = False
            index += 1
    return names, errors


def _machines_versions(raw: Any, key: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{key}: expected a mapping of input template to output template")
    pairs: list[tuple[str, str]] = []
    for raw_template, raw_output in raw.items():
        template, output = str(raw_template), str(raw_output or "")
        if not template.strip() or not output.strip():
            raise ConfigurationError(f"{key}.{template}: input and output templates must not be empty")
        inputs, errors = _template_errors(template, reject_adjacent=True)
        outputs, output_errors = _template_errors(output, reject_adjacent=False)
        errors += output_errors
        errors += [
            f"output placeholder {{{name}}} is not in the input template"
            for name in outputs
            if name not in inputs
        ]
        if errors:
            raise ConfigurationError(f"{key}.{template}: {'; '.join(errors)}")
        pairs.append((template, output))

    def specificity(pair: tuple[str, str]) -> tuple[int, int, str]:
        # KEB: fewer placeholders first, then more literal characters, then by name.
        template = pair[0]
        return (len(_PLACEHOLDER.findall(template)), -len(_PLACEHOLDER.sub("", template)), template)

    return tuple(sorted(pairs, key=specificity))


PLAN_KEYS = frozenset(
    {
        "regions",
        "regularMachines",
        "additionalMachines",
        "internalOnlyMachines",
        "volumeSizeGb",
        "upgradableToPlans",
        "disableNetworking",
        "disableColocateControlPlane",
        "disableGvisor",
    }
)
PROVIDER_KEYS = frozenset(
    {
        "regions",
        "machines",
        "regionsSupportingMachine",
        "zonesDiscovery",
        "clientConfiguration",
        "dualStack",
        "machinesVersions",
    }
)
REGION_KEYS = frozenset({"displayName", "zones"})
AZURE_CLIENT_CONFIGURATIONS = ("public", "china", "usgov")


def _known_keys(entry: Mapping[str, Any], known: frozenset[str], key: str) -> None:
    unknown = sorted(str(k) for k in entry if k not in known)
    if unknown:
        raise ConfigurationError(
            f"{key}: unknown key(s) {', '.join(unknown)}; KEB's keys are {', '.join(sorted(known))}"
        )


def _flag(entry: Mapping[str, Any], name: str, key: str) -> bool:
    value = entry.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigurationError(f"{key}.{name}: expected true or false")
    return value


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
        _known_keys(entry, PLAN_KEYS, key)
        volume = entry.get("volumeSizeGb")
        if volume is not None and (isinstance(volume, bool) or not isinstance(volume, int) or volume < 0):
            raise ConfigurationError(f"{key}.volumeSizeGb: expected a whole number of gigabytes")
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
            internal_only_machines=_strings(entry.get("internalOnlyMachines"), f"{key}.internalOnlyMachines"),
            volume_size_gb=volume or None,  # KEB: 0 means "the provider's default"
            disable_networking=_flag(entry, "disableNetworking", key),
            disable_colocate_control_plane=_flag(entry, "disableColocateControlPlane", key),
            disable_gvisor=_flag(entry, "disableGvisor", key),
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
            continue  # a provider name KEB does not know either: no plan can use it
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{key}: expected a mapping")
        _known_keys(entry, PROVIDER_KEYS, key)
        if _flag(entry, "zonesDiscovery", key):
            raise ConfigurationError(
                f"{key}.zonesDiscovery: zone discovery asks the cloud provider's API, which keb cannot "
                "reach; set it to false and list each region's zones"
            )
        client = str(entry.get("clientConfiguration") or "")
        if client and (provider is not Provider.AZURE or client not in AZURE_CLIENT_CONFIGURATIONS):
            raise ConfigurationError(
                f"{key}.clientConfiguration: {client!r} is not valid; only azure takes one of "
                f"{', '.join(AZURE_CLIENT_CONFIGURATIONS)}"
            )
        regions: dict[str, RegionInfo] = {}
        for region, raw_info in (entry.get("regions") or {}).items():
            info = raw_info or {}
            if not isinstance(info, Mapping):
                raise ConfigurationError(f"{key}.regions.{region}: expected a mapping")
            _known_keys(info, REGION_KEYS, f"{key}.regions.{region}")
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
            dual_stack=_flag(entry, "dualStack", key),
            machines_versions=_machines_versions(entry.get("machinesVersions"), f"{key}.machinesVersions"),
            client_configuration=client,
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
