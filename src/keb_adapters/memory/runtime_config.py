"""The runtime configuration ConfigMap in memory: tests set ``data`` (None: the ConfigMap is absent)."""

from __future__ import annotations


class MemoryRuntimeConfiguration:
    def __init__(self, data: dict[str, str] | None = None) -> None:
        self.config_map: dict[str, str] | None = data

    async def data(self) -> dict[str, str] | None:
        return dict(self.config_map) if self.config_map is not None else None
