"""The seeds cache and the volume size table in memory: tests set them (None: the ConfigMap is absent)."""

from __future__ import annotations

from collections.abc import Mapping

from keb_domain.model.plans import Provider
from keb_domain.model.volumes import VolumeSizeTable


class MemorySeedRegions:
    def __init__(self, regions: Mapping[Provider, tuple[str, ...]] | None = None) -> None:
        self.regions: dict[Provider, tuple[str, ...]] = dict(regions or {})

    async def seed_regions(self, provider: Provider) -> tuple[str, ...]:
        return self.regions.get(provider, ())


class MemoryMachineVolumeSizes:
    def __init__(self, table: VolumeSizeTable | None = None) -> None:
        self.table = table

    async def volume_sizes(self) -> VolumeSizeTable | None:
        return self.table
