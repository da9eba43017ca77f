"""In-memory control plane with a small KIM simulation.

Behaves like the Kubernetes API for the calls the broker makes (201-style create with AlreadyExists,
resourceVersion conflicts, status ignored on writes, finalizers that delay deletion) and like KIM:
a new Runtime is ``Pending`` until ``ready_after`` seconds have passed on the injected clock, then
``Ready``; its kubeconfig Secret appears at creation; a deleted Runtime lingers ``deletion_delay`` seconds.
Unit tests drive it with a fake clock; the contract tests hold it to the same rules as the real adapter.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from keb_adapters.kubernetes.resources import KcpResources
from keb_domain.errors import (
    ClusterAlreadyExistsError,
    ClusterConflictError,
    ClusterError,
    ClusterInvalidError,
    ClusterNotFoundError,
)
from keb_domain.model.binding import AccessRule, BindingIdentity, ClusterEndpoint
from keb_domain.ports import Clock, IssuedCredentials, RuntimeCluster
from keb_domain.secrets import Secret

KIM_FINALIZER = "runtime-controller.infrastructure-manager.kyma-project.io/deletion-hook"


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class MemoryControlPlane(KcpResources):
    """KCP as a dictionary, with KIM's reactions computed from the clock whenever an object is read."""

    def __init__(
        self,
        clock: Clock,
        *,
        ready_after: float = 0.0,
        deletion_delay: float = 0.0,
        namespace: str = "kcp-system",
        fail_when: Callable[[Mapping[str, Any]], str | None] | None = None,
    ) -> None:
        self._clock = clock
        self.ready_after = ready_after
        self.deletion_delay = deletion_delay
        self.namespace = namespace
        self._fail_when = fail_when
        self.runtimes: dict[str, dict[str, Any]] = {}
        self.kymas: dict[str, dict[str, Any]] = {}
        self.kubeconfigs: dict[str, str] = {}
        self._versions = itertools.count(1)
        self._changed_at: dict[str, datetime] = {}
        self._deleted_at: dict[str, datetime] = {}
        self._failures: dict[str, str] = {}
        self._faults: list[tuple[str, ClusterError]] = []
        self.calls: list[tuple[str, str]] = []

    # --- test hooks -------------------------------------------------------------------------------

    def fail_next(self, method: str, error: ClusterError) -> None:
        """The next call of ``method`` (e.g. ``"create_runtime"``) raises ``error``."""
        self._faults.append((method, error))

    def fail_runtime(self, name: str, message: str) -> None:
        """KIM reports the Runtime ``Failed`` with this message."""
        self._failures[name] = message

    def _enter(self, method: str, name: str) -> None:
        self.calls.append((method, name))
        for index, (faulty, error) in enumerate(self._faults):
            if faulty == method:
                del self._faults[index]
                raise error

    # --- KIM --------------------------------------------------------------------------------------

    def _kim(self, name: str) -> None:
        runtime = self.runtimes.get(name)
        if runtime is None:
            return
        now = self._clock.now()
        if name in self._deleted_at:
            if (now - self._deleted_at[name]).total_seconds() >= self.deletion_delay:
                del self.runtimes[name]
                self.kubeconfigs.pop(name, None)
                del self._deleted_at[name]
            return
        status = runtime.setdefault("status", {})
        message = self._failures.get(name)
        if message is None and self._fail_when is not None:
            message = self._fail_when(runtime)
        if message is not None:
            state = "Failed"
        elif (now - self._changed_at[name]).total_seconds() >= self.ready_after:
            state = "Ready"
        else:
            state = "Pending"
        if status.get("state") != state:
            status["state"] = state
            status["conditions"] = [
                {
                    "type": "Provisioned",
                    "status": "True" if state == "Ready" else "False",
                    "message": message or state,
                }
            ]
            runtime["metadata"]["resourceVersion"] = str(next(self._versions))
        if state in ("Ready", "Failed"):
            # Both are KIM's verdict on the current spec, as the landscape's KIM simulator reports them.
            status["observedGeneration"] = runtime["metadata"]["generation"]
        if state == "Ready":
            status["provisioningCompleted"] = True

    # --- objects ----------------------------------------------------------------------------------

    def _check_namespace(self, body: Mapping[str, Any]) -> None:
        """The API server refuses a body naming another namespace than the request's (400 BadRequest)."""
        namespace = (body.get("metadata") or {}).get("namespace")
        if namespace and namespace != self.namespace:
            raise ClusterError(
                "the namespace of the provided object does not match the namespace sent on the request"
            )

    def _new_metadata(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._check_namespace(body)
        metadata = copy.deepcopy(dict(body.get("metadata") or {}))
        metadata.update(
            uid=str(uuid.uuid4()),
            resourceVersion=str(next(self._versions)),
            creationTimestamp=_timestamp(self._clock.now()),
            generation=1,
        )
        metadata.setdefault("namespace", self.namespace)
        return metadata

    def _replace(self, store: dict[str, dict[str, Any]], body: Mapping[str, Any]) -> dict[str, Any]:
        name = str(body["metadata"]["name"])
        current = store.get(name)
        if current is None:
            raise ClusterNotFoundError(f"{name} not found")
        self._check_namespace(body)
        if str(body["metadata"].get("resourceVersion")) != current["metadata"]["resourceVersion"]:
            raise ClusterConflictError(
                f"Operation cannot be fulfilled on {name}: the object has been modified; "
                "please apply your changes to the latest version and try again"
            )
        replaced = copy.deepcopy(dict(body))
        metadata = dict(current["metadata"])
        metadata["labels"] = dict(body["metadata"].get("labels") or {})
        metadata["annotations"] = dict(body["metadata"].get("annotations") or {})
        metadata["resourceVersion"] = str(next(self._versions))
        if replaced.get("spec") != current.get("spec"):
            metadata["generation"] = int(current["metadata"]["generation"]) + 1
        replaced["metadata"] = metadata
        replaced["status"] = current.get("status", {})  # the status subresource ignores main writes
        store[name] = replaced
        return copy.deepcopy(replaced)

    async def get_runtime(self, name: str) -> dict[str, Any] | None:
        self._enter("get_runtime", name)
        self._kim(name)
        runtime = self.runtimes.get(name)
        return copy.deepcopy(runtime) if runtime is not None else None

    async def create_runtime(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = str(body["metadata"]["name"])
        self._enter("create_runtime", name)
        if name in self.runtimes:
            raise ClusterAlreadyExistsError(f'runtimes "{name}" already exists')
        metadata = self._new_metadata(body)
        metadata["finalizers"] = [KIM_FINALIZER]
        self.runtimes[name] = {
            **copy.deepcopy(dict(body)),
            "metadata": metadata,
            "status": {"state": "Pending"},
        }
        self._changed_at[name] = self._clock.now()
        shoot = body.get("spec", {}).get("shoot", {}).get("name", name)
        self.kubeconfigs[name] = _admin_kubeconfig(str(shoot))
        return copy.deepcopy(self.runtimes[name])

    async def replace_runtime(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = str(body["metadata"]["name"])
        self._enter("replace_runtime", name)
        before = self.runtimes.get(name, {}).get("metadata", {}).get("generation")
        replaced = self._replace(self.runtimes, body)
        if replaced["metadata"]["generation"] != before:
            self._changed_at[name] = self._clock.now()
        return replaced

    async def delete_runtime(self, name: str) -> None:
        self._enter("delete_runtime", name)
        runtime = self.runtimes.get(name)
        if runtime is None or name in self._deleted_at:
            return
        runtime["metadata"]["deletionTimestamp"] = _timestamp(self._clock.now())
        self._deleted_at[name] = self._clock.now()
        self._kim(name)

    async def get_kyma(self, name: str) -> dict[str, Any] | None:
        self._enter("get_kyma", name)
        kyma = self.kymas.get(name)
        return copy.deepcopy(kyma) if kyma is not None else None

    async def create_kyma(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = str(body["metadata"]["name"])
        self._enter("create_kyma", name)
        if name in self.kymas:
            raise ClusterAlreadyExistsError(f'kymas "{name}" already exists')
        self.kymas[name] = {**copy.deepcopy(dict(body)), "metadata": self._new_metadata(body), "status": {}}
        return copy.deepcopy(self.kymas[name])

    async def replace_kyma(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._enter("replace_kyma", str(body["metadata"]["name"]))
        return self._replace(self.kymas, body)

    async def delete_kyma(self, name: str) -> None:
        self._enter("delete_kyma", name)
        self.kymas.pop(name, None)

    async def get_runtime_kubeconfig(self, runtime_id: str) -> str:
        """The Secret's ``config`` key; each call is one read of the Secret (``calls`` counts them)."""
        name = runtime_id.lower()
        self._enter("get_runtime_kubeconfig", name)
        self._kim(name)  # KIM may have finished deleting the runtime, and its Secret with it
        kubeconfig = self.kubeconfigs.get(name)
        if kubeconfig is None:
            raise ClusterNotFoundError(f'secrets "kubeconfig-{runtime_id}" not found')
        return kubeconfig


def _admin_kubeconfig(shoot: str) -> str:
    """A structurally valid admin kubeconfig for a cluster that exists only in memory."""
    server = f"https://api.{shoot}.memory.invalid"
    return (
        "apiVersion: v1\nkind: Config\n"
        f"current-context: {shoot}\n"
        f"clusters:\n- name: {shoot}\n  cluster:\n    server: {server}\n"
        "    certificate-authority-data: bWVtb3J5LWNh\n"
        f"contexts:\n- name: {shoot}\n  context:\n    cluster: {shoot}\n    user: {shoot}-admin\n"
        f"users:\n- name: {shoot}-admin\n  user:\n    token: memory-admin-{uuid.uuid4().hex}\n"
    )


MIN_EXPIRATION = 600
MAX_ADMIN_KUBECONFIG_EXPIRATION = 24 * 3600
#: Gardener's default when ``expirationSeconds`` is 0 or missing (defaults_adminkubeconfigrequest.go).
DEFAULT_ADMIN_KUBECONFIG_EXPIRATION = 3600


def _too_short(kind: str, seconds: int) -> ClusterInvalidError:
    return ClusterInvalidError(
        f"{kind} is invalid: spec.expirationSeconds: Invalid value: {seconds}: "
        "may not specify a duration less than 10 minutes"
    )


def _too_long(kind: str, seconds: int) -> ClusterInvalidError:
    return ClusterInvalidError(
        f"{kind} is invalid: spec.expirationSeconds: Invalid value: {seconds}: "
        "may not specify a duration larger than 2^32 seconds"
    )


class MemoryGardener:
    """Gardener's ``shoots/{name}/adminkubeconfig`` for the shoots of the memory control plane's runtimes."""

    def __init__(self, control_plane: MemoryControlPlane, clock: Clock) -> None:
        self._kcp = control_plane
        self._clock = clock
        self.issued: list[tuple[str, int]] = []

    async def request_admin_kubeconfig(self, shoot: str, expiration_seconds: int) -> IssuedCredentials:
        shoots = {r.get("spec", {}).get("shoot", {}).get("name") for r in self._kcp.runtimes.values()}
        if shoot not in shoots:
            raise ClusterNotFoundError(f'shoots.core.gardener.cloud "{shoot}" not found')
        requested = expiration_seconds or DEFAULT_ADMIN_KUBECONFIG_EXPIRATION
        if requested < MIN_EXPIRATION:
            raise _too_short(f'AdminKubeconfigRequest "{shoot}"', requested)
        if requested > 2**32 - 1:  # validated before Gardener caps it at the maximum expiration
            raise _too_long(f'AdminKubeconfigRequest "{shoot}"', requested)
        seconds = min(requested, MAX_ADMIN_KUBECONFIG_EXPIRATION)
        self.issued.append((shoot, seconds))
        kubeconfig = (
            "apiVersion: v1\nkind: Config\n"
            f"current-context: garden--{shoot}-external\n"
            f"clusters:\n- name: garden--{shoot}-external\n  cluster:\n"
            f"    server: https://api.{shoot}.memory.invalid\n    certificate-authority-data: bWVtb3J5LWNh\n"
            f"contexts:\n- name: garden--{shoot}-external\n  context:\n"
            f"    cluster: garden--{shoot}-external\n    user: garden--{shoot}-external\n"
            f"users:\n- name: garden--{shoot}-external\n  user:\n"
            f"    client-certificate-data: {uuid.uuid4().hex}\n    client-key-data: {uuid.uuid4().hex}\n"
        )
        return IssuedCredentials(Secret(kubeconfig), self._clock.now() + timedelta(seconds=seconds))


@attrs.define
class _RuntimeCluster:
    """What one runtime cluster holds of the broker's binding identities."""

    service_accounts: dict[str, str] = attrs.field(factory=dict)  # name -> uid
    cluster_roles: dict[str, tuple[AccessRule, ...]] = attrs.field(factory=dict)  # name: its rules
    cluster_role_bindings: set[str] = attrs.field(factory=set)
    tokens: dict[str, tuple[str, str, datetime]] = attrs.field(factory=dict)  # token -> (sa, uid, expiry)


class MemoryRuntimeCluster:
    """A connection to one memory runtime cluster."""

    def __init__(self, cluster: _RuntimeCluster, endpoint: ClusterEndpoint, clock: Clock) -> None:
        self._cluster = cluster
        self._endpoint = endpoint
        self._clock = clock

    @property
    def endpoint(self) -> ClusterEndpoint:
        return self._endpoint

    async def ensure_binding_identity(self, identity: BindingIdentity) -> None:
        self._cluster.service_accounts.setdefault(identity.name, str(uuid.uuid4()))
        self._cluster.cluster_roles.setdefault(identity.name, identity.rules)
        self._cluster.cluster_role_bindings.add(identity.name)

    async def request_token(self, name: str, expiration_seconds: int) -> IssuedCredentials:
        uid = self._cluster.service_accounts.get(name)
        if uid is None:
            raise ClusterNotFoundError(f'serviceaccounts "{name}" not found')
        if expiration_seconds < MIN_EXPIRATION:
            raise _too_short(f'TokenRequest.authentication.k8s.io "{name}"', expiration_seconds)
        if expiration_seconds > 2**32:
            raise _too_long(f'TokenRequest.authentication.k8s.io "{name}"', expiration_seconds)
        token = f"memory-token-{uuid.uuid4().hex}"
        expires_at = self._clock.now() + timedelta(seconds=expiration_seconds)
        self._cluster.tokens[token] = (name, uid, expires_at)
        return IssuedCredentials(Secret(token), expires_at)

    async def delete_binding_identity(self, name: str) -> None:
        self._cluster.cluster_role_bindings.discard(name)
        self._cluster.cluster_roles.pop(name, None)
        self._cluster.service_accounts.pop(name, None)


class MemoryRuntimeClusters:
    """The memory control plane's runtime clusters: identities, tokens, and whether a token still works."""

    def __init__(self, control_plane: MemoryControlPlane, clock: Clock) -> None:
        self._kcp = control_plane
        self._clock = clock
        self.clusters: dict[str, _RuntimeCluster] = {}

    @contextlib.asynccontextmanager
    async def connect(self, runtime_id: str) -> AsyncIterator[RuntimeCluster]:
        admin = await self._kcp.admin_kubeconfig(runtime_id)  # ClusterNotFoundError without a runtime
        state = self.clusters.setdefault(runtime_id.lower(), _RuntimeCluster())
        yield MemoryRuntimeCluster(state, admin.endpoint, self._clock)

    def token_works(self, runtime_id: str, token: str) -> bool:
        """As a real API server: a live token of an existing ServiceAccount (same uid) with its binding."""
        cluster = self.clusters.get(runtime_id.lower())
        if cluster is None or token not in cluster.tokens:
            return False
        name, uid, expires_at = cluster.tokens[token]
        return (
            cluster.service_accounts.get(name) == uid
            and name in cluster.cluster_role_bindings
            and expires_at > self._clock.now()
        )
