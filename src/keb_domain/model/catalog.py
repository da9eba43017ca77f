"""The OSB catalog: one service, ``kymaruntime``, and the plans a platform region offers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from keb_domain.errors import InvalidRequestError
from keb_domain.model.plans import ALL_PLANS, KYMA_SERVICE_ID, KYMA_SERVICE_NAME, PLANS_BY_ID, Plan
from keb_domain.model.regions import RegionPolicy
from keb_domain.model.schemas import SchemaOptions, plan_schemas

SERVICE_DESCRIPTION = (
    "Kyma environment is a runtime you can use to build cloud-native Kubernetes-based applications "
    "by using microservices and serverless functions."
)


@attrs.frozen
class CatalogSettings:
    """Which plans are offered and bindable, and the switches that shape their schemas."""

    enabled_plans: frozenset[str] = frozenset(plan.name for plan in ALL_PLANS)
    bindings_enabled: bool = True
    bindable_plans: frozenset[str] = frozenset(plan.name for plan in ALL_PLANS)
    plan_upgrades_enabled: bool = False
    schema_options: SchemaOptions = attrs.field(factory=SchemaOptions)
    documentation_url: str = "https://help.sap.com/docs/btp/sap-business-technology-platform/kyma-environment"
    support_url: str = "https://launchpad.support.sap.com/"

    def is_bindable(self, plan: Plan) -> bool:
        return self.bindings_enabled and plan.name.lower() in {p.lower() for p in self.bindable_plans}


def require_service(service_id: str) -> None:
    """The broker offers one service; any other ``service_id`` is a 400 naming it.

    OSB marks ``service_id`` REQUIRED: an empty one counts as missing (decisions.md §3).
    """
    if not service_id:
        raise InvalidRequestError("service_id: is required and must not be empty")
    if service_id != KYMA_SERVICE_ID:
        raise InvalidRequestError(f"service_id: {service_id!r} is not in the catalog")


def require_plan(plan_id: str | None) -> Plan:
    """A ``plan_id`` the platform must send: non-empty and one of the broker's plans, else a 400."""
    if not plan_id:
        raise InvalidRequestError("plan_id: is required and must not be empty")
    plan = PLANS_BY_ID.get(plan_id)
    if plan is None:
        raise InvalidRequestError(f"plan_id: {plan_id!r} is not in the catalog")
    return plan


def require_instance_plan(plan_id: str, instance_plan_id: str) -> None:
    """Bind and unbind name the instance's own plan (OSB); another plan is a 400."""
    if plan_id != instance_plan_id:
        raise InvalidRequestError(f"plan_id: {plan_id!r} is not the plan of this instance")


def check_guid(name: str, value: str | None) -> None:
    """``organization_guid`` / ``space_guid``: optional, but OSB says non-empty when present."""
    if value is not None and not value.strip():
        raise InvalidRequestError(f"{name}: must not be empty when present")


def offered_plan(
    policy: RegionPolicy, settings: CatalogSettings, plan_id: str, platform_region: str
) -> Plan | None:
    """The plan if this platform region's catalog offers it; None otherwise."""
    plan = PLANS_BY_ID.get(plan_id)
    if plan is None or plan.name not in settings.enabled_plans:
        return None
    return plan if policy.is_available(plan, platform_region) else None


@attrs.frozen
class OfferedPlan:
    """A plan as a platform region's catalog offers it, with its JSON schemas (draft-04)."""

    plan: Plan
    create_schema: Mapping[str, Any]
    update_schema: Mapping[str, Any]
    updateable: bool  # plan upgrades are enabled and this plan may move to another
    bindable: bool

    @property
    def id(self) -> str:
        return self.plan.id

    @property
    def name(self) -> str:
        return self.plan.name


@attrs.frozen
class Catalog:
    """The one service, ``kymaruntime``, and the plans a platform region offers, sorted by name as KEB."""

    plans: tuple[OfferedPlan, ...]
    documentation_url: str
    support_url: str
    service_id: str = KYMA_SERVICE_ID
    service_name: str = KYMA_SERVICE_NAME
    description: str = SERVICE_DESCRIPTION

    def plan(self, name_or_id: str) -> OfferedPlan | None:
        """The offered plan with this name or id; None when the platform region does not offer it."""
        return next((p for p in self.plans if name_or_id in (p.plan.name, p.plan.id)), None)


def catalog_for(
    policy: RegionPolicy, platform_region: str, settings: CatalogSettings | None = None
) -> Catalog:
    """The catalog of a platform region: the enabled plans the region offers, sorted by name, as KEB.

    ``platform_region`` is taken as written: pass ``policy.served_platform_region(name)`` for a name from
    outside, which refuses names the policy does not serve. ``settings`` default: every plan, bindable.
    """
    settings = settings if settings is not None else CatalogSettings()
    plans: list[OfferedPlan] = []
    for plan in sorted(ALL_PLANS, key=lambda p: p.name):
        if plan.name not in settings.enabled_plans:
            continue
        schemas = plan_schemas(policy, plan, platform_region, settings.schema_options)
        if schemas is None:
            continue
        config = policy.plans.get(plan.name)
        plans.append(
            OfferedPlan(
                plan=plan,
                create_schema=schemas[0],
                update_schema=schemas[1],
                updateable=settings.plan_upgrades_enabled and bool(config and config.upgradable_to),
                bindable=settings.is_bindable(plan),
            )
        )
    return Catalog(
        plans=tuple(plans), documentation_url=settings.documentation_url, support_url=settings.support_url
    )
