"""KCP: Runtime and Kyma custom resources and the runtimes' kubeconfig Secrets (kubernetes-wire §1.5-§1.7),
as plain Kubernetes objects over the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from keb_adapters.kubernetes.client import LazyClient, call, decode_base64
from keb_adapters.kubernetes.resources import KcpResources
from keb_domain.errors import ClusterNotFoundError, ClusterUnavailableError
from keb_domain.model.plans import Provider
from keb_domain.model.volumes import VolumeSizeTable

RUNTIMES = ("infrastructuremanager.kyma-project.io", "v1", "runtimes")
KYMAS = ("operator.kyma-project.io", "v1beta2", "kymas")
KUBECONFIG_NAMESPACE = "kcp-system"  # a constant in KEB too (internal/kubeconfig/provider.go)


class KubernetesControlPlane(KcpResources):
    """KCP over the Kubernetes API; the port's domain values are translated by ``KcpResources``."""

    def __init__(self, client: LazyClient, namespace: str = "kcp-system") -> None:
        self._client = client
        self.namespace = namespace

    async def _get(self, kind: tuple[str, str, str], name: str) -> dict[str, Any] | None:
        c = await self._client.get()
        group, version, plural = kind
        try:
            result: dict[str, Any] = await call(
                f"get {plural}/{name}",
                c.custom.get_namespaced_custom_object(
                    group, version, self.namespace, plural, name, _request_timeout=c.timeout
                ),
            )
        except ClusterNotFoundError:
            return None
        return result

    async def _create(self, kind: tuple[str, str, str], body: Mapping[str, Any]) -> dict[str, Any]:
        c = await self._client.get()
        group, version, plural = kind
        result: dict[str, Any] = await call(
            f"create {plural}/{body['metadata']['name']}",
            c.custom.create_namespaced_custom_object(
                group, version, self.namespace, plural, dict(body), _request_timeout=c.timeout
            ),
        )
        return result

    async def _replace(self, kind: tuple[str, str, str], body: Mapping[str, Any]) -> dict[str, Any]:
        c = await self._client.get()
        group, version, plural = kind
        name = str(body["metadata"]["name"])
        result: dict[str, Any] = await call(
            f"replace {plural}/{name}",
            c.custom.replace_namespaced_custom_object(
                group, version, self.namespace, plural, name, dict(body), _request_timeout=c.timeout
            ),
        )
        return result

    async def _delete(self, kind: tuple[str, str, str], name: str) -> None:
        c = await self._client.get()
        group, version, plural = kind
        try:
            await call(
                f"delete {plural}/{name}",
                c.custom.delete_namespaced_custom_object(
                    group, version, self.namespace, plural, name, _request_timeout=c.timeout
                ),
            )
        except ClusterNotFoundError:
            return

    async def get_runtime(self, name: str) -> dict[str, Any] | None:
        return await self._get(RUNTIMES, name)

    async def create_runtime(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._create(RUNTIMES, body)

    async def replace_runtime(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._replace(RUNTIMES, body)

    async def delete_runtime(self, name: str) -> None:
        await self._delete(RUNTIMES, name)

    async def get_kyma(self, name: str) -> dict[str, Any] | None:
        return await self._get(KYMAS, name)

    async def create_kyma(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._create(KYMAS, body)

    async def replace_kyma(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._replace(KYMAS, body)

    async def delete_kyma(self, name: str) -> None:
        await self._delete(KYMAS, name)

    async def get_runtime_kubeconfig(self, runtime_id: str) -> str:
        """The Secret's ``config`` key, decoded; ClusterNotFoundError without the Secret or the key."""
        c = await self._client.get()
        name = f"kubeconfig-{runtime_id}"
        secret = await call(
            f"get secret {KUBECONFIG_NAMESPACE}/{name}",
            c.core.read_namespaced_secret(name, KUBECONFIG_NAMESPACE, _request_timeout=c.timeout),
        )
        data = secret.data or {}
        if not data.get("config"):
            raise ClusterNotFoundError(f"secret {KUBECONFIG_NAMESPACE}/{name} has no key config")
        return decode_base64(data["config"], f"secret {KUBECONFIG_NAMESPACE}/{name}")


class KubernetesRuntimeConfiguration:
    """A ConfigMap of KEB's in KCP; by default the runtime configuration
    (``APP_RUNTIME_CONFIGURATION_CONFIG_MAP_NAME``)."""

    def __init__(
        self, client: LazyClient, name: str = "keb-runtime-config", namespace: str = "kcp-system"
    ) -> None:
        self._client = client
        self.name = name
        self.namespace = namespace

    async def data(self) -> dict[str, str] | None:
        c = await self._client.get()
        try:
            config_map = await call(
                f"get configmap {self.namespace}/{self.name}",
                c.core.read_namespaced_config_map(self.name, self.namespace, _request_timeout=c.timeout),
            )
        except ClusterNotFoundError:
            return None
        return {str(k): str(v) for k, v in (config_map.data or {}).items()}


SEEDS_DEFAULT_KEY = "default"  # KEB's ConfigMapReader falls back to it for a provider without a key


class KubernetesSeedRegions:
    """KEB's ``gardener-seeds-cache`` ConfigMap: per provider key a YAML document ``seedRegions: [...]``
    (KEB's ``resources/installation/templates/gardener-seeds-cache.yaml``)."""

    def __init__(self, client: LazyClient, name: str = "gardener-seeds-cache") -> None:
        self._config_map = KubernetesRuntimeConfiguration(client, name)

    async def seed_regions(self, provider: Provider) -> tuple[str, ...]:
        data = await self._config_map.data()
        if data is None:
            return ()
        key = provider.value if provider.value in data else SEEDS_DEFAULT_KEY
        if key not in data:
            return ()
        where = f"configmap {self._config_map.namespace}/{self._config_map.name} key {key}"
        try:
            entry = yaml.safe_load(data[key]) or {}
        except yaml.YAMLError as error:
            raise ClusterUnavailableError(f"{where}: invalid YAML: {error}") from None
        regions = entry.get("seedRegions") if isinstance(entry, dict) else None
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise ClusterUnavailableError(f"{where}: expected seedRegions, a list of region names")
        return tuple(regions)


KCR_NODEMETER_KEY = "nodemeterconfig.yaml"


def parse_nodemeter(text: str, where: str) -> VolumeSizeTable:
    """KEB's ``parseNodemeterYAML``: ``meters.node.machine_types.<provider>.<machine>.default_volume_size``
    (``"80Gi"``); provider and machine names lower-cased, an entry without a size counts as 0."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ClusterUnavailableError(f"{where}: invalid YAML: {error}") from None
    node = ((raw.get("meters") or {}).get("node") or {}) if isinstance(raw, dict) else {}
    machine_types = node.get("machine_types") if isinstance(node, dict) else None
    if not isinstance(machine_types, dict):
        raise ClusterUnavailableError(f"{where}: expected meters.node.machine_types, a mapping")
    sizes: dict[str, dict[str, int]] = {}
    for provider, machines in machine_types.items():
        by_machine = sizes.setdefault(str(provider).lower(), {})
        for machine, entry in (machines or {}).items():
            size = str((entry or {}).get("default_volume_size") or "")
            try:
                by_machine[str(machine).lower()] = int(size.removesuffix("Gi")) if size else 0
            except ValueError:
                raise ClusterUnavailableError(
                    f"{where}: invalid default_volume_size {size!r} for machine {provider}/{machine}"
                ) from None
    return VolumeSizeTable(sizes)


class KubernetesMachineVolumeSizes:
    """KEB's consumption reporter ConfigMap (``APP_BROKER_KCR_CONFIG_MAP_NAME``) in ``kcp-system``."""

    def __init__(self, client: LazyClient, name: str = "consumption-reporter-config") -> None:
        self._config_map = KubernetesRuntimeConfiguration(client, name)

    async def volume_sizes(self) -> VolumeSizeTable | None:
        data = await self._config_map.data()
        if data is None:
            return None
        where = f"configmap {self._config_map.namespace}/{self._config_map.name}"
        if KCR_NODEMETER_KEY not in data:
            raise ClusterUnavailableError(f"{where}: no key {KCR_NODEMETER_KEY}")
        return parse_nodemeter(data[KCR_NODEMETER_KEY], where)
