"""The service instance: one Kyma runtime as the broker knows it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from keb_domain.model.plans import Provider

# KEB's ``IsExternalLicenseType``: these licences belong to accounts outside SAP.
EXTERNAL_LICENCE_TYPES = ("CUSTOMER", "PARTNER", "TRIAL")


def is_external_licence(context: Mapping[str, Any]) -> bool:
    """Whether the platform context names an external licence (no egress filter, no internal machines)."""
    return str(context.get("license_type", "")).upper() in EXTERNAL_LICENCE_TYPES


# ERS context fields that carry credentials; they are never stored (keb-reference §1.4).
SECRET_CONTEXT_FIELDS = ("sm_operator_credentials",)


def public_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The context without credentials, as it may be stored and shown."""
    return {k: v for k, v in context.items() if k not in SECRET_CONTEXT_FIELDS}


def redacted_context(context: Mapping[str, Any] | None) -> str:
    """``repr`` of a request context: credential fields are named but their values never shown."""
    if context is None:
        return "None"
    shown = {k: ("<redacted>" if k in SECRET_CONTEXT_FIELDS else v) for k, v in context.items()}
    return repr(shown)


@attrs.frozen
class Instance:
    """A provisioned (or provisioning) Kyma runtime."""

    instance_id: str
    service_id: str
    plan_id: str
    plan_name: str
    global_account_id: str
    subaccount_id: str
    user_id: str
    platform_region: str
    provider: Provider
    cluster_region: str
    shoot_name: str
    created_at: datetime
    updated_at: datetime
    parameters: Mapping[str, Any] = attrs.field(factory=dict)  # the user's, as provisioned and updated
    context: Mapping[str, Any] = attrs.field(factory=dict)  # the ERS context, without credentials
    eu_access: bool = False
    dashboard_url: str = ""
    runtime_id: str = ""
    last_operation_id: str = ""
    expired_at: datetime | None = None
    version: int = 0
    # The Gardener CredentialsBinding claimed from a hyperscaler account pool (KEB's SubscriptionSecretName).
    credentials_binding: str = ""

    @property
    def cluster_name(self) -> str:
        """The ``name`` parameter: kubeconfig context and cluster name, ``Name`` label."""
        return str(self.parameters.get("name", ""))

    @property
    def suspended(self) -> bool:
        """A trial whose platform set ``context.active`` to false."""
        return self.context.get("active") is False

    @property
    def is_expired(self) -> bool:
        return self.expired_at is not None

    def with_runtime(self, runtime_id: str, now: datetime) -> Instance:
        return attrs.evolve(self, runtime_id=runtime_id, updated_at=now)

    def with_credentials_binding(self, name: str, now: datetime) -> Instance:
        return attrs.evolve(self, credentials_binding=name, updated_at=now)

    def with_last_operation(self, operation_id: str, now: datetime) -> Instance:
        return attrs.evolve(self, last_operation_id=operation_id, updated_at=now)

    def with_parameters(self, parameters: Mapping[str, Any], now: datetime) -> Instance:
        return attrs.evolve(self, parameters=dict(parameters), updated_at=now)

    def with_context(self, context: Mapping[str, Any], now: datetime) -> Instance:
        return attrs.evolve(self, context=public_context(context), updated_at=now)

    def with_plan(self, plan_id: str, plan_name: str, now: datetime) -> Instance:
        return attrs.evolve(self, plan_id=plan_id, plan_name=plan_name, updated_at=now)

    def expire(self, now: datetime) -> Instance:
        return attrs.evolve(self, expired_at=now, updated_at=now)


@attrs.frozen
class ArchivedInstance:
    """What remains of a deprovisioned instance (KEB's ``instances_archived``)."""

    instance_id: str
    global_account_id: str
    subaccount_id: str
    plan_id: str
    plan_name: str
    platform_region: str
    cluster_region: str
    provider: str
    shoot_name: str
    last_runtime_id: str
    internal_user: bool
    created_at: datetime  # the instance's creation
    archived_at: datetime
    provisioning_started_at: datetime | None = None
    provisioning_finished_at: datetime | None = None
    provisioning_state: str = ""
    first_deprovisioning_started_at: datetime | None = None
    first_deprovisioning_finished_at: datetime | None = None
    last_deprovisioning_finished_at: datetime | None = None
