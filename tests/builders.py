"""Domain objects for storage tests: valid by default, changed by keyword."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.model.plans import Provider
from keb_domain.ports import OperationEvent
from tests.support import AWS, SERVICE

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def instance(instance_id: str = "inst-1", **changes: Any) -> Instance:
    base = Instance(
        instance_id=instance_id,
        service_id=SERVICE,
        plan_id=AWS,
        plan_name="aws",
        global_account_id="ga-1",
        subaccount_id="sa-1",
        user_id="user@example.com",
        platform_region="cf-eu10",
        provider=Provider.AWS,
        cluster_region="eu-central-1",
        shoot_name="c-1234567",
        created_at=T0,
        updated_at=T0,
        parameters={"name": "my-cluster", "region": "eu-central-1"},
        context={"globalaccount_id": "ga-1", "subaccount_id": "sa-1", "user_id": "user@example.com"},
        dashboard_url=f"https://dashboard.example/?kubeconfigID={instance_id}",
        last_operation_id="op-1",
    )
    return attrs.evolve(base, **changes)


def operation(
    operation_id: str = "op-1",
    instance_id: str = "inst-1",
    *,
    state: OperationState = OperationState.IN_PROGRESS,
    type: OperationType = OperationType.PROVISION,
    **changes: Any,
) -> Operation:
    base = Operation(
        id=operation_id,
        instance_id=instance_id,
        type=type,
        state=state,
        created_at=T0,
        updated_at=T0,
        plan_id=AWS,
        next_run_at=None if state.is_final else T0,
    )
    return attrs.evolve(base, **changes)


def archived(instance_id: str = "inst-1", **changes: Any) -> ArchivedInstance:
    base = ArchivedInstance(
        instance_id=instance_id,
        global_account_id="ga-1",
        subaccount_id="sa-1",
        plan_id=AWS,
        plan_name="aws",
        platform_region="cf-eu10",
        cluster_region="eu-central-1",
        provider="AWS",
        shoot_name="c-1234567",
        last_runtime_id="runtime-1",
        internal_user=True,
        created_at=T0,
        archived_at=at(3600),
    )
    return attrs.evolve(base, **changes)


def event(
    operation_id: str = "op-1", instance_id: str = "inst-1", message: str = "done", when: datetime = T0
) -> OperationEvent:
    return OperationEvent(instance_id, operation_id, "info", message, when)
