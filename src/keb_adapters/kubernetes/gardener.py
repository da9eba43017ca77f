"""Gardener: ``shoots/{name}/adminkubeconfig`` in the project namespace (kubernetes-wire §1.2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keb_adapters.kubernetes.client import LazyClient, call, decode_base64, parse_time
from keb_domain.errors import ClusterError, ClusterNotFoundError
from keb_domain.model.hap import CredentialsBindingInfo, LabelSelector
from keb_domain.ports import IssuedCredentials
from keb_domain.secrets import Secret


class KubernetesGardener:
    def __init__(self, client: LazyClient, project: str) -> None:
        self._client = client
        self.namespace = f"garden-{project}"

    async def request_admin_kubeconfig(self, shoot: str, expiration_seconds: int) -> IssuedCredentials:
        c = await self._client.get()
        path = f"/apis/core.gardener.cloud/v1beta1/namespaces/{self.namespace}/shoots/{shoot}/adminkubeconfig"
        response = await c.post_subresource(
            path,
            {
                "apiVersion": "authentication.gardener.cloud/v1alpha1",
                "kind": "AdminKubeconfigRequest",
                "spec": {"expirationSeconds": expiration_seconds},
            },
            f"adminkubeconfig of shoot {self.namespace}/{shoot}",
        )
        status = response.get("status") or {}
        if not status.get("kubeconfig") or not status.get("expirationTimestamp"):
            raise ClusterError(f"adminkubeconfig of shoot {shoot}: the answer has no kubeconfig")
        kubeconfig = decode_base64(str(status["kubeconfig"]), f"adminkubeconfig of shoot {shoot}")
        return IssuedCredentials(Secret(kubeconfig), parse_time(status["expirationTimestamp"]))


CREDENTIALS_BINDINGS = ("security.gardener.cloud", "v1alpha1", "credentialsbindings")
SHOOTS = ("core.gardener.cloud", "v1beta1", "shoots")


def _info(obj: Mapping[str, Any]) -> CredentialsBindingInfo:
    metadata = obj.get("metadata") or {}
    return CredentialsBindingInfo(
        str(metadata.get("name", "")),
        {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
        str(metadata.get("resourceVersion", "")),
    )


class KubernetesCredentialsBindings:
    """CredentialsBindings and Shoots of ``garden-{project}`` (kubernetes-wire §3)."""

    def __init__(self, client: LazyClient, project: str) -> None:
        self._client = client
        self.namespace = f"garden-{project}"

    async def list(self, selector: LabelSelector) -> list[CredentialsBindingInfo]:
        c = await self._client.get()
        group, version, plural = CREDENTIALS_BINDINGS
        result: dict[str, Any] = await call(
            f"list credentialsbindings {selector}",
            c.custom.list_namespaced_custom_object(
                group,
                version,
                self.namespace,
                plural,
                label_selector=str(selector),
                _request_timeout=c.timeout,
            ),
        )
        return [_info(item) for item in result.get("items") or []]

    async def get(self, name: str) -> CredentialsBindingInfo | None:
        c = await self._client.get()
        group, version, plural = CREDENTIALS_BINDINGS
        try:
            result: dict[str, Any] = await call(
                f"get credentialsbinding {name}",
                c.custom.get_namespaced_custom_object(
                    group, version, self.namespace, plural, name, _request_timeout=c.timeout
                ),
            )
        except ClusterNotFoundError:
            return None
        return _info(result)

    async def relabel(self, binding: CredentialsBindingInfo, labels: Mapping[str, str]) -> None:
        c = await self._client.get()
        group, version, plural = CREDENTIALS_BINDINGS
        current: dict[str, Any] = await call(
            f"get credentialsbinding {binding.name}",
            c.custom.get_namespaced_custom_object(
                group, version, self.namespace, plural, binding.name, _request_timeout=c.timeout
            ),
        )
        # The PUT carries the resourceVersion the caller decided on, so a change in between is a 409.
        metadata = {**current.get("metadata", {}), "labels": dict(labels)}
        metadata["resourceVersion"] = binding.resource_version
        await call(
            f"update credentialsbinding {binding.name}",
            c.custom.replace_namespaced_custom_object(
                group,
                version,
                self.namespace,
                plural,
                binding.name,
                {**current, "metadata": metadata},
                _request_timeout=c.timeout,
            ),
        )

    async def shoot_usage(self) -> dict[str, int]:
        c = await self._client.get()
        group, version, plural = SHOOTS
        result: dict[str, Any] = await call(
            "list shoots",
            c.custom.list_namespaced_custom_object(
                group, version, self.namespace, plural, _request_timeout=c.timeout
            ),
        )
        usage: dict[str, int] = {}
        for shoot in result.get("items") or []:
            spec = shoot.get("spec") or {}
            name = str(spec.get("credentialsBindingName") or spec.get("secretBindingName") or "")
            if name:
                usage[name] = usage.get(name, 0) + 1
        return usage
