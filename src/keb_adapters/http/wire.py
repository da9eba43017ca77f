"""OSB wire models: what goes over HTTP, decoded, validated and documented by Litestar.

``msgspec.Struct`` rather than attrs here: Litestar decodes, encodes and describes them natively in the
OpenAPI document, and ``omit_defaults`` leaves out optional OSB fields instead of sending ``null``.
Unknown fields are ignored, as the OSB spec requires.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from keb_domain.model.catalog import Catalog


class Wire(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    """Base of every wire model."""


# --- requests ----------------------------------------------------------------------------------------


class ProvisionRequest(Wire):
    service_id: str
    plan_id: str
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    organization_guid: str | None = None
    space_guid: str | None = None


class PreviousValues(Wire):
    plan_id: str | None = None
    service_id: str | None = None


class UpdateRequest(Wire):
    service_id: str
    plan_id: str | None = None
    context: dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None
    previous_values: PreviousValues | None = None


# --- responses ---------------------------------------------------------------------------------------


class Metadata(Wire):
    labels: dict[str, str] = msgspec.field(default_factory=dict)


class ProvisionResponse(Wire):
    """202 (accepted, or still running) or 200 (an identical instance exists and is ready)."""

    operation: str | None = None
    dashboard_url: str | None = None
    metadata: Metadata | None = None


class InstanceResponse(Wire):
    service_id: str
    plan_id: str
    dashboard_url: str | None = None
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    metadata: Metadata | None = None


class UpdateResponse(Wire):
    """200 (done) or 202 (an operation runs)."""

    operation: str | None = None
    dashboard_url: str | None = None
    metadata: Metadata | None = None


class DeprovisionResponse(Wire):
    operation: str | None = None


class LastOperationResponse(Wire):
    state: str
    description: str | None = None


class OsbError(Wire):
    """The OSB error body; ``error`` is a machine-readable key such as ``AsyncRequired``."""

    description: str | None = None
    error: str | None = None


class Empty(Wire):
    """``{}``."""


class BindRequest(Wire):
    service_id: str
    plan_id: str
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    bind_resource: dict[str, Any] | None = None
    app_guid: str | None = None


class Credentials(Wire):
    kubeconfig: str


class BindingMetadata(Wire):
    expires_at: str


class BindingResponse(Wire):
    """``expires_at`` is UTC with one fractional digit and a literal ``Z``, e.g. 2026-11-27T08:00:00.0Z."""

    credentials: Credentials
    metadata: BindingMetadata | None = None


class Health(Wire):
    status: str


# --- formats -----------------------------------------------------------------------------------------


def format_expires_at(moment: datetime) -> str:
    """OSB ``metadata.expires_at``: UTC, one fractional digit, a literal ``Z`` (KEB's layout)."""
    utc = moment.astimezone(UTC)
    return f"{utc.strftime('%Y-%m-%dT%H:%M:%S')}.{utc.microsecond // 100000}Z"


# --- catalog -----------------------------------------------------------------------------------------


def catalog_body(catalog: Catalog) -> dict[str, Any]:
    """The ``GET /v2/catalog`` body (OSB's shape, KEB's texts); the schemas go out as the domain made them."""
    plans: list[dict[str, Any]] = []
    for offered in catalog.plans:
        plan = offered.plan
        entry: dict[str, Any] = {
            "id": plan.id,
            "name": plan.name,
            "description": plan.display_name,
            "metadata": {"displayName": plan.display_name},
            "plan_updateable": offered.updateable,
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
                "id": catalog.service_id,
                "name": catalog.service_name,
                "description": catalog.description,
                "bindable": False,
                "instances_retrievable": True,
                "bindings_retrievable": True,
                "plan_updateable": False,
                "allow_context_updates": True,
                "tags": ["SAP", "Kyma"],
                "metadata": {
                    "displayName": "Kyma Environment",
                    "longDescription": catalog.description,
                    "providerDisplayName": "SAP",
                    "documentationUrl": catalog.documentation_url,
                    "supportUrl": catalog.support_url,
                },
                "plans": plans,
            }
        ]
    }
