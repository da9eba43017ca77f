"""The instance model decides what an update, an expiry or a repeated provisioning does, without storage."""

from __future__ import annotations

import pytest

from keb_domain.errors import InstanceConflictError, InvalidParametersError, UnprocessableError
from keb_domain.model.instance import UpdateKind
from keb_domain.model.operation import OperationState, OperationType
from keb_domain.model.plans import PLANS_BY_NAME
from tests.builders import at, instance, operation

TRIAL = PLANS_BY_NAME["trial"]
PROVISIONED = operation(state=OperationState.SUCCEEDED)


def test_an_update_that_changes_nothing_names_the_update_still_running() -> None:
    """Same parameters and plan: no new work; the answer names the update that is still running."""
    running = operation("op-2", type=OperationType.UPDATE, created_at=at(5))
    decision = instance().update_requested(
        plan_id=instance().plan_id,
        plan_name="aws",
        parameters={"name": "my-cluster"},
        context=None,
        operations=[PROVISIONED, running],
        now=at(10),
    )
    assert (decision.kind, decision.instance, decision.running) == (UpdateKind.UNCHANGED, instance(), running)


def test_an_update_merges_parameters_and_context_without_credentials() -> None:
    """A change merges over the stored parameters and context; operator credentials are never kept."""
    decision = instance().update_requested(
        plan_id=instance().plan_id,
        plan_name="aws",
        parameters={"administrators": ["a@example.com"]},
        context={"sm_operator_credentials": {"clientsecret": "x"}, "license_type": "CUSTOMER"},
        operations=[PROVISIONED],
        now=at(10),
    )
    assert decision.kind is UpdateKind.CHANGE
    assert decision.instance.parameters["administrators"] == ["a@example.com"]
    assert decision.instance.parameters["name"] == "my-cluster"
    assert "sm_operator_credentials" not in decision.instance.context
    assert decision.instance.context["license_type"] == "CUSTOMER"
    assert decision.instance.updated_at == at(10)


def test_a_trial_deactivated_by_its_platform_is_suspended() -> None:
    """context.active=false on an active trial is a suspension; true on a suspended one an unsuspension."""
    trial = instance(plan_id=TRIAL.id, plan_name="trial")
    suspend = trial.update_requested(
        plan_id=TRIAL.id,
        plan_name="trial",
        parameters={},
        context={"active": False},
        operations=[PROVISIONED],
        now=at(10),
    )
    assert (suspend.kind, suspend.instance.suspended) == (UpdateKind.SUSPEND, True)
    resume = suspend.instance.update_requested(
        plan_id=TRIAL.id,
        plan_name="trial",
        parameters={},
        context={"active": True},
        operations=[PROVISIONED],
        now=at(20),
    )
    assert (resume.kind, resume.instance.suspended) == (UpdateKind.UNSUSPEND, False)


def test_an_unsuspension_after_a_failed_suspension_is_refused() -> None:
    """A failed suspension must be repeated before the trial can be woken up again."""
    trial = instance(plan_id=TRIAL.id, plan_name="trial", context={"active": False})
    failed = operation("op-2", type=OperationType.DEPROVISION, temporary=True, state=OperationState.FAILED)
    with pytest.raises(UnprocessableError, match="preceding suspension failed"):
        trial.update_requested(
            plan_id=TRIAL.id,
            plan_name="trial",
            parameters={},
            context={"active": True},
            operations=[PROVISIONED, failed],
            now=at(10),
        )


def test_expiry_keeps_the_first_moment_and_suspends() -> None:
    """Expiring twice keeps the first expiry time; the trial is marked inactive; aws never expires."""
    trial = instance(plan_id=TRIAL.id, plan_name="trial")
    twice = trial.expire(at(10)).expire(at(20))
    assert (twice.expired_at, twice.suspended) == (at(10), True)
    with pytest.raises(InvalidParametersError, match="does not expire"):
        instance().expire(at(10))


def test_a_repeated_provisioning_must_be_identical() -> None:
    """The first provisioning answers an identical repeat; any other request digest is a conflict."""
    original = operation(request_digest="abc")
    assert instance().provisioning_repeated([original], "abc") == original
    with pytest.raises(InstanceConflictError):
        instance().provisioning_repeated([original], "other")
