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
class CatalogPlan:
    """A plan as a platform region's catalog offers it, with its draft-04 JSON schemas."""

    plan: Plan
    create_schema: Mapping[str, Any]  # the provisioning parameters
    update_schema: Mapping[str, Any]  # the parameters an update may change
    bindable: bool
    upgradable: bool  # OSB ``plan_updateable``: the plan may be changed to another by an update

    @property
    def id(self) -> str:
        return self.plan.id

    @property
    def name(self) -> str:
        return self.plan.name


@attrs.frozen
class Catalog:
    """The plans one platform region offers, sorted by name (as KEB)."""

    platform_region: str
    plans: tuple[CatalogPlan, ...]

    def plan(self, name_or_id: str) -> CatalogPlan | None:
        """The offered plan with this name or id; None when the platform region does not offer it."""
        return next((p for p in self.plans if name_or_id in (p.plan.name, p.plan.id)), None)


def catalog_for(
    policy: RegionPolicy, platform_region: str, settings: CatalogSettings | None = None
) -> Catalog:
    """The plans a platform region offers: enabled, with regions there, and their schemas.

    ``platform_region`` is taken as written: pass ``policy.served_platform_region(name)`` for a name from
    outside, which refuses names the policy does not serve. ``settings`` default: every plan, bindable.
    """
    settings = settings if settings is not None else CatalogSettings()
    plans: list[CatalogPlan] = []
    for plan in sorted(ALL_PLANS, key=lambda p: p.name):
        if plan.name not in settings.enabled_plans:
            continue
        schemas = plan_schemas(policy, plan, platform_region, settings.schema_options)
        if schemas is None:
            continue
        config = policy.plans.get(plan.name)
        plans.append(
            CatalogPlan(
                plan=plan,
                create_schema=schemas[0],
                update_schema=schemas[1],
                bindable=settings.is_bindable(plan),
                upgradable=settings.plan_upgrades_enabled and bool(config and config.upgradable_to),
            )
        )
    return Catalog(platform_region, tuple(plans))


def build_catalog(policy: RegionPolicy, settings: CatalogSettings, platform_region: str) -> dict[str, Any]:
    """The ``GET /v2/catalog`` body for a platform region; plans sorted by name, as KEB."""
    plans: list[dict[str, Any]] = []
    for offered in catalog_for(policy, platform_region, settings).plans:
        plan = offered.plan
        entry: dict[str, Any] = {
            "id": plan.id,
            "name": plan.name,
            "description": plan.display_name,
            "metadata": {"displayName": plan.display_name},
            "plan_updateable": offered.upgradable,
            "schemas": {
                "service_instance": {
                    "create": {"parameters": offered.create_schema},
                    "update": {"parameters": offered.update_schema},
                },
            },
        }
        if offered.bindable:
            entry["bindable"] = True
        plans.append(entry)
    return {
        "services": [
            {
                "id": KYMA_SERVICE_ID,
                "name": KYMA_SERVICE_NAME,
                "description": SERVICE_DESCRIPTION,
                "bindable": False,
                "instances_retrievable": True,
                "bindings_retrievable": True,
                "plan_updateable": False,
                "allow_context_updates": True,
                "tags": ["SAP", "Kyma"],
                "metadata": {
                    "displayName": "Kyma Environment",
                    "longDescription": SERVICE_DESCRIPTION,
                    "providerDisplayName": "SAP",
                    "documentationUrl": settings.documentation_url,
                    "supportUrl": settings.support_url,
                },
                "plans": plans,
            }
        ]
    }
