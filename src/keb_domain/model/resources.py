"""What the broker asks of KCP for a runtime, and what it reads back, as domain values.

* ``DesiredRuntime``: the cluster KIM is to build (a ``Runtime`` resource; kubernetes-wire §1.5, KEB's
  ``create_runtime_resource_step.go``): workers, networking, OIDC, security, labels.
* ``DesiredKyma``: the modules lifecycle-manager is to install (a ``Kyma`` resource, §1.7).
* ``RuntimeStatus``: what KIM reports about a Runtime.

The rules (machine types, zones, volumes, filters, labels, modules) are KEB's and live here; the Kubernetes
wire shape of these values is the Kubernetes adapter's (``keb_adapters.kubernetes.resources``). Both
resources are named after the lower-cased runtime id and carry KEB's ``kyma-project.io/*`` labels.
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

MAIN_WORKER = "cpu-worker-0"

# The built-in Kyma template of the runtime configuration (KEB's ``kyma-template`` entry): a KLM document
# the operator may replace in the runtime configuration ConfigMap, hence kept in its own format.
DEFAULT_KYMA_TEMPLATE: Mapping[str, Any] = {
    "apiVersion": "operator.kyma-project.io/v1beta2",
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


@attrs.frozen
class OidcConfiguration:
    """One OIDC issuer a runtime's API server trusts (an entry of ``additionalOidcConfig``)."""

    client_id: str
    issuer_url: str
    groups_claim: str = ""
    groups_prefix: str = ""
    username_claim: str = ""
    username_prefix: str = ""
    signing_algs: tuple[str, ...] = ()
    required_claims: Mapping[str, str] = attrs.field(factory=dict)
    jwks: str = ""  # base64 JWKS (``encodedJwksArray``), empty without

    @classmethod
    def from_fields(
        cls, fields: Mapping[str, Any], *, required_claims: Mapping[str, str], jwks: str
    ) -> OidcConfiguration:
        """From KEB's field names (``clientID``, ``issuerURL``, ...), which the ``oidc`` parameter and the
        Runtime resource share; the two spell required claims and the JWKS differently."""
        return cls(
            client_id=str(fields.get("clientID", "")),
            issuer_url=str(fields.get("issuerURL", "")),
            groups_claim=str(fields.get("groupsClaim", "")),
            groups_prefix=str(fields.get("groupsPrefix", "")),
            username_claim=str(fields.get("usernameClaim", "")),
            username_prefix=str(fields.get("usernamePrefix", "")),
            signing_algs=tuple(str(alg) for alg in fields.get("signingAlgs") or []),
            required_claims=required_claims,
            jwks=jwks,
        )


@attrs.frozen
class Worker:
    """A worker pool of the runtime's Shoot."""

    name: str
    machine_type: str
    minimum: int
    maximum: int
    zones: tuple[str, ...]
    volume_size_gb: int
    disk_type: str = ""  # empty: the provider's default
    machine_image: str = ""
    machine_image_version: str = ""
    # The user's own Kubernetes labels, annotations and taints of an additional pool, passed through.
    labels: Mapping[str, Any] | None = None
    annotations: Mapping[str, Any] | None = None
    taints: Sequence[Any] | None = None
    gvisor: bool = False  # gVisor as the container runtime (the ``gvisor`` parameter)


@attrs.frozen
class Networking:
    nodes: str
    pods: str
    services: str
    dual_stack: bool = False


@attrs.frozen
class DesiredRuntime:
    """The cluster the broker asks KIM for. An update rewrites only ``workers``, ``additional_workers``,
    ``oidc``, ``allowed_cidrs`` (when given: CIDRs replace the ACL, none removes it; KEB's ``updateACL``), the
    security fields, ``audit_log_access`` (never switched off again) and the labels; the rest stays as first
    created (KEB's ``update_runtime_step.go``)."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    shoot_name: str
    purpose: str
    platform_region: str
    region: str
    credentials_binding: str  # claimed from the hyperscaler account pool
    provider_type: str
    networking: Networking
    kubernetes_version: str
    oidc: tuple[OidcConfiguration, ...]
    workers: tuple[Worker, ...]  # the main worker alone
    additional_workers: tuple[Worker, ...]
    administrators: tuple[str, ...]
    egress_filter: bool
    ingress_filter: bool
    control_plane_failure_tolerance: str = ""  # "", "node" or "zone"
    audit_log_access: bool = False
    colocate_control_plane: bool = False  # the control plane on a seed in the cluster's region
    # The API server's access control list (``accessControlList``): None when the user never gave one; an
    # empty tuple is an ACL without CIDRs on create (KEB's createKubernetesConfiguration).
    allowed_cidrs: tuple[str, ...] | None = None


@attrs.frozen
class DesiredKyma:
    """The Kyma resource: the template of the runtime configuration, named, labelled and annotated for the
    runtime, with the user's module choice."""

    name: str
    namespace: str
    labels: Mapping[str, str]  # over the template's own labels
    annotations: Mapping[str, str]
    template: Mapping[str, Any]
    channel: str | None = None  # None: the template's
    modules: tuple[Mapping[str, Any], ...] | None = None  # None: the template's


@attrs.frozen
class RuntimeStatus:
    """What KIM reports about a Runtime."""

    state: str  # KIM's ``status.state``: "Pending", "Ready", "Failed"...; empty before KIM saw it
    message: str = ""  # the message of KIM's newest condition
    observed: bool = True  # KIM has seen the current spec, so its state is about it
    being_deleted: bool = False

    @property
    def ready(self) -> bool:
        return self.state == "Ready"

    @property
    def failed(self) -> bool:
        return self.state == "Failed"

    def failure(self) -> str:
        """The description of an operation that fails on this status."""
        if self.message:
            return f"Runtime resource in Failed state: {self.message}"
        return "Runtime resource in Failed state"


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


def _oidc_entry(entry: Mapping[str, Any]) -> OidcConfiguration:
    claims: dict[str, str] = {}
    for claim in entry.get("requiredClaims") or []:
        if claim != "-" and "=" in claim:
            key, value = claim.split("=", 1)
            claims[key] = value
    jwks = entry.get("encodedJwksArray")
    return OidcConfiguration.from_fields(
        entry, required_claims=claims, jwks=str(jwks) if jwks and jwks != "-" else ""
    )


def oidc_configs(parameters: Mapping[str, Any], default: OidcConfig) -> tuple[OidcConfiguration, ...]:
    """``additionalOidcConfig``: the default, the default overridden by the object form, or the list."""
    oidc = parameters.get("oidc")
    if not isinstance(oidc, Mapping):
        return (_oidc_entry(default.as_parameter()),)
    if "list" in oidc:
        return tuple(_oidc_entry(entry) for entry in oidc.get("list") or [])
    merged = default.as_parameter()
    merged.update({k: v for k, v in oidc.items() if v not in (None, "", [])})
    return (_oidc_entry(merged),)


def administrators(instance: Instance) -> tuple[str, ...]:
    admins = instance.parameters.get("administrators")
    if isinstance(admins, list) and admins:
        return tuple(str(a) for a in admins)
    return (instance.user_id,)


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
    pool: Mapping[str, Any] | None = None,
    gvisor: Any = None,
) -> Worker:
    extras = {key: copy.deepcopy(pool[key]) if pool and pool.get(key) else None for key in _POOL_EXTRAS}
    return Worker(
        name=name,
        machine_type=machine,
        minimum=minimum,
        maximum=maximum,
        zones=tuple(zones),
        volume_size_gb=volume_size_gb,
        disk_type=defaults.disk_type,
        machine_image=runtime.machine_image,
        machine_image_version=runtime.machine_image_version,
        gvisor=isinstance(gvisor, Mapping) and gvisor.get("enabled") is True,
        **extras,
    )


_POOL_EXTRAS = ("labels", "annotations", "taints")


def _additional_gi(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def workers(
    instance: Instance,
    plan: Plan,
    policy: RegionPolicy,
    runtime: RuntimeDefaults,
    volume_sizes: VolumeSizeTable | None = None,
) -> tuple[Worker, tuple[Worker, ...]]:
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
    extra: list[Worker] = []
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
            pool=pool,
            gvisor=pool.get("gvisor"),
        )
        extra.append(worker)
    return main, tuple(extra)


def _ingress_filtering(instance: Instance, plan: Plan, runtime: RuntimeDefaults) -> bool:
    """KEB's ``IsIngressFilteringEnabled``: a listed plan, an internal account, and the user asked for it."""
    return (
        plan.name in runtime.ingress_filtering_plans
        and not is_external_account(instance)
        and instance.parameters.get("ingressFiltering") is True
    )


def _purpose(plan: Plan, runtime: RuntimeDefaults) -> str:
    return "evaluation" if plan.kind in (PlanKind.TRIAL, PlanKind.FREE) else runtime.default_purpose


def _access_control_list(parameters: Mapping[str, Any]) -> tuple[str, ...] | None:
    """``accessControlList.allowedCIDRs``; None when the parameter was never given."""
    acl = parameters.get("accessControlList")
    if not isinstance(acl, Mapping):
        return None
    return tuple(str(cidr) for cidr in acl.get("allowedCIDRs") or [])


def desired_runtime(
    instance: Instance,
    plan: Plan,
    runtime_id: str,
    policy: RegionPolicy,
    runtime: RuntimeDefaults,
    *,
    volume_sizes: VolumeSizeTable | None = None,
) -> DesiredRuntime:
    """The Runtime that asks KIM for this instance's cluster (``volume_sizes``: see ``workers``)."""
    main, extra = workers(instance, plan, policy, runtime, volume_sizes)
    networking = instance.parameters.get("networking") or {}
    return DesiredRuntime(
        name=resource_name(runtime_id),
        namespace=runtime.namespace,
        labels=common_labels(instance, runtime_id),
        shoot_name=instance.shoot_name,
        purpose=_purpose(plan, runtime),
        platform_region=instance.platform_region,
        region=instance.cluster_region,
        credentials_binding=instance.credentials_binding,
        provider_type=instance.provider.value,
        networking=Networking(
            nodes=str(networking.get("nodes", DEFAULT_NODES_CIDR)),
            pods=str(networking.get("pods", DEFAULT_PODS_CIDR)),
            services=str(networking.get("services", DEFAULT_SERVICES_CIDR)),
            dual_stack=bool(networking.get("dualStack"))
            and policy.provider_config(instance.provider).dual_stack,
        ),
        kubernetes_version=runtime.kubernetes_version,
        oidc=oidc_configs(instance.parameters, runtime.oidc),
        workers=(main,),
        additional_workers=extra,
        administrators=administrators(instance),
        egress_filter=not is_external_account(instance),
        ingress_filter=_ingress_filtering(instance, plan, runtime),
        # KEB gives the configured failure tolerance to the multi-zone (standard) plans only; trial, free
        # and azure_lite control planes are never highly available.
        control_plane_failure_tolerance=runtime.control_plane_failure_tolerance
        if plan.kind is PlanKind.STANDARD
        else "",
        # KEB's create_runtime_resource_step: only with the switch on, and only when the user asked for it.
        audit_log_access=runtime.audit_log_access and instance.parameters.get("auditLogAccess") is True,
        # KEB's create_runtime_resource_step: the ``colocateControlPlane`` parameter.
        colocate_control_plane=instance.parameters.get("colocateControlPlane") is True,
        allowed_cidrs=_access_control_list(instance.parameters),
    )


def desired_kyma(instance: Instance, runtime_id: str, runtime: RuntimeDefaults) -> DesiredKyma:
    """The Kyma resource from the template, with the instance's module choice (kubernetes-wire §1.7)."""
    labels = common_labels(instance, runtime_id)
    labels["operator.kyma-project.io/managed-by"] = "lifecycle-manager"
    if not is_external_account(instance):
        labels["operator.kyma-project.io/internal"] = "true"
    channel: str | None = None
    modules: tuple[Mapping[str, Any], ...] | None = None
    chosen = instance.parameters.get("modules")
    if isinstance(chosen, Mapping):
        if chosen.get("channel"):
            channel = str(chosen["channel"])
        if "list" in chosen:
            modules = tuple(
                {k: v for k, v in module.items() if v not in (None, "")}
                for module in chosen.get("list") or []
            )
        elif chosen.get("default") is False:
            modules = ()
    return DesiredKyma(
        name=resource_name(runtime_id),
        namespace=runtime.namespace,
        labels=labels,
        annotations={"skr-domain": f"{instance.shoot_name}.{runtime.shoot_domain}"},
        template=runtime.kyma_template,
        channel=channel,
        modules=modules,
    )
