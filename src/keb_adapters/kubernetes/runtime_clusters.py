"""Runtime (SKR) clusters, reached with the admin kubeconfig KIM keeps in KCP (kubernetes-wire §1.3).

One client per connection, as KEB does per bind: kubeconfigs rotate, and a binding is rare enough. A
connection reads the runtime's kubeconfig Secret once and parses it once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from keb_adapters.kubernetes.client import DEFAULT_TIMEOUT, KubeClient, call, parse_time
from keb_adapters.kubernetes.control_plane import KubernetesControlPlane
from keb_domain.errors import ClusterAlreadyExistsError, ClusterError, ClusterNotFoundError
from keb_domain.model.binding import (
    BINDING_NAMESPACE,
    MANAGED_BY_LABELS,
    BindingIdentity,
    ClusterEndpoint,
)
from keb_domain.ports import IssuedCredentials, RuntimeCluster
from keb_domain.secrets import Secret


class KubernetesRuntimeClusters:
    def __init__(self, control_plane: KubernetesControlPlane, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._kcp = control_plane
        self._timeout = timeout

    @contextlib.asynccontextmanager
    async def connect(self, runtime_id: str) -> AsyncIterator[RuntimeCluster]:
        admin = await self._kcp.admin_kubeconfig(runtime_id)
        client = await KubeClient.from_kubeconfig(admin.document, self._timeout)
        try:
            yield KubernetesRuntimeCluster(client, admin.endpoint)
        finally:
            await client.close()


class KubernetesRuntimeCluster:
    """One runtime's API server over a client built from its admin kubeconfig."""

    def __init__(self, client: KubeClient, endpoint: ClusterEndpoint) -> None:
        self._client = client
        self._endpoint = endpoint

    @property
    def endpoint(self) -> ClusterEndpoint:
        return self._endpoint

    async def ensure_binding_identity(self, identity: BindingIdentity) -> None:
        name, namespace = identity.name, identity.namespace
        metadata = {"name": name, "labels": dict(identity.labels)}
        cluster_role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": metadata,
            "rules": [
                {"apiGroups": list(r.api_groups), "resources": list(r.resources), "verbs": list(r.verbs)}
                for r in identity.rules
            ],
        }
        cluster_role_binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": metadata,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
        c = self._client
        await _each(
            ClusterAlreadyExistsError,  # a retry finds what an earlier attempt created
            (
                f"create serviceaccount {namespace}/{name}",
                lambda: c.core.create_namespaced_service_account(
                    namespace,
                    {"metadata": {**metadata, "namespace": namespace}},
                    _request_timeout=c.timeout,
                ),
            ),
            (
                f"create clusterrole {name}",
                lambda: c.rbac.create_cluster_role(cluster_role, _request_timeout=c.timeout),
            ),
            (
                f"create clusterrolebinding {name}",
                lambda: c.rbac.create_cluster_role_binding(cluster_role_binding, _request_timeout=c.timeout),
            ),
        )

    async def request_token(self, name: str, expiration_seconds: int) -> IssuedCredentials:
        c = self._client
        response = await call(
            f"token for serviceaccount {BINDING_NAMESPACE}/{name}",
            c.core.create_namespaced_service_account_token(
                name,
                BINDING_NAMESPACE,
                {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "metadata": {
                        "name": name,
                        "namespace": BINDING_NAMESPACE,
                        "labels": dict(MANAGED_BY_LABELS),
                    },
                    "spec": {"audiences": [], "expirationSeconds": expiration_seconds},
                },
                _request_timeout=c.timeout,
            ),
        )
        status = c.plain(response).get("status") or {}
        if not status.get("token"):
            raise ClusterError(f"token for serviceaccount {name}: the answer has no token")
        return IssuedCredentials(Secret(str(status["token"])), parse_time(status["expirationTimestamp"]))

    async def delete_binding_identity(self, name: str) -> None:
        c = self._client
        await _each(
            ClusterNotFoundError,  # already gone is what we want
            (
                f"delete clusterrolebinding {name}",
                lambda: c.rbac.delete_cluster_role_binding(name, _request_timeout=c.timeout),
            ),
            (
                f"delete clusterrole {name}",
                lambda: c.rbac.delete_cluster_role(name, _request_timeout=c.timeout),
            ),
            (
                f"delete serviceaccount {BINDING_NAMESPACE}/{name}",
                lambda: c.core.delete_namespaced_service_account(
                    name, BINDING_NAMESPACE, _request_timeout=c.timeout
                ),
            ),
        )


async def _each(tolerated: type[ClusterError], *steps: tuple[str, Callable[[], Awaitable[Any]]]) -> None:
    """Run the calls in order; one failing with ``tolerated`` does not stop the others."""
    for what, request in steps:
        with contextlib.suppress(tolerated):
            await call(what, request())
