"""KEB's dynamic volume sizes (``APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED``).

With the switch on, a worker's volume is not the plan's ``volumeSizeGb`` but the default volume size the
consumption reporter's configuration gives its machine type (KEB's ``internal/provider/kcr_volume.go``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from keb_domain.errors import KebError
from keb_domain.model.plans import PLANS_BY_NAME, Provider
from keb_domain.model.regions import RegionPolicy


class VolumeSizeError(KebError):
    """The volume size table has no usable size for a machine type: KEB fails the operation."""


@attrs.frozen
class VolumeSizeTable:
    """GiB by provider (Gardener's name: ``aws``, ``azure``, ``gcp``, ``openstack``) and lower-cased
    machine type (the type sent to Gardener, after ``machinesVersions``)."""

    sizes: Mapping[str, Mapping[str, int]] = attrs.field(factory=dict)

    def size_gb(self, provider: Provider, machine: str) -> int:
        """KEB's ``lookupVolumeSize``: a missing provider, machine type or a zero size is an error."""
        by_machine = self.sizes.get(provider.value)
        if by_machine is None:
            raise VolumeSizeError(f'provider "{provider.value}" not found in KCR ConfigMap')
        size = by_machine.get(machine.lower())
        if size is None:
            raise VolumeSizeError(
                f'machine type "{machine}" not found in KCR ConfigMap for provider "{provider.value}"'
            )
        if size == 0:
            raise VolumeSizeError(
                f'machine type "{machine}" has zero or missing default_volume_size in KCR ConfigMap for '
                f'provider "{provider.value}"'
            )
        return size


def missing_volume_sizes(
    table: VolumeSizeTable, policy: RegionPolicy, enabled_plans: Iterable[str]
) -> list[str]:
    """KEB's start-up check (``ValidateAllMachineTypes`` over ``resolvedMachineTypesForKCR``): every machine
    type the providers configuration names for a provider of an enabled plan, resolved through
    ``machinesVersions``, needs a size. Returns ``provider/machine`` for each that has none, sorted."""
    providers = {
        plan.provider
        for name in enabled_plans
        if (plan := PLANS_BY_NAME.get(name)) is not None and plan.provider is not None
    }
    missing: set[str] = set()
    for provider in providers:
        config = policy.provider_config(provider)
        for machine in config.machines:
            resolved = config.resolve_machine(machine)
            try:
                table.size_gb(provider, resolved)
            except VolumeSizeError:
                missing.add(f"{provider.value}/{resolved}")
    return sorted(missing)
