"""The service instance: one Kyma runtime as the broker knows it."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from keb_domain.errors import (
    InstanceConflictError,
    InvalidParametersError,
    InvalidRequestError,
    UnprocessableError,
)
from keb_domain.model.operation import (
    Operation,
    OperationState,
    OperationType,
    first_provisioning,
    latest_deprovisioning,
)
from keb_domain.model.plans import PLANS_BY_ID, PlanKind, Provider

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

    @property
    def is_trial(self) -> bool:
        plan = PLANS_BY_ID.get(self.plan_id)
        return plan is not None and plan.is_trial

    @property
    def expires(self) -> bool:
        """Trial and free runtimes expire after a period; the others live until deprovisioned."""
        plan = PLANS_BY_ID.get(self.plan_id)
        return plan is not None and plan.kind in (PlanKind.TRIAL, PlanKind.FREE)

    def expiry(self, now: datetime, *, trial_days: float, free_days: float) -> Expiry | None:
        """How long a trial or free runtime has left, counted from its creation; None for other plans."""
        if not self.expires:
            return None
        days = trial_days if self.is_trial else free_days
        left = (self.created_at + timedelta(days=days) - now).days
        return Expiry(trial=self.is_trial, days_left=left, expired=self.is_expired or left < 0)

    def summary(self, now: datetime, *, trial_days: float, free_days: float) -> InstanceSummary:
        """What instance responses show besides the parameters (KEB's response labels say it in words)."""
        return InstanceSummary(
            instance_id=self.instance_id,
            name=self.cluster_name,
            has_runtime=bool(self.runtime_id),
            expiry=self.expiry(now, trial_days=trial_days, free_days=free_days),
        )

    # --- events -------------------------------------------------------------------------------------------

    def with_runtime(self, runtime_id: str, now: datetime) -> Instance:
        return attrs.evolve(self, runtime_id=runtime_id, updated_at=now)

    def with_credentials_binding(self, name: str, now: datetime) -> Instance:
        return attrs.evolve(self, credentials_binding=name, updated_at=now)

    def with_last_operation(self, operation_id: str, now: datetime) -> Instance:
        return attrs.evolve(self, last_operation_id=operation_id, updated_at=now)

    def provisioning_repeated(self, operations: Sequence[Operation], request_digest: str) -> Operation:
        """The provisioning an identical repeated PUT answers with; a request that differs is a conflict."""
        original = first_provisioning(operations)
        if original is None or original.request_digest != request_digest:
            raise InstanceConflictError(
                f"instance {self.instance_id} already exists with different attributes"
            )
        return original

    def update_requested(
        self,
        *,
        plan_id: str,
        plan_name: str,
        parameters: Mapping[str, Any],
        context: Mapping[str, Any] | None,
        operations: Sequence[Operation],
        now: datetime,
    ) -> UpdateDecision:
        """What a PATCH does to this instance (keb-reference §1.6, decisions.md §3).

        ``parameters`` are the validated ones the update may change; ``context`` is the platform's, as sent.
        Raises the domain errors of the refusals; a refused update changes nothing.
        """
        if self.is_expired:
            if context and context.get("globalaccount_id"):
                return UpdateDecision(UpdateKind.IGNORED, self)  # KEB: 200 {} and nothing else
            raise InvalidRequestError("cannot update an expired instance")
        original = first_provisioning(operations)
        if original is not None and original.state is OperationState.FAILED:
            raise UnprocessableError("Unable to process an update of a failed instance")
        if latest_deprovisioning(operations) is not None:
            raise UnprocessableError("Unable to process an update of a deprovisioned instance")
        merged_context = {**self.context, **public_context(context or {})}
        activity = self._activity_changed(context, merged_context, operations, now)
        if activity is not None:
            return activity
        merged = {**self.parameters, **parameters}
        if merged == dict(self.parameters) and plan_id == self.plan_id:
            running = [op for op in operations if op.type is OperationType.UPDATE and not op.state.is_final]
            unchanged = (
                self
                if merged_context == dict(self.context)
                else attrs.evolve(self, context=merged_context, updated_at=now)
            )
            return UpdateDecision(UpdateKind.UNCHANGED, unchanged, running[-1] if running else None)
        changed = attrs.evolve(
            self,
            parameters=merged,
            context=merged_context,
            plan_id=plan_id,
            plan_name=plan_name if plan_id != self.plan_id else self.plan_name,
            updated_at=now,
        )
        return UpdateDecision(UpdateKind.CHANGE, changed)

    def _activity_changed(
        self,
        context: Mapping[str, Any] | None,
        merged_context: Mapping[str, Any],
        operations: Sequence[Operation],
        now: datetime,
    ) -> UpdateDecision | None:
        """A trial's ``context.active`` flipped: false suspends it, true unsuspends it (KEB's trial model)."""
        if not (self.is_trial and context and "active" in context):
            return None
        active = context["active"] is not False
        if active != self.suspended:
            return None  # already as asked
        flipped = attrs.evolve(self, context=dict(merged_context), updated_at=now)
        if not active:
            return UpdateDecision(UpdateKind.SUSPEND, flipped)
        suspensions = [op for op in operations if op.is_suspension]
        if suspensions and suspensions[-1].state is OperationState.FAILED:
            raise UnprocessableError(
                "Unable to unsuspend: the preceding suspension failed; suspend it again first"
            )
        return UpdateDecision(UpdateKind.UNSUSPEND, flipped)

    def expire(self, now: datetime) -> Instance:
        """``PUT /expire/service_instance``: a trial or free runtime expires (once) and is suspended."""
        if not self.expires:
            raise InvalidParametersError(f"plan {self.plan_name} does not expire; only trial and free do")
        return attrs.evolve(
            self,
            expired_at=self.expired_at or now,
            context={**self.context, "active": False},
            updated_at=now,
        )


@attrs.frozen
class Expiry:
    """How long a trial or free runtime has left."""

    trial: bool  # a trial; else the free plan
    days_left: int  # whole days; negative once the period is over
    expired: bool  # expired by the platform, or the period is over


@attrs.frozen
class InstanceSummary:
    """What instance responses show about an instance besides its parameters."""

    instance_id: str
    name: str  # the ``name`` parameter
    has_runtime: bool  # a runtime exists, so its kubeconfig can be fetched
    expiry: Expiry | None = None  # trial and free only


class UpdateKind(enum.Enum):
    IGNORED = "ignored"  # an expired instance moved to another global account: nothing to do
    UNCHANGED = "unchanged"  # no parameter or plan change (the context may be stored): answered at once
    SUSPEND = "suspend"  # a trial's context.active became false: a suspension runs in the background
    UNSUSPEND = "unsuspend"  # ... became true again: an unsuspension runs in the background
    CHANGE = "change"  # parameters or plan change: an update operation applies them

    @property
    def operation(self) -> tuple[OperationType, bool, str] | None:
        """The operation this update starts: its type, whether it is temporary, and why it exists."""
        return {
            UpdateKind.SUSPEND: (OperationType.DEPROVISION, True, "Suspension requested"),
            UpdateKind.UNSUSPEND: (OperationType.PROVISION, True, "Unsuspension requested"),
            UpdateKind.CHANGE: (OperationType.UPDATE, False, "Update requested"),
        }.get(self)


@attrs.frozen
class UpdateDecision:
    """The model's answer to an update request: what happens, and the instance as it is to be stored."""

    kind: UpdateKind
    instance: Instance
    running: Operation | None = None  # UNCHANGED: the update still running, which the answer names


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
