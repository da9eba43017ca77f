"""Per-plan, per-platform-region JSON schemas (draft-04) for provisioning and update parameters.

The shapes follow KEB's ``internal/broker/plans_schema.go`` and its test fixtures, including the UI hints
(``_controlsOrder``, ``_enumDisplayName``, ``_show_form_view``...). The same schema object is published in
the catalog and used to validate requests, so what a platform renders is exactly what the broker accepts.
"""

from __future__ import annotations

from typing import Any

import attrs

from keb_domain.model.plans import AutoscalerBounds, Plan, PlanKind, Provider
from keb_domain.model.regions import RegionPolicy

DRAFT_04 = "http://json-schema.org/draft-04/schema#"

# Gardener seed ranges no runtime network may overlap (keb-reference §2.3).
SEED_CIDRS = (
    "10.243.128.0/17",
    "10.242.0.0/16",
    "10.243.0.0/17",
    "10.64.0.0/11",
    "10.254.0.0/16",
    "10.243.0.0/16",
    "192.168.123.0/24",
    "240.0.0.0/8",
)
DEFAULT_NODES_CIDR = "10.250.0.0/16"
DEFAULT_PODS_CIDR = "10.96.0.0/13"
DEFAULT_SERVICES_CIDR = "10.104.0.0/13"

NAME_PATTERN = "^[a-zA-Z0-9-]*$"
POOL_NAME_PATTERN = "^(?!cpu-worker-0$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUALIFIED_NAME = (
    "^([a-zA-Z0-9]([-a-zA-Z0-9_.]{0,251}[a-zA-Z0-9])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$"
)
LABEL_VALUE = "^([a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?)?$"
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
MODULE_CHANNELS = ("regular", "fast")


@attrs.frozen
class SchemaOptions:
    """Switches that change every schema."""

    reject_unsupported_parameters: bool = False  # APP_BROKER_REJECT_UNSUPPORTED_PARAMETERS
    default_module_channel: str = "regular"
    audit_log_access: bool = False  # APP_BROKER_AUDIT_LOG_ACCESS: offer ``auditLogAccess`` (not trial, free)
    # APP_INFRASTRUCTURE_MANAGER_INGRESS_FILTERING_PLANS: plans offering ``ingressFiltering``
    ingress_filtering_plans: frozenset[str] = frozenset()
    gvisor: bool = False  # APP_BROKER_GVISOR_ENABLED: offer ``gvisor`` (hidden by a plan's ``disableGvisor``)
    # APP_BROKER_ACL_ENABLED_PLANS (``all`` already expanded): plans offering ``accessControlList``
    acl_plans: frozenset[str] = frozenset()
    # APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_PLANS / _MAX_SIZE: plans offering ``additionalVolumeSizeGi``
    additional_volume_plans: frozenset[str] = frozenset()
    additional_volume_max_gi: int = 100


# KEB's ``DefaultControlsOrder``: the form order of every schema's properties (those present).
CONTROLS_ORDER = (
    "name",
    "kubeconfig",
    "shootName",
    "shootDomain",
    "region",
    "colocateControlPlane",
    "machineType",
    "autoScalerMin",
    "autoScalerMax",
    "additionalVolumeSizeGi",
    "zonesCount",
    "gvisor",
    "additionalWorkerNodePools",
    "modules",
    "networking",
    "accessControlList",
    "oidc",
    "administrators",
    "ingressFiltering",
    "auditLogAccess",
)


def _name(update: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "string",
        "title": "Cluster Name",
        "minLength": 1,
        "maxLength": 64,
        "pattern": NAME_PATTERN,
    }
    if not update:
        schema["_BTPdefaultTemplate"] = {"elements": ["saSubdomain"]}
    return schema


def _region(policy: RegionPolicy, provider: Provider, regions: tuple[str, ...]) -> dict[str, Any]:
    config = policy.provider_config(provider)
    return {
        "type": "string",
        "minLength": 1,
        "enum": list(regions),
        "_enumDisplayName": {r: config.region_display_name(r) for r in regions},
    }


def _machine_type(policy: RegionPolicy, provider: Provider, machines: tuple[str, ...]) -> dict[str, Any]:
    config = policy.provider_config(provider)
    return {
        "type": "string",
        "description": "Specifies the type of the virtual machine.",
        "enum": list(machines),
        "_enumDisplayName": {m: config.machine_display_name(m) for m in machines},
    }


def _autoscaler(bounds: AutoscalerBounds) -> tuple[dict[str, Any], dict[str, Any]]:
    common = {"type": "integer", "minimum": bounds.lowest, "maximum": bounds.highest}
    return (
        {**common, "default": bounds.default_min, "description": "Minimum number of virtual machines"},
        {**common, "default": bounds.default_max, "description": "Maximum number of virtual machines"},
    )


def _ingress_filtering() -> dict[str, Any]:
    return {
        "type": "boolean",
        "title": "Enable ingress geo-blocking",
        "default": False,
        "description": "If set to true, ingress traffic from embargoed countries is blocked.",
    }


def _colocate_control_plane() -> dict[str, Any]:
    return {
        "type": "boolean",
        "title": "Colocate control plane and worker nodes in the same region",
        "default": False,
        "description": "If set to true, the control plane is placed in the same region as the selected "
        "region from the Region field. The provisioning process fails if the control plane cannot be "
        "colocated in the region.",
    }


def _gvisor() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Configures the gVisor container runtime for a worker pool",
        "required": ["enabled"],
        "properties": {
            "enabled": {"type": "boolean", "title": "Enable gVisor container runtime", "default": False}
        },
    }


def _additional_volume_size(maximum: int) -> dict[str, Any]:
    return {
        "type": "integer",
        "title": "Additional Volume Size (Gi)",
        "description": "Additional disk space in Gi added on top of the default volume size for the "
        "worker pool.",
        "minimum": 0,
        "maximum": maximum,
        "default": 0,
    }


def _access_control_list() -> dict[str, Any]:
    return {
        "type": "object",
        "title": "Access Control List",
        "description": "Allows you to restrict access to Kubernetes API server.",
        "required": ["allowedCIDRs"],
        "properties": {
            "allowedCIDRs": {
                "type": "array",
                "title": "Allowed CIDRs",
                "description": "The whitelisted CIDRs allowed to access the Kubernetes API server. If you "
                "don't want to define Access Control List, provide an empty list.",
                "items": {"type": "string", "example": "5.6.0.0/16", "title": "CIDR range"},
            }
        },
    }


def _audit_log_access() -> dict[str, Any]:
    return {
        "type": "boolean",
        "title": "Enable Audit Log Access",
        "default": False,
        "description": "Specifies whether Audit Log Access is enabled. Once enabled, you cannot disable it.",
    }


def _administrators() -> dict[str, Any]:
    return {
        "type": "array",
        "title": "Administrators",
        "description": "Specifies the list of runtime administrators.",
        "items": {"type": "string"},
    }


def _oidc() -> dict[str, Any]:
    fields = (
        "clientID",
        "groupsClaim",
        "issuerURL",
        "signingAlgs",
        "usernameClaim",
        "usernamePrefix",
        "groupsPrefix",
        "requiredClaims",
        "encodedJwksArray",
    )
    list_item = {
        "type": "object",
        "_controlsOrder": list(fields),
        "additionalProperties": False,
        "required": [
            "clientID",
            "issuerURL",
            "groupsClaim",
            "usernameClaim",
            "usernamePrefix",
            "signingAlgs",
            "groupsPrefix",
        ],
        "properties": {
            "clientID": {"type": "string", "minLength": 1},
            "issuerURL": {"type": "string", "minLength": 1},
            "groupsClaim": {"type": "string", "minLength": 1},
            "groupsPrefix": {"type": "string", "minLength": 1},
            "usernameClaim": {"type": "string", "minLength": 1},
            "usernamePrefix": {"type": "string", "minLength": 1},
            "signingAlgs": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "requiredClaims": {"type": "array", "items": {"type": "string", "pattern": "^[^=]+=[^=]+$"}},
            "encodedJwksArray": {"type": "string"},
        },
    }
    legacy = {
        "type": "object",
        "title": "Object (not recommended)",
        "description": "Legacy OIDC configuration",
        "_controlsOrder": list(fields),
        "additionalProperties": False,
        "required": ["clientID", "issuerURL"],
        "properties": {
            "clientID": {"type": "string"},
            "issuerURL": {"type": "string"},
            "groupsClaim": {"type": "string"},
            "groupsPrefix": {"type": "string"},
            "usernameClaim": {"type": "string"},
            "usernamePrefix": {"type": "string"},
            "signingAlgs": {"type": "array", "items": {"type": "string"}},
            "requiredClaims": {"type": "array", "items": {"type": "string", "pattern": "^([^=]+=[^=]+|-)$"}},
            "encodedJwksArray": {"type": "string"},
        },
    }
    return {
        "type": "object",
        "description": "OIDC configuration. The list-based configuration is recommended.",
        "oneOf": [
            {
                "type": "object",
                "title": "List",
                "additionalProperties": False,
                "properties": {"list": {"type": "array", "uniqueItems": True, "items": list_item}},
            },
            legacy,
        ],
    }


def _networking(policy: RegionPolicy, provider: Provider) -> dict[str, Any]:
    seeds = ", ".join(SEED_CIDRS)
    properties: dict[str, Any] = {
        "nodes": {"type": "string", "title": "CIDR range for Nodes", "default": DEFAULT_NODES_CIDR},
        "pods": {"type": "string", "title": "CIDR range for Pods", "default": DEFAULT_PODS_CIDR},
        "services": {"type": "string", "title": "CIDR range for Services", "default": DEFAULT_SERVICES_CIDR},
    }
    for prop in properties.values():
        prop["description"] = f"{prop['title']}, must not overlap with the following CIDRs: {seeds}"
    if policy.provider_config(provider).dual_stack:
        properties["dualStack"] = {"type": "boolean", "default": False, "title": "Dual stack (IPv4 and IPv6)"}
    return {
        "type": "object",
        "description": "Networking configuration. These values are immutable and cannot be updated later.",
        "properties": properties,
        "required": ["nodes"],
    }


def _modules(default_channel: str) -> dict[str, Any]:
    channel = {"type": "string", "enum": list(MODULE_CHANNELS), "default": default_channel}
    module = {
        "type": "object",
        "additionalProperties": False,
        "_controlsOrder": ["name", "channel", "customResourcePolicy"],
        "properties": {
            "name": {"type": "string", "title": "Name", "minLength": 1},
            "channel": {"type": "string", "enum": ["", *MODULE_CHANNELS], "default": ""},
            "customResourcePolicy": {
                "type": "string",
                "enum": ["", "CreateAndDelete", "Ignore"],
                "default": "",
            },
        },
    }
    return {
        "type": "object",
        "description": "Use default modules or provide your custom list of modules.",
        "oneOf": [
            {
                "type": "object",
                "title": "Default",
                "additionalProperties": False,
                "_controlsOrder": ["default", "channel"],
                "properties": {
                    "default": {"type": "boolean", "default": True, "readOnly": True, "title": "Use Default"},
                    "channel": channel,
                },
            },
            {
                "type": "object",
                "title": "Custom",
                "additionalProperties": False,
                "_controlsOrder": ["channel", "list"],
                "properties": {
                    "channel": channel,
                    "list": {"type": "array", "uniqueItems": True, "items": module},
                },
            },
        ],
    }


def _worker_pools(
    policy: RegionPolicy,
    plan: Plan,
    provider: Provider,
    machines: tuple[str, ...],
    *,
    gvisor: bool,
    volume_max_gi: int | None,
) -> dict[str, Any]:
    config = policy.provider_config(provider)
    properties: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "maxLength": 15, "pattern": POOL_NAME_PATTERN},
        "machineType": {
            "type": "string",
            "minLength": 1,
            "enum": list(machines),
            "_enumDisplayName": {m: config.machine_display_name(m) for m in machines},
        },
        "haZones": {"type": "boolean", "title": "HA zones", "default": True},
        "autoScalerMin": {"type": "integer", "minimum": 0, "maximum": 300, "default": 3},
        "autoScalerMax": {"type": "integer", "minimum": 1, "maximum": 300, "default": 20},
        "labels": {
            "type": "object",
            "_controlType": "keyvalue",
            "propertyNames": {"pattern": QUALIFIED_NAME},
            "patternProperties": {".*": {"type": "string", "pattern": LABEL_VALUE}},
        },
        "annotations": {
            "type": "object",
            "_controlType": "keyvalue",
            "propertyNames": {"pattern": QUALIFIED_NAME},
            "patternProperties": {".*": {"type": "string"}},
        },
        "taints": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "effect"],
                "properties": {
                    "key": {"type": "string", "minLength": 1, "pattern": QUALIFIED_NAME},
                    "value": {"type": "string", "pattern": LABEL_VALUE},
                    "effect": {"type": "string", "enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
                },
            },
        },
    }
    if volume_max_gi is not None:  # KEB inserts it after autoScalerMax
        ordered = list(properties.items())
        at = [key for key, _ in ordered].index("autoScalerMax") + 1
        ordered.insert(at, ("additionalVolumeSizeGi", _additional_volume_size(volume_max_gi)))
        properties = dict(ordered)
    if gvisor:
        properties["gvisor"] = _gvisor()
    required = ["name", "machineType", "haZones", "autoScalerMin", "autoScalerMax"]
    if plan.kind is PlanKind.LITE:
        # azure_lite pools are single-zone: KEB's schema has no haZones for them.
        del properties["haZones"]
        required.remove("haZones")
    return {
        "type": "array",
        "uniqueItems": True,
        "description": "Specifies the list of additional worker node pools.",
        "items": {
            "type": "object",
            "required": required,
            "_controlsOrder": list(properties),
            "properties": properties,
        },
    }


def _wrap(
    properties: dict[str, Any], required: list[str], options: SchemaOptions, update: bool
) -> dict[str, Any]:
    rank = {key: index for index, key in enumerate(CONTROLS_ORDER)}
    ordered = dict(sorted(properties.items(), key=lambda item: rank.get(item[0], len(rank))))
    schema: dict[str, Any] = {
        "$schema": DRAFT_04,
        "type": "object",
        "_show_form_view": True,
        "_load_current_config": True,
        "_controlsOrder": list(ordered),
        "properties": ordered,
    }
    if required and not update:
        schema["required"] = required
    if options.reject_unsupported_parameters:
        schema["additionalProperties"] = False
    return schema


def plan_schemas(
    policy: RegionPolicy, plan: Plan, platform_region: str, options: SchemaOptions
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (create, update) parameter schemas of ``plan`` under ``platform_region``.

    None where the plan is not offered there.
    """
    if not policy.is_available(plan, platform_region):
        return None
    return (
        _schema(policy, plan, platform_region, options, update=False),
        _schema(policy, plan, platform_region, options, update=True),
    )


def _switched(
    properties: dict[str, Any],
    plan: Plan,
    options: SchemaOptions,
    *,
    gvisor: bool,
    audit_log_access: bool,
) -> None:
    """The parameters KEB's switches add to a plan's create and update schemas (``createSchemaWithProperties``
    and ``schemas.go``)."""
    properties["oidc"] = _oidc()
    properties["administrators"] = _administrators()
    if gvisor:  # APP_BROKER_GVISOR_ENABLED
        properties["gvisor"] = _gvisor()
    if plan.name in options.additional_volume_plans:
        properties["additionalVolumeSizeGi"] = _additional_volume_size(options.additional_volume_max_gi)
    if plan.name in options.acl_plans:
        properties["accessControlList"] = _access_control_list()
    if plan.name in options.ingress_filtering_plans:  # KEB's plans.go: per plan, all plan kinds
        properties["ingressFiltering"] = _ingress_filtering()
    if audit_log_access:  # KEB: every plan but trial and free, create and update
        properties["auditLogAccess"] = _audit_log_access()


def _schema(
    policy: RegionPolicy, plan: Plan, platform_region: str, options: SchemaOptions, *, update: bool
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if plan.kind is PlanKind.TRIAL:
        properties["name"] = _name(update)
        if not update:
            properties["modules"] = _modules(options.default_module_channel)
        _switched(properties, plan, options, gvisor=options.gvisor, audit_log_access=False)
        return _wrap(properties, ["name"], options, update)

    provider = policy.free_provider(platform_region) if plan.is_free else plan.provider
    config = policy.plan_config(plan, platform_region)
    if provider is None or config is None:
        raise ValueError(f"plan {plan.name} is not offered in {platform_region}")  # is_available() said so
    regions = policy.allowed_regions(plan, platform_region)
    if plan.kind is PlanKind.FREE:
        properties["name"] = _name(update)
        if not update:
            properties["region"] = _region(policy, provider, regions)
            properties["modules"] = _modules(options.default_module_channel)
            if not config.disable_networking:
                properties["networking"] = _networking(policy, provider)
        _switched(properties, plan, options, gvisor=options.gvisor, audit_log_access=False)
        return _wrap(properties, ["name", "region"], options, update)

    bounds = plan.autoscaler
    if bounds is None:
        raise ValueError(f"plan {plan.name} has no autoscaler")  # only trial and free, handled above
    # KEB's schemas.go reads ``disableGvisor`` and ``disableColocateControlPlane`` for the standard plans
    # only; azure_lite's schema always has ``colocateControlPlane``.
    standard = plan.kind is PlanKind.STANDARD
    gvisor = options.gvisor and not (standard and config.disable_gvisor)
    autoscaler_min, autoscaler_max = _autoscaler(bounds)
    if not update:
        properties["name"] = _name(update)
        properties["region"] = _region(policy, provider, regions)
        if not (standard and config.disable_colocate_control_plane):  # never updatable (KEB)
            properties["colocateControlPlane"] = _colocate_control_plane()
    properties["machineType"] = _machine_type(policy, provider, config.regular_machines)
    properties["autoScalerMin"] = autoscaler_min
    properties["autoScalerMax"] = autoscaler_max
    properties["additionalWorkerNodePools"] = _worker_pools(
        policy,
        plan,
        provider,
        config.regular_machines + config.additional_machines,
        gvisor=gvisor,
        volume_max_gi=(
            options.additional_volume_max_gi if plan.name in options.additional_volume_plans else None
        ),
    )
    if not update:
        properties["modules"] = _modules(options.default_module_channel)
        if not config.disable_networking:  # the plan's ``disableNetworking`` (KEB's schemas.go)
            properties["networking"] = _networking(policy, provider)
    _switched(properties, plan, options, gvisor=gvisor, audit_log_access=options.audit_log_access)
    return _wrap(properties, ["name", "region"], options, update)
