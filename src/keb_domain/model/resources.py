"""Bodies of the custom resources the broker writes to KCP, as pure functions.

* ``Runtime`` (``infrastructuremanager.kyma-project.io/v1``): KIM turns it into a Gardener Shoot
  (kubernetes-wire §1.5; KEB's ``create_runtime_resource_step.go``).
* ``Kyma`` (``operator.kyma-project.io/v1beta2``): lifecycle-manager installs the modules (§1.7).

Both are named after the lower-cased runtime id and carry KEB's ``kyma-project.io/*`` labels.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from keb_domain.model.instance import Instance, is_external_licence
from keb_domain.model.plans import Plan, PlanKind, Provider
from keb_domain.model.regions import RegionPolicy
from keb_domain.model.schemas import DEFAULT_NODES_CIDR, DEFAULT_PODS_CIDR, DEFAULT_SERVICES_CIDR
from keb_domain.model.volumes import VolumeSizeTable

RUNTIME_API_VERSION = "infrastructuremanager.kyma-project.io/v1"
KYMA_API_VERSION = "operator.kyma-project.io/v1beta2"
MAIN_WORKER = "cpu-worker-0"
# KEB's ``workers.ToGardenerCRI``: the container runtime of a worker with ``gvisor.enabled``.
GVISOR_CRI: Mapping[str, Any] = {"name": "containerd", "containerRuntimes": [{"type": "gvisor"}]}

DEFAULT_KYMA_TEMPLATE: Mapping[str, Any] = {
    "apiVersion": KYMA_API_VERSION,
    "kind": "Kyma",
    "metadata": {
        "labels": {"operator.kyma-project.io/managed-by": "lifecycle-manager"},
        "name": "tbd",
        "namespace": "kcp-system",
    },
    "spec": {
        "channel": "regular",
        "modules": [{"name": "api-gateway"}, {"name": "istio"}, {"name": "btp-operator"}],
    },
}


@attrs.frozen
class OidcConfig:
    """KEB's ``skrOIDCDefaultValues``: the OIDC issuer a runtime trusts unless the user says otherwise."""

    client_id: str = "9bd05ed7-a930-44e6-8c79-e6defeb7dec9"
    issuer_url: str = "https://kymatest.accounts400.ondemand.com"
    groups_claim: str = "groups"
    groups_prefix: str = "-"
    username_claim: str = "sub"
    username_prefix: str = "-"
    signing_algs: tuple[str, ...] = ("RS256",)

    def as_parameter(self) -> dict[str, Any]:
        return {
            "clientID": self.client_id,
            "issuerURL": self.issuer_url,
            "groupsClaim": self.groups_claim,
            "groupsPrefix": self.groups_prefix,
            "usernameClaim": self.username_claim,
            "usernamePrefix": self.username_prefix,
            "signingAlgs": list(self.signing_algs),
        }


@attrs.frozen
class ProviderDefaults:
    """Values a provider fixes for single-node (trial, free) runtimes and volumes."""

    small_machine: str
    volume_size_gb: int
    disk_type: str


PROVIDER_DEFAULTS: Mapping[Provider, ProviderDefaults] = {
    Provider.AWS: ProviderDefaults("m6i.xlarge", 80, "gp3"),
    Provider.AZURE: ProviderDefaults("Standard_D4s_v5", 80, "StandardSSD_LRS"),
    Provider.GCP: ProviderDefaults("n2-standard-4", 80, "pd-balanced"),
    Provider.OPENSTACK: ProviderDefaults("g_c4_m16", 80, ""),
    Provider.ALICLOUD: ProviderDefaults("ecs.g9i.large", 80, "cloud_essd"),
    Provider.GDCH: ProviderDefaults("n3-standard-2-gdc", 80, "Standard"),
}


@attrs.frozen
class RuntimeDefaults:
    """Landscape-wide settings of the Runtime and Kyma CRs."""

    namespace: str = "kcp-system"
    kubernetes_version: str = "1.33"
    machine_image: str = ""
    machine_image_version: str = ""
    default_purpose: str = "development"  # APP_INFRASTRUCTURE_MANAGER_DEFAULT_GARDENER_SHOOT_PURPOSE
    shoot_domain: str = "kyma.example.com"  # APP_GARDENER_SHOOT_DOMAIN
    multi_zone: bool = True
    # APP_INFRASTRUCTURE_MANAGER_CONTROL_PLANE_FAILURE_TOLERANCE: "", "node" or "zone"
    control_plane_failure_tolerance: str = ""
    audit_log_access: bool = False  # APP_BROKER_AUDIT_LOG_ACCESS
    ingress_filtering_plans: frozenset[str] = (
        frozenset()
    )  # APP_INFRASTRUCTURE_MANAGER_INGRESS_FILTERING_PLANS
    # APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED: volumes sized by machine type from the KCR ConfigMap
    dynamic_volume_size: bool = False
    oidc: OidcConfig = attrs.field(factory=OidcConfig)
    kyma_template: Mapping[str, Any] = attrs.field(factory=lambda: copy.deepcopy(DEFAULT_KYMA_TEMPLATE))


def resource_name(runtime_id: str) -> str:
    """Runtime and Kyma CRs are both named after the lower-cased runtime id (``KymaRuntimeResourceName``)."""
    return runtime_id.lower()


def common_labels(instance: Instance, runtime_id: str) -> dict[str, str]:
    labels = {
        "kyma-project.io/instance-id": instance.instance_id,
        "kyma-project.io/runtime-id": runtime_id,
        "kyma-project.io/broker-plan-id": instance.plan_id,
        "kyma-project.io/broker-plan-name": instance.plan_name,
        "kyma-project.io/global-account-id": instance.global_account_id,
        "kyma-project.io/subaccount-id": instance.subaccount_id,
        "kyma-project.io/shoot-name": instance.shoot_name,
        "kyma-project.io/region": instance.cluster_region,
        "kyma-project.io/provider": instance.provider.keb_name,
        "operator.kyma-project.io/kyma-name": resource_name(runtime_id),
    }
    if instance.platform_region:
        labels["kyma-project.io/platform-region"] = instance.platform_region
    return labels


def is_external_account(instance: Instance) -> bool:
    """CUSTOMER, PARTNER and TRIAL licences are external; only internal accounts get an egress filter."""
    return is_external_licence(instance.context)


def zone_names(provider: Provider, region: str, zones: Sequence[str], count: int) -> list[str]:
    """Gardener zone names (KEB's ``FullZoneName``): ``eu-central-1a`` (AWS, OpenStack), ``europe-west3-a``
    (GCP, GDCH), ``1`` (Azure); Alibaba Cloud joins with ``-`` unless the region ends in a digit."""
    chosen = list(zones[:count]) or ["a"]
    if provider is Provider.AZURE:
        return chosen
    if provider in (Provider.GCP, Provider.GDCH) or (
        provider is Provider.ALICLOUD and not region[-1:].isdigit()
    ):
        return [f"{region}-{z}" for z in chosen]
    return [f"{region}{z}" for z in chosen]


def _oidc_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    claims: dict[str, str] = {}
    for claim in entry.get("requiredClaims") or []:
        if claim != "-" and "=" in claim:
            key, value = claim.split("=", 1)
            claims[key] = value
    result: dict[str, Any] = {
        "clientID": entry.get("clientID", ""),
        "issuerURL": entry.get("issuerURL", ""),
        "groupsClaim": entry.get("groupsClaim", ""),
        "groupsPrefix": entry.get("groupsPrefix", ""),
        "usernameClaim": entry.get("usernameClaim", ""),
        "usernamePrefix": entry.get("usernamePrefix", ""),
        "signingAlgs": list(entry.get("signingAlgs") or []),
        "requiredClaims": claims,
    }
    jwks = entry.get("encodedJwksArray")
    if jwks and jwks != "-":
        result["jwks"] = jwks
    return result


def oidc_configs(parameters: Mapping[str, Any], default: OidcConfig) -> list[dict[str, Any]]:
    """``additionalOidcConfig``: the default, the default overridden by the object form, or the list."""
    oidc = parameters.get("oidc")
    if not isinstance(oidc, Mapping):
        return [_oidc_entry(default.as_parameter())]
    if "list" in oidc:
        return [_oidc_entry(entry) for entry in oidc.get("list") or []]
    merged = default.as_parameter()
    merged.update({k: v for k, v in oidc.items() if v not in (None, "", [])})
    return [_oidc_entry(merged)]


def administrators(instance: Instance) -> list[str]:
    admins = instance.parameters.get("administrators")
    if isinstance(admins, list) and admins:
        return [str(a) for a in admins]
    return [instance.user_id]


def _worker(
    *,
    name: str,
    machine: str,
    minimum: int,
    maximum: int,
    zones: list[str],
    defaults: ProviderDefaults,
    volume_size_gb: int,
    runtime: RuntimeDefaults,
    gvisor: Any = None,
) -> dict[str, Any]:
    machine_spec: dict[str, Any] = {"type": machine}
    if runtime.machine_image:
        machine_spec["image"] = {"name": runtime.machine_image, "version": runtime.machine_image_version}
    volume: dict[str, Any] = {"size": f"{volume_size_gb}Gi"}
    if defaults.disk_type:
        volume["type"] = defaults.disk_type
    worker: dict[str, Any] = {
        "name": name,
        "machine": machine_spec,
        "minimum": minimum,
        "maximum": maximum,
        "maxSurge": len(zones),
        "maxUnavailable": 0,
        "zones": zones,
        "volume": volume,
    }
    if isinstance(gvisor, Mapping) and gvisor.get("enabled") is True:
        worker["cri"] = copy.deepcopy(dict(GVISOR_CRI))
    return worker


def _additional_gi(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def workers(
    instance: Instance,
    plan: Plan,
    policy: RegionPolicy,
    runtime: RuntimeDefaults,
    volume_sizes: VolumeSizeTable | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The main worker ``cpu-worker-0`` and the additional pools, from the instance's parameters.

    As KEB: the plan's ``volumeSizeGb`` replaces the provider's volume size, or with ``volume_sizes``
    (dynamic volume sizes) each worker's machine type decides it; ``additionalVolumeSizeGi`` is added on
    top; machine types go through the provider's ``machinesVersions``; an additional pool whose machine
    family ``regionsSupportingMachine`` lists zones for the region is placed in those zones; ``gvisor``
    gives a worker gVisor as container runtime. Raises VolumeSizeError for a machine type the dynamic
    volume sizes do not know.
    """
    provider = instance.provider
    defaults = PROVIDER_DEFAULTS[provider]
    provider_config = policy.provider_config(provider)
    region = instance.cluster_region
    region_zones = provider_config.zones(region)
    params = instance.parameters
    bounds = plan.autoscaler
    config = policy.plans.get(plan.name)
    volume_size_gb = (config.volume_size_gb if config else None) or defaults.volume_size_gb

    def volume(resolved_machine: str, additional: Any) -> int:
        base = volume_sizes.size_gb(provider, resolved_machine) if volume_sizes else volume_size_gb
        return base + _additional_gi(additional)

    if bounds is None:  # trial and free: one fixed node
        machine, minimum, maximum, zone_count = defaults.small_machine, 1, 1, 1
    else:
        first_machine = (
            config.regular_machines[0] if config and config.regular_machines else defaults.small_machine
        )
        machine = str(params.get("machineType", first_machine))
        minimum = int(params.get("autoScalerMin", bounds.default_min))
        maximum = int(params.get("autoScalerMax", bounds.max_when_unset))
        zone_count = 3 if plan.kind is PlanKind.STANDARD and runtime.multi_zone else 1
    resolved = provider_config.resolve_machine(machine)
    main = _worker(
        name=MAIN_WORKER,
        machine=resolved,
        minimum=minimum,
        maximum=maximum,
        zones=zone_names(provider, region, region_zones, zone_count),
        defaults=defaults,
        volume_size_gb=volume(resolved, params.get("additionalVolumeSizeGi")),
        runtime=runtime,
        gvisor=params.get("gvisor"),
    )
    extra: list[dict[str, Any]] = []
    for pool in params.get("additionalWorkerNodePools") or []:
        ha = bool(pool.get("haZones", True)) and plan.kind is PlanKind.STANDARD
        pool_machine = str(pool["machineType"])
        pool_zones = provider_config.available_zones(pool_machine, region) or region_zones
        pool_resolved = provider_config.resolve_machine(pool_machine)
        worker = _worker(
            name=str(pool["name"]),
            machine=pool_resolved,
            minimum=int(pool.get("autoScalerMin", 3)),
            maximum=int(pool.get("autoScalerMax", 20)),
            zones=zone_names(provider, region, pool_zones, 3 if ha else 1),
            defaults=defaults,
            volume_size_gb=volume(pool_resolved, pool.get("additionalVolumeSizeGi")),
            runtime=runtime,
            gvisor=pool.get("gvisor"),
        )
        for key in ("labels", "annotations", "taints"):
            if pool.get(key):
                worker[key] = copy.deepcopy(pool[key])
        extra.append(worker)
    return main, extra


def _ingress_filtering(instance: Instance, plan: Plan, runtime: RuntimeDefaults) -> bool:
    """KEB's ``IsIngressFilteringEnabled``: a listed plan, an internal account, and the user asked for it."""
    return (
        plan.name in runtime.ingress_filtering_plans
        and not is_external_account(instance)
        and instance.parameters.get("ingressFiltering") is True
    )


def _purpose(plan: Plan, runtime: RuntimeDefaults) -> str:
    return "evaluation" if plan.kind in (PlanKind.TRIAL, PlanKind.FREE) else runtime.default_purpose


def _access_control_list(parameters: Mapping[str, Any]) -> list[str] | None:
    """``accessControlList.allowedCIDRs``; None when the parameter was never given."""
    acl = parameters.get("accessControlList")
    if not isinstance(acl, Mapping):
        return None
    return [str(cidr) for cidr in acl.get("allowedCIDRs") or []]


def build_runtime(
    instance: Instance,
    plan: Plan,
    runtime_id: str,
    policy: RegionPolicy,
    runtime: RuntimeDefaults,
    *,
    volume_sizes: VolumeSizeTable | None = None,
) -> dict[str, Any]:
    """The Runtime CR that asks KIM for this instance's cluster (``volume_sizes``: see ``workers``)."""
    main, extra = workers(instance, plan, policy, runtime, volume_sizes)
    networking_param = instance.parameters.get("networking") or {}
    networking: dict[str, Any] = {
        "type": "calico",
        "nodes": networking_param.get("nodes", DEFAULT_NODES_CIDR),
        "pods": networking_param.get("pods", DEFAULT_PODS_CIDR),
        "services": networking_param.get("services", DEFAULT_SERVICES_CIDR),
    }
    if networking_param.get("dualStack") and policy.provider_config(instance.provider).dual_stack:
        networking["dualStack"] = True
    provider_spec: dict[str, Any] = {"type": instance.provider.value, "workers": [main]}
    if extra:
        provider_spec["additionalWorkers"] = extra
    shoot: dict[str, Any] = {
        "name": instance.shoot_name,
        "purpose": _purpose(plan, runtime),
        "platformRegion": instance.platform_region,
        "region": instance.cluster_region,
        "secretBindingName": instance.credentials_binding,  # claimed from the HAP pool
        # KEB's create_runtime_resource_step: the ``colocateControlPlane`` parameter.
        "enforceSeedLocation": instance.parameters.get("colocateControlPlane") is True,
        "networking": networking,
        "kubernetes": {
            "version": runtime.kubernetes_version,
            "kubeAPIServer": {"additionalOidcConfig": oidc_configs(instance.parameters, runtime.oidc)},
        },
        "provider": provider_spec,
    }
    # KEB's createKubernetesConfiguration: an ACL whenever the parameter was given, even with no CIDR; KEB's
    # ``allowedCIDRs`` is ``omitempty``.
    allowed = _access_control_list(instance.parameters)
    if allowed is not None:
        shoot["kubernetes"]["kubeAPIServer"]["acl"] = {"allowedCIDRs": allowed} if allowed else {}
    # KEB gives the configured failure tolerance to the multi-zone (standard) plans only; trial, free and
    # azure_lite control planes are never highly available.
    if runtime.control_plane_failure_tolerance and plan.kind is PlanKind.STANDARD:
        shoot["controlPlane"] = {
            "highAvailability": {"failureTolerance": {"type": runtime.control_plane_failure_tolerance}}
        }
    body: dict[str, Any] = {
        "apiVersion": RUNTIME_API_VERSION,
        "kind": "Runtime",
        "metadata": {
            "name": resource_name(runtime_id),
            "namespace": runtime.namespace,
            "labels": common_labels(instance, runtime_id),
        },
        "spec": {
            "shoot": shoot,
            "security": {
                "administrators": administrators(instance),
                "networking": {
                    "filter": {
                        "egress": {"enabled": not is_external_account(instance)},
                        "ingress": {"enabled": _ingress_filtering(instance, plan, runtime)},
                    }
                },
            },
        },
    }
    # KEB's create_runtime_resource_step: only with the switch on, and only when the user asked for it.
    if runtime.audit_log_access and instance.parameters.get("auditLogAccess") is True:
        body["spec"]["auditLogAccessEnabled"] = True
    return body


def apply_update(
    current: Mapping[str, Any],
    instance: Instance,
    plan: Plan,
    policy: RegionPolicy,
    runtime: RuntimeDefaults,
    *,
    volume_sizes: VolumeSizeTable | None = None,
) -> dict[str, Any]:
    """The existing Runtime CR with the fields an update may change rewritten from the instance.

    Everything else (network, region, server-owned metadata such as ``resourceVersion``) is kept, so the
    PUT is a faithful optimistic-concurrency write (KEB's ``update_runtime_step.go``).
    """
    desired = build_runtime(instance, plan, instance.runtime_id, policy, runtime, volume_sizes=volume_sizes)
    updated = copy.deepcopy(dict(current))
    shoot = updated.setdefault("spec", {}).setdefault("shoot", {})
    desired_shoot = desired["spec"]["shoot"]
    provider_spec = shoot.setdefault("provider", {})
    provider_spec["workers"] = desired_shoot["provider"]["workers"]
    if "additionalWorkers" in desired_shoot["provider"]:
        provider_spec["additionalWorkers"] = desired_shoot["provider"]["additionalWorkers"]
    else:
        provider_spec.pop("additionalWorkers", None)
    api_server = shoot.setdefault("kubernetes", {}).setdefault("kubeAPIServer", {})
    api_server["additionalOidcConfig"] = desired_shoot["kubernetes"]["kubeAPIServer"]["additionalOidcConfig"]
    # KEB's updateACL: the CIDRs given replace the ACL; an empty list removes it.
    allowed = _access_control_list(instance.parameters)
    if allowed:
        api_server["acl"] = {"allowedCIDRs": allowed}
    elif allowed is not None:
        api_server.pop("acl", None)
    updated["spec"]["security"] = desired["spec"]["security"]
    if desired["spec"].get("auditLogAccessEnabled"):
        updated["spec"]["auditLogAccessEnabled"] = True  # never switched off again
    labels = updated.setdefault("metadata", {}).setdefault("labels", {})
    labels.update(desired["metadata"]["labels"])
    return updated


def build_kyma(instance: Instance, runtime_id: str, runtime: RuntimeDefaults) -> dict[str, Any]:
    """The Kyma CR from the template, with the instance's module choice (kubernetes-wire §1.7)."""
    kyma = copy.deepcopy(dict(runtime.kyma_template))
    metadata = kyma.setdefault("metadata", {})
    metadata["name"] = resource_name(runtime_id)
    metadata["namespace"] = runtime.namespace
    labels = metadata.setdefault("labels", {})
    labels.update(common_labels(instance, runtime_id))
    labels["operator.kyma-project.io/managed-by"] = "lifecycle-manager"
    if not is_external_account(instance):
        labels["operator.kyma-project.io/internal"] = "true"
    metadata.setdefault("annotations", {})["skr-domain"] = f"{instance.shoot_name}.{runtime.shoot_domain}"
    spec = kyma.setdefault("spec", {})
    modules = instance.parameters.get("modules")
    if isinstance(modules, Mapping):
        if modules.get("channel"):
            spec["channel"] = modules["channel"]
        if "list" in modules:
            spec["modules"] = [
                {k: v for k, v in module.items() if v not in (None, "")}
                for module in modules.get("list") or []
            ]
        elif modules.get("default") is False:
            spec["modules"] = []
    return kyma
