"""The Runtime and Kyma resources on the wire (kubernetes-wire §1.5, §1.7), and the ControlPlane port over
plain Kubernetes objects.

The domain decides what a runtime is to be (``DesiredRuntime``, ``DesiredKyma``) and reads what KIM reports
(``RuntimeStatus``); this module is the one place that knows how those look as Kubernetes objects. Both the
Kubernetes adapter and the memory control plane hold Kubernetes objects, so both speak the port through
``KcpResources``.
"""

from __future__ import annotations

import abc
import contextlib
import copy
from collections.abc import Mapping
from typing import Any

from keb_adapters.kubernetes.kubeconfig import AdminKubeconfig, parse_admin_kubeconfig
from keb_domain.errors import ClusterAlreadyExistsError, ClusterNotFoundError
from keb_domain.model.binding import ClusterEndpoint
from keb_domain.model.resources import (
    DesiredKyma,
    DesiredRuntime,
    OidcConfiguration,
    RuntimeStatus,
    Worker,
)

RUNTIME_API_VERSION = "infrastructuremanager.kyma-project.io/v1"
KYMA_API_VERSION = "operator.kyma-project.io/v1beta2"
# KEB's ``workers.ToGardenerCRI``: the container runtime of a worker with gVisor.
GVISOR_CRI: Mapping[str, Any] = {"name": "containerd", "containerRuntimes": [{"type": "gvisor"}]}


def _worker(worker: Worker) -> dict[str, Any]:
    machine: dict[str, Any] = {"type": worker.machine_type}
    if worker.machine_image:
        machine["image"] = {"name": worker.machine_image, "version": worker.machine_image_version}
    volume: dict[str, Any] = {"size": f"{worker.volume_size_gb}Gi"}
    if worker.disk_type:
        volume["type"] = worker.disk_type
    body: dict[str, Any] = {
        "name": worker.name,
        "machine": machine,
        "minimum": worker.minimum,
        "maximum": worker.maximum,
        "maxSurge": len(worker.zones),
        "maxUnavailable": 0,
        "zones": list(worker.zones),
        "volume": volume,
    }
    if worker.gvisor:
        body["cri"] = copy.deepcopy(dict(GVISOR_CRI))
    for key in ("labels", "annotations", "taints"):
        value = getattr(worker, key)
        if value:
            body[key] = copy.deepcopy(value)
    return body


def _oidc(entry: OidcConfiguration) -> dict[str, Any]:
    body: dict[str, Any] = {
        "clientID": entry.client_id,
        "issuerURL": entry.issuer_url,
        "groupsClaim": entry.groups_claim,
        "groupsPrefix": entry.groups_prefix,
        "usernameClaim": entry.username_claim,
        "usernamePrefix": entry.username_prefix,
        "signingAlgs": list(entry.signing_algs),
        "requiredClaims": dict(entry.required_claims),
    }
    if entry.jwks:
        body["jwks"] = entry.jwks
    return body


def runtime_body(desired: DesiredRuntime) -> dict[str, Any]:
    """The Runtime CR (``infrastructuremanager.kyma-project.io/v1``) that asks KIM for the cluster."""
    networking: dict[str, Any] = {
        "type": "calico",
        "nodes": desired.networking.nodes,
        "pods": desired.networking.pods,
        "services": desired.networking.services,
    }
    if desired.networking.dual_stack:
        networking["dualStack"] = True
    provider: dict[str, Any] = {
        "type": desired.provider_type,
        "workers": [_worker(w) for w in desired.workers],
    }
    if desired.additional_workers:
        provider["additionalWorkers"] = [_worker(w) for w in desired.additional_workers]
    shoot: dict[str, Any] = {
        "name": desired.shoot_name,
        "purpose": desired.purpose,
        "platformRegion": desired.platform_region,
        "region": desired.region,
        "secretBindingName": desired.credentials_binding,
        "enforceSeedLocation": desired.colocate_control_plane,
        "networking": networking,
        "kubernetes": {
            "version": desired.kubernetes_version,
            "kubeAPIServer": {"additionalOidcConfig": [_oidc(entry) for entry in desired.oidc]},
        },
        "provider": provider,
    }
    # KEB's createKubernetesConfiguration: an ACL whenever the parameter was given, even with no CIDR; KEB's
    # ``allowedCIDRs`` is ``omitempty``.
    if desired.allowed_cidrs is not None:
        acl = {"allowedCIDRs": list(desired.allowed_cidrs)} if desired.allowed_cidrs else {}
        shoot["kubernetes"]["kubeAPIServer"]["acl"] = acl
    if desired.control_plane_failure_tolerance:
        shoot["controlPlane"] = {
            "highAvailability": {"failureTolerance": {"type": desired.control_plane_failure_tolerance}}
        }
    body: dict[str, Any] = {
        "apiVersion": RUNTIME_API_VERSION,
        "kind": "Runtime",
        "metadata": {"name": desired.name, "namespace": desired.namespace, "labels": dict(desired.labels)},
        "spec": {
            "shoot": shoot,
            "security": {
                "administrators": list(desired.administrators),
                "networking": {
                    "filter": {
                        "egress": {"enabled": desired.egress_filter},
                        "ingress": {"enabled": desired.ingress_filter},
                    }
                },
            },
        },
    }
    if desired.audit_log_access:
        body["spec"]["auditLogAccessEnabled"] = True
    return body


def updated_runtime_body(current: Mapping[str, Any], desired: DesiredRuntime) -> dict[str, Any]:
    """The existing Runtime CR with the fields an update may change rewritten (``DesiredRuntime`` says
    which).

    Everything else (network, region, server-owned metadata such as ``resourceVersion``) is kept, so the
    PUT is a faithful optimistic-concurrency write (KEB's ``update_runtime_step.go``).
    """
    wanted = runtime_body(desired)
    updated = copy.deepcopy(dict(current))
    shoot = updated.setdefault("spec", {}).setdefault("shoot", {})
    wanted_shoot = wanted["spec"]["shoot"]
    provider = shoot.setdefault("provider", {})
    provider["workers"] = wanted_shoot["provider"]["workers"]
    if "additionalWorkers" in wanted_shoot["provider"]:
        provider["additionalWorkers"] = wanted_shoot["provider"]["additionalWorkers"]
    else:
        provider.pop("additionalWorkers", None)
    api_server = shoot.setdefault("kubernetes", {}).setdefault("kubeAPIServer", {})
    api_server["additionalOidcConfig"] = wanted_shoot["kubernetes"]["kubeAPIServer"]["additionalOidcConfig"]
    # KEB's updateACL: the CIDRs given replace the ACL; an empty list removes it.
    if desired.allowed_cidrs:
        api_server["acl"] = {"allowedCIDRs": list(desired.allowed_cidrs)}
    elif desired.allowed_cidrs is not None:
        api_server.pop("acl", None)
    updated["spec"]["security"] = wanted["spec"]["security"]
    if desired.audit_log_access:
        updated["spec"]["auditLogAccessEnabled"] = True  # never switched off again
    updated.setdefault("metadata", {}).setdefault("labels", {}).update(desired.labels)
    return updated


def kyma_body(desired: DesiredKyma) -> dict[str, Any]:
    """The Kyma CR: the template, named, labelled and annotated, with the module choice."""
    kyma = copy.deepcopy(dict(desired.template))
    metadata = kyma.setdefault("metadata", {})
    metadata["name"] = desired.name
    metadata["namespace"] = desired.namespace
    metadata.setdefault("labels", {}).update(desired.labels)
    metadata.setdefault("annotations", {}).update(desired.annotations)
    spec = kyma.setdefault("spec", {})
    if desired.channel is not None:
        spec["channel"] = desired.channel
    if desired.modules is not None:
        spec["modules"] = [dict(module) for module in desired.modules]
    return kyma


def runtime_status(runtime: Mapping[str, Any]) -> RuntimeStatus:
    """``status.state``, the message of the newest condition, whether KIM has seen the current spec, and
    whether the Runtime is being deleted.

    KIM has seen the spec when ``status.observedGeneration`` (else the newest condition's, as in
    metav1.Condition) reaches ``metadata.generation``; where KIM reports neither, its state is taken as
    current, as KEB does.
    """
    status = runtime.get("status") or {}
    metadata = runtime.get("metadata") or {}
    conditions = status.get("conditions") or []
    message = str(conditions[-1].get("message", "")) if conditions else ""
    observed = status.get("observedGeneration")
    if observed is None:
        generations = [c for c in conditions if c.get("observedGeneration") is not None]
        observed = generations[-1]["observedGeneration"] if generations else None
    generation = metadata.get("generation")
    return RuntimeStatus(
        state=str(status.get("state", "")),
        message=message,
        observed=observed is None or generation is None or int(observed) >= int(generation),
        being_deleted=bool(metadata.get("deletionTimestamp")),
    )


def runtime_oidc(runtime: Mapping[str, Any]) -> tuple[OidcConfiguration, ...]:
    """The OIDC issuers of ``spec.shoot.kubernetes.kubeAPIServer.additionalOidcConfig``."""
    shoot = (runtime.get("spec") or {}).get("shoot") or {}
    server = (shoot.get("kubernetes") or {}).get("kubeAPIServer") or {}
    return tuple(
        OidcConfiguration.from_fields(
            entry,
            required_claims={str(k): str(v) for k, v in (entry.get("requiredClaims") or {}).items()},
            jwks=str(entry.get("jwks") or ""),
        )
        for entry in server.get("additionalOidcConfig") or []
        if isinstance(entry, Mapping)
    )


def _relabelled(existing: Mapping[str, Any], labels: Mapping[str, Any]) -> dict[str, Any]:
    return {**existing, "metadata": {**(existing.get("metadata") or {}), "labels": dict(labels)}}


class KcpResources(abc.ABC):
    """The ControlPlane port over Kubernetes objects: a subclass gives the object calls (the API or a
    stand-in for it), this class translates the domain's values to and from them."""

    @abc.abstractmethod
    async def get_runtime(self, name: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def create_runtime(self, body: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def replace_runtime(self, body: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def delete_runtime(self, name: str) -> None: ...

    @abc.abstractmethod
    async def get_kyma(self, name: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    async def create_kyma(self, body: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def replace_kyma(self, body: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def delete_kyma(self, name: str) -> None: ...

    @abc.abstractmethod
    async def get_runtime_kubeconfig(self, runtime_id: str) -> str:
        """The decoded ``config`` key of Secret ``kubeconfig-{runtime_id}``, one read per call."""

    async def runtime_status(self, name: str) -> RuntimeStatus | None:
        runtime = await self.get_runtime(name)
        return None if runtime is None else runtime_status(runtime)

    async def runtime_oidc(self, name: str) -> tuple[OidcConfiguration, ...] | None:
        runtime = await self.get_runtime(name)
        return None if runtime is None else runtime_oidc(runtime)

    async def runtime_document(self, name: str) -> dict[str, Any] | None:
        runtime = await self.get_runtime(name)
        if runtime is None:
            return None
        metadata = runtime.get("metadata")
        if isinstance(metadata, dict):
            runtime = {**runtime, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
        return runtime

    async def add_runtime(self, desired: DesiredRuntime) -> None:
        # KEB's create step: GET first, and a create that reached the server before is no error.
        if await self.get_runtime(desired.name) is None:
            with contextlib.suppress(ClusterAlreadyExistsError):
                await self.create_runtime(runtime_body(desired))

    async def update_runtime(self, desired: DesiredRuntime) -> None:
        current = await self.get_runtime(desired.name)
        if current is None:
            raise ClusterNotFoundError(f"Runtime resource {desired.name} does not exist")
        await self.replace_runtime(updated_runtime_body(current, desired))

    async def apply_kyma(self, desired: DesiredKyma) -> None:
        wanted = kyma_body(desired)
        existing = await self.get_kyma(desired.name)
        if existing is None:
            await self.create_kyma(wanted)
        else:
            await self.replace_kyma(_relabelled(existing, wanted["metadata"]["labels"]))

    async def relabel_kyma(self, desired: DesiredKyma) -> None:
        existing = await self.get_kyma(desired.name)
        if existing is None:
            return
        labels = kyma_body(desired)["metadata"]["labels"]
        if (existing.get("metadata") or {}).get("labels") != labels:
            await self.replace_kyma(_relabelled(existing, labels))

    async def runtime_endpoint(self, runtime_id: str) -> ClusterEndpoint:
        return (await self.admin_kubeconfig(runtime_id)).endpoint

    async def admin_kubeconfig(self, runtime_id: str) -> AdminKubeconfig:
        """The runtime's admin kubeconfig, read once and parsed once (for the runtime clusters)."""
        return parse_admin_kubeconfig(await self.get_runtime_kubeconfig(runtime_id))
