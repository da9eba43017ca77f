"""In-memory Gardener CredentialsBindings with the API server's optimistic concurrency.

A write carries the ``resourceVersion`` it read and fails with ClusterConflictError when the object moved
on, as Gardener's API server answers 409. Shoots are the memory control plane's Runtimes (KIM makes one
Shoot per Runtime), counted until their deletion completes.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_domain.errors import ClusterConflictError, ClusterNotFoundError
from keb_domain.model.hap import CredentialsBindingInfo, LabelSelector


class MemoryCredentialsBindings:
    def __init__(self, control_plane: MemoryControlPlane | None = None) -> None:
        self._kcp = control_plane
        self._objects: dict[str, CredentialsBindingInfo] = {}
        self._versions = itertools.count(1)
        self.writes = 0  # successful relabels, for tests that count claims

    def add(self, name: str, labels: Mapping[str, str]) -> None:
        """Seed a binding (what an operator does when filling a pool)."""
        self._objects[name] = CredentialsBindingInfo(name, dict(labels), str(next(self._versions)))

    def labels(self, name: str) -> dict[str, str]:
        return dict(self._objects[name].labels)

    async def list(self, selector: LabelSelector) -> list[CredentialsBindingInfo]:
        return [b for b in self._objects.values() if selector.matches(b.labels)]

    async def get(self, name: str) -> CredentialsBindingInfo | None:
        return self._objects.get(name)

    async def relabel(self, binding: CredentialsBindingInfo, labels: Mapping[str, str]) -> None:
        current = self._objects.get(binding.name)
        if current is None:
            raise ClusterNotFoundError(f"credentialsbinding {binding.name} not found")
        if current.resource_version != binding.resource_version:
            raise ClusterConflictError(f"credentialsbinding {binding.name} was modified; read it again")
        self._objects[binding.name] = CredentialsBindingInfo(
            binding.name, dict(labels), str(next(self._versions))
        )
        self.writes += 1

    async def shoot_usage(self) -> dict[str, int]:
        usage: dict[str, int] = {}
        if self._kcp is None:
            return usage
        for name in list(self._kcp.runtimes):
            runtime = await self._kcp.get_runtime(name)
            if runtime is None:
                continue
            binding = str(((runtime.get("spec") or {}).get("shoot") or {}).get("secretBindingName", ""))
            usage[binding] = usage.get(binding, 0) + 1
        return usage
