"""KCP: Runtime and Kyma custom resources and the runtimes' kubeconfig Secrets (kubernetes-wire §1.5-§1.7),
as plain Kubernetes objects over the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keb_adapters.kubernetes.client import LazyClient, call, decode_base64
from keb_adapters.kubernetes.resources import KcpResources
from keb_domain.errors import ClusterNotFoundError

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
    """KEB's runtime configuration ConfigMap (``APP_RUNTIME_CONFIGURATION_CONFIG_MAP_NAME``) in KCP."""

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
