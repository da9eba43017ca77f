"""Runtime (SKR) clusters, reached with the admin kubeconfig KIM keeps in KCP (kubernetes-wire §1.3).

One client per call, as KEB does per bind: kubeconfigs rotate, and a binding is rare enough.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import yaml

from keb_adapters.kubernetes.client import DEFAULT_TIMEOUT, KubeClient, call, parse_time
from keb_domain.errors import ClusterAlreadyExistsError, ClusterError, ClusterNotFoundError
from keb_domain.model.binding import BINDING_NAMESPACE, MANAGED_BY_LABELS, BindingIdentity
from keb_domain.ports import ControlPlane, IssuedCredentials
from keb_domain.secrets import Secret


class KubernetesRuntimeClusters:
    def __init__(self, control_plane: ControlPlane, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._kcp = control_plane
        self._timeout = timeout

    @contextlib.asynccontextmanager
    async def _cluster(self, runtime_id: str) -> AsyncIterator[KubeClient]:
        kubeconfig = await self._kcp.get_runtime_kubeconfig(runtime_id)
        try:
            parsed = yaml.safe_load(kubeconfig)
        except yaml.YAMLError:
            raise ClusterError(f"the kubeconfig of runtime {runtime_id} is not valid YAML") from None
        client = await KubeClient.from_kubeconfig(parsed, self._timeout)
        try:
            yield client
        finally:
            await client.close()

    async def ensure_binding_identity(self, runtime_id: str, identity: BindingIdentity) -> None:
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
        async with self._cluster(runtime_id) as c:
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
                    lambda: c.rbac.create_cluster_role_binding(
                        cluster_role_binding, _request_timeout=c.timeout
                    ),
                ),
            )

    async def request_token(self, runtime_id: str, name: str, expiration_seconds: int) -> IssuedCredentials:
        async with self._cluster(runtime_id) as c:
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

    async def delete_binding_identity(self, runtime_id: str, name: str) -> None:
        async with self._cluster(runtime_id) as c:
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
