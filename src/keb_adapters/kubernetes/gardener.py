"""Gardener: ``shoots/{name}/adminkubeconfig`` in the project namespace (kubernetes-wire §1.2)."""

from __future__ import annotations

from keb_adapters.kubernetes.client import LazyClient, decode_base64, parse_time
from keb_domain.errors import ClusterError
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
