"""The ConfigMaps KEB reads from KCP besides the runtime configuration, as the local landscape seeds them.

* ``gardener-seeds-cache``: Gardener's seed regions per provider, checked for ``colocateControlPlane``;
  the content of KEB's ``resources/installation/templates/gardener-seeds-cache.yaml``.
* ``consumption-reporter-config``: the default volume size of every machine type, read with
  ``APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED`` (KEB's ``scripts/testing/yaml/kcr-configmap.yaml`` shape); here
  each machine type of the built-in plans and providers configuration, as the Runtime resource names it,
  with its plan's volume size (the provider's default for machines no plan offers).
"""

from __future__ import annotations

from typing import Any

import yaml

from keb_domain import defaults
from keb_domain.model.plans import PLANS_BY_NAME
from keb_domain.model.resources import PROVIDER_DEFAULTS

JsonObject = dict[str, Any]

SEED_REGIONS: dict[str, tuple[str, ...]] = {
    "alicloud": ("eu-central-1",),
    "aws": ("eu-west-1", "eu-central-1", "us-east-1"),
    "azure": ("westeurope", "northeurope", "westus2", "eastus", "eastus2"),
    "gcp": ("europe-west1", "us-central1"),
    "openstack": ("eu-de-1",),
    "gdch": ("us-west16",),
}


def _config_map(name: str, data: dict[str, str]) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "kcp-system"},
        "data": data,
    }


def seeds_cache(name: str) -> JsonObject:
    """KEB's seeds cache: one key per provider holding the YAML document ``seedRegions: [...]``."""
    return _config_map(
        name,
        {key: yaml.safe_dump({"seedRegions": list(regions)}) for key, regions in SEED_REGIONS.items()},
    )


def built_in_volume_sizes() -> dict[str, dict[str, int]]:
    """GiB per provider and resolved machine type for every machine the built-in configuration names."""
    policy = defaults.region_policy()
    plans, providers = policy.plans, policy.providers
    sizes: dict[str, dict[str, int]] = {}
    for provider, fallback in PROVIDER_DEFAULTS.items():  # trial and free runtimes use the small machine
        resolved = (
            providers[provider].resolve_machine(fallback.small_machine) if provider in providers else ""
        )
        sizes.setdefault(provider.value, {})[(resolved or fallback.small_machine).lower()] = (
            fallback.volume_size_gb
        )
    for name, config in plans.items():
        plan = PLANS_BY_NAME.get(name)
        plan_provider = plan.provider if plan is not None else None
        if plan_provider is None or plan_provider not in providers:
            continue
        size = config.volume_size_gb or PROVIDER_DEFAULTS[plan_provider].volume_size_gb
        for machine in config.regular_machines + config.additional_machines:
            resolved = providers[plan_provider].resolve_machine(machine).lower()
            sizes.setdefault(plan_provider.value, {}).setdefault(resolved, size)
    for provider, provider_config in providers.items():  # KEB checks every machine of the providers file
        for machine in provider_config.machines:
            sizes.setdefault(provider.value, {}).setdefault(
                provider_config.resolve_machine(machine).lower(), PROVIDER_DEFAULTS[provider].volume_size_gb
            )
    return sizes


def kcr_volume_sizes(name: str) -> JsonObject:
    """KEB's consumption reporter ConfigMap with ``nodemeterconfig.yaml``."""
    machine_types = {
        provider: {
            machine: {"default_volume_size": f"{size}Gi"} for machine, size in sorted(machines.items())
        }
        for provider, machines in sorted(built_in_volume_sizes().items())
    }
    document = {"meters": {"node": {"machine_types": machine_types}}}
    return _config_map(name, {"nodemeterconfig.yaml": yaml.safe_dump(document, sort_keys=False)})
