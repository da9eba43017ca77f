"""Provisioning and update requests checked against a plan and a platform region, without storage.

``validate_provisioning`` runs every check of a provisioning request that needs no stored state: the
service and plan, the catalog of the platform region, the OSB context, the size of the parameters, the plan's
create schema (draft-04, ECMAScript patterns), then the rules a schema cannot express (CIDR overlaps,
autoscaler bounds, OIDC, worker pools, internal-only machines for external licences, ingress filtering).
It resolves the hyperscaler and the cluster region: the plan's own, the platform's for ``free``, the
trial mapping (and the EU Access forcing) for ``trial``. ``validate_update`` does the same for an
update's parameters against the update schema and the instance's earlier values.

Both are pure: the broker's use cases call them before they open a unit of work, and a tool can call them
offline. A refusal is an ``InvalidRequestError`` (``InvalidParametersError`` for the parameters) or an
``UnprocessableError``, whose ``description`` starts with the field it is about.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import attrs

from keb_domain.errors import InvalidParametersError, InvalidRequestError, UnprocessableError
from keb_domain.model.catalog import CatalogSettings, check_guid, offered_plan, require_plan, require_service
from keb_domain.model.instance import is_external_licence
from keb_domain.model.parameters import (
    TRIAL_DROPPED_PARAMETERS,
    check_access_control_list,
    check_additional_volume_size,
    check_audit_log_access_update,
    check_gvisor,
    check_ingress_filtering,
    check_internal_only_machines,
    check_semantics,
    check_size,
    check_trial_parameters,
    validate_against_schema,
)
from keb_domain.model.plans import KYMA_SERVICE_ID, Plan, Provider
from keb_domain.model.regions import EU_FORCED_REGION, RegionPolicy, is_eu_access
from keb_domain.model.schemas import plan_schemas

MAX_ID_LENGTH = 255  # ids are stored in varchar(255) columns, as in KEB's schema
REQUIRED_CONTEXT = (
    ("globalaccount_id", "global account ID"),
    ("subaccount_id", "subaccount ID"),
    ("user_id", "user ID"),
)


@attrs.frozen
class ValidProvisioning:
    """A provisioning request that passed every check, and what it resolves to."""

    plan: Plan
    platform_region: str
    provider: Provider  # the hyperscaler the runtime runs on
    cluster_region: str  # the hyperscaler's region, e.g. ``eu-central-1``
    # The parameters to store: those the plan's schema names (others are accepted and dropped, as KEB).
    parameters: Mapping[str, Any]

    @property
    def eu_access(self) -> bool:
        """Whether the platform region is an EU Access one (the instance is marked ``euAccess``)."""
        return is_eu_access(self.platform_region)


@attrs.frozen
class ValidUpdate:
    """An update's parameters that passed every check: those the update schema names."""

    plan: Plan
    parameters: Mapping[str, Any]


def check_context(context: Mapping[str, Any]) -> None:
    """The OSB context names the global account, subaccount and user, each at most 255 characters."""
    for key, label in REQUIRED_CONTEXT:
        value = context.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidRequestError(f"context.{key}: the {label} must not be empty")
        if len(value) > MAX_ID_LENGTH:
            raise InvalidRequestError(
                f"context.{key}: the {label} must be at most {MAX_ID_LENGTH} characters"
            )


def check_switched_parameters(
    plan: Plan,
    parameters: Mapping[str, Any],
    settings: CatalogSettings,
    global_account_id: str,
    gvisor_allowed_global_accounts: Collection[str],
) -> None:
    """KEB's checks of the parameters its switches offer (``additionalVolumeSizeGi``,
    ``accessControlList``, ``gvisor``), on provisioning and update alike; they run whether or not the
    plan's schema shows the parameter, as KEB's do."""
    options = settings.schema_options
    check_additional_volume_size(plan, parameters, options.additional_volume_plans)
    check_access_control_list(plan, parameters, options.acl_plans)
    check_gvisor(parameters, global_account_id, frozenset(gvisor_allowed_global_accounts))


def validate_provisioning(
    policy: RegionPolicy,
    *,
    plan_id: str,
    platform_region: str,
    parameters: Mapping[str, Any],
    context: Mapping[str, Any],
    catalog: CatalogSettings | None = None,
    service_id: str = KYMA_SERVICE_ID,
    organization_guid: str | None = None,
    space_guid: str | None = None,
    gvisor_allowed_global_accounts: Collection[str] = frozenset(),
) -> ValidProvisioning:
    """Check a provisioning request for ``plan_id`` under ``platform_region``; raise the refusal.

    ``context`` is the OSB context (``globalaccount_id``, ``subaccount_id``, ``user_id``, and
    ``license_type``, which decides the rules for external accounts); ``catalog`` says which plans are
    enabled and shapes the schemas (default: every plan, KEB's defaults);
    ``gvisor_allowed_global_accounts`` are those that may ask for gVisor (KEB's gVisor whitelist).
    Whether a colocated control plane has a seed in the region needs Gardener, so the caller checks it.
    """
    settings = catalog if catalog is not None else CatalogSettings()
    require_service(service_id)
    require_plan(plan_id)
    check_guid("organization_guid", organization_guid)
    check_guid("space_guid", space_guid)
    plan = offered_plan(policy, settings, plan_id, platform_region)
    if plan is None:
        raise InvalidRequestError(
            f"plan_id: {plan_id!r} is not in the catalog of platform region {platform_region}"
        )
    check_context(context)
    values = dict(parameters)
    check_size(values)
    schemas = plan_schemas(policy, plan, platform_region, settings.schema_options)
    if schemas is None:  # offered_plan() said it is offered; keep mypy and the reader honest
        raise InvalidRequestError(f"plan_id: {plan_id!r} is not offered in {platform_region}")
    external = is_external_licence(context)
    check_ingress_filtering(plan, values, settings.schema_options.ingress_filtering_plans, external)
    check_switched_parameters(
        plan, values, settings, str(context.get("globalaccount_id", "")), gvisor_allowed_global_accounts
    )
    if plan.is_trial:
        for dropped in TRIAL_DROPPED_PARAMETERS:  # KEB silently drops them for trial
            values.pop(dropped, None)
        check_trial_parameters(values)
        schema_input = {k: v for k, v in values.items() if k not in ("region", "provider")}
        validate_against_schema(schemas[0], schema_input)
        provider = (
            Provider.from_trial_parameter(str(values["provider"]))
            if values.get("provider")
            else policy.default_trial_provider
        )
        if is_eu_access(platform_region) and provider not in EU_FORCED_REGION:
            raise InvalidParametersError(
                f"provider: {provider.keb_name} trials are not offered in the EU Access platform region "
                f"{platform_region}; choose {' or '.join(p.keb_name for p in EU_FORCED_REGION)}"
            )
        requested = values.get("region")
        cluster_region = policy.trial_cluster_region(
            provider, platform_region, str(requested) if requested else None
        )
        return ValidProvisioning(plan, platform_region, provider, cluster_region, values)
    validate_against_schema(schemas[0], values)
    if plan.is_free:
        free_provider = policy.free_provider(platform_region)
        if free_provider is None:
            raise InvalidRequestError(f"plan free is not offered in {platform_region}")
        provider = free_provider
        cluster_region = policy.free_cluster_region(provider, platform_region, str(values["region"]))
    else:
        if plan.provider is None:
            raise InvalidRequestError(f"plan {plan.name} has no provider")
        provider = plan.provider
        cluster_region = str(values["region"])
    check_semantics(
        policy=policy, plan=plan, provider=provider, cluster_region=cluster_region, parameters=values
    )
    if external:
        check_internal_only_machines(policy.plans.get(plan.name), values)
    # Parameters the plan's schema does not name are accepted and dropped, as KEB's typed parameters
    # drop them (APP_BROKER_REJECT_UNSUPPORTED_PARAMETERS refuses them instead).
    known = schemas[0].get("properties", {})
    stored = {key: value for key, value in values.items() if key in known}
    return ValidProvisioning(plan, platform_region, provider, cluster_region, stored)


def validate_update(
    policy: RegionPolicy,
    *,
    plan: Plan,
    platform_region: str,
    provider: Provider,
    cluster_region: str,
    parameters: Mapping[str, Any],
    previous: Mapping[str, Any],
    context: Mapping[str, Any],
    catalog: CatalogSettings | None = None,
    gvisor_allowed_global_accounts: Collection[str] = frozenset(),
) -> ValidUpdate:
    """Check an update's ``parameters`` for an instance of ``plan`` provisioned with ``previous``.

    ``platform_region``, ``provider`` and ``cluster_region`` are the instance's. What the update schema
    does not name (``region``, ``networking``, ``modules``, or anything unknown) is accepted, as KEB does,
    but left out of the result: storing it would show settings the runtime never got.
    """
    settings = catalog if catalog is not None else CatalogSettings()
    check_size(parameters)
    schemas = plan_schemas(policy, plan, platform_region, settings.schema_options)
    if schemas is None:
        raise UnprocessableError(
            f"plan {plan.name} is no longer offered in {platform_region}; the instance cannot be updated"
        )
    validate_against_schema(schemas[1], parameters)
    check_semantics(
        policy=policy,
        plan=plan,
        provider=provider,
        cluster_region=cluster_region,
        parameters=parameters,
        previous=previous,
    )
    external = is_external_licence(context)
    if external:
        check_internal_only_machines(policy.plans.get(plan.name), parameters)
    check_audit_log_access_update(plan, parameters, previous)
    check_ingress_filtering(plan, parameters, settings.schema_options.ingress_filtering_plans, external)
    check_switched_parameters(
        plan, parameters, settings, str(context.get("globalaccount_id", "")), gvisor_allowed_global_accounts
    )
    colocated = previous.get("colocateControlPlane") is True
    if "colocateControlPlane" in parameters and parameters["colocateControlPlane"] is not colocated:
        # KEB's update schema has no colocateControlPlane and its update drops it; keb refuses a change
        # rather than accept it silently. The provisioned value may be sent back unchanged.
        raise InvalidParametersError("colocateControlPlane cannot be changed after provisioning")
    updatable = schemas[1].get("properties", {})
    return ValidUpdate(plan, {key: value for key, value in parameters.items() if key in updatable})
