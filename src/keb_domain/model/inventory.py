"""The runtime inventory: what ``GET /runtimes`` filters on and how a runtime's state is told.

Rules from KEB's ``internal/runtime`` (keb-reference §5.1): filters OR within a key and AND across keys;
``state`` is judged on the operation the instance last started; without a ``state`` filter, instances
whose last operation is a finished deprovisioning (suspended trials) are left out; ``deprovisioned``
means the archive.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

import attrs

from keb_domain.model.binding import Binding
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.operation import (
    Operation,
    OperationState,
    OperationType,
    first_provisioning,
    latest_deprovisioning,
    started,
)
from keb_domain.model.plans import PLANS_BY_ID

MAX_PAGE_SIZE = 100  # APP_MAX_PAGINATION_PAGE
# The row offset, (page - 1) * page_size, must fit the 64-bit integers SQLite and PostgreSQL count with.
MAX_PAGE = (2**63 - 1) // MAX_PAGE_SIZE
# Ids one /events request may name (instance, runtime and operation ids together): each becomes a bound
# parameter, and PostgreSQL's protocol carries at most 32,767 of them per statement.
MAX_EVENT_IDS = 1000


class RuntimeState(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ERROR = "error"
    PROVISIONING = "provisioning"
    DEPROVISIONING = "deprovisioning"
    UPGRADING = "upgrading"
    UPDATING = "updating"
    SUSPENDED = "suspended"
    DEPROVISIONED = "deprovisioned"
    DEPROVISION_INCOMPLETE = "deprovisionincomplete"
    ALL = "all"


@attrs.frozen
class RuntimeFilter:
    """``GET /runtimes`` query filters; an empty tuple does not filter."""

    accounts: tuple[str, ...] = ()
    subaccounts: tuple[str, ...] = ()
    instance_ids: tuple[str, ...] = ()
    runtime_ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    shoots: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()
    states: tuple[RuntimeState, ...] = ()
    expired: bool = False
    with_bindings: bool = False

    @property
    def wants_archive(self) -> bool:
        return RuntimeState.DEPROVISIONED in self.states and not self.expired

    @property
    def wants_live(self) -> bool:
        return not self.states or any(s is not RuntimeState.DEPROVISIONED for s in self.states)


@attrs.frozen
class RuntimeRecord:
    """One runtime of a ``/runtimes`` page: a live instance with its history, or an archived one."""

    instance: Instance | None = None
    archived: ArchivedInstance | None = None
    operations: tuple[Operation, ...] = ()
    bindings: tuple[Binding, ...] = ()

    @property
    def instance_id(self) -> str:
        if self.instance is not None:
            return self.instance.instance_id
        return self.archived.instance_id if self.archived is not None else ""


@attrs.frozen
class RuntimesPage:
    records: tuple[RuntimeRecord, ...]
    total: int


@attrs.frozen
class InfoRuntime:
    """One item of ``/info/runtimes`` (keb-reference §5.2)."""

    instance: Instance
    provisioning: Operation | None  # the first provisioning
    deprovisioning: Operation | None  # the latest deprovisioning that is not a suspension
    modified_at: datetime  # the last operation's update, else the instance's


def kind(operation: Operation) -> str:
    """KEB's operation type names: suspension and unsuspension are their own kinds in the inventory."""
    if operation.type is OperationType.DEPROVISION:
        return "suspension" if operation.temporary else "deprovision"
    if operation.type is OperationType.PROVISION:
        return "unsuspension" if operation.temporary else "provision"
    return "update"


def derive_state(operations: Sequence[Operation]) -> RuntimeState:
    """``status.state`` of a live runtime from its operations (KEB's ``adjustRuntimeState``)."""
    begun = sorted(started(operations), key=lambda op: (op.created_at, op.id))
    if not begun:
        return RuntimeState.SUCCEEDED
    last = begun[-1]
    operation_kind = kind(last)
    if last.state is OperationState.SUCCEEDED:
        state = {
            "suspension": RuntimeState.SUSPENDED,
            "deprovision": RuntimeState.DEPROVISIONED,
        }.get(operation_kind, RuntimeState.SUCCEEDED)
    elif last.state is OperationState.FAILED:
        state = RuntimeState.ERROR if operation_kind == "update" else RuntimeState.FAILED
    else:
        state = {
            "provision": RuntimeState.PROVISIONING,
            "unsuspension": RuntimeState.PROVISIONING,
            "deprovision": RuntimeState.DEPROVISIONING,
            "suspension": RuntimeState.DEPROVISIONING,
            "update": RuntimeState.UPDATING,
        }[operation_kind]
    suspensions = [op for op in begun if kind(op) == "suspension"]
    unsuspensions = [op for op in begun if kind(op) == "unsuspension"]
    if suspensions and (not unsuspensions or unsuspensions[-1].created_at < suspensions[-1].created_at):
        latest = suspensions[-1]
        if latest.state is OperationState.IN_PROGRESS:
            return RuntimeState.DEPROVISIONING
        if latest.state is OperationState.FAILED:
            return RuntimeState.FAILED
        return RuntimeState.SUSPENDED
    return state


# KEB's handler embeds only the newest 2 updates (numberOfUpgradeOperationsToReturn); the total counts all.
UPDATES_SHOWN = 2


@attrs.frozen
class ShownOperations:
    """Operations of one kind as ``/runtimes`` embeds them: the newest first, and how many there are."""

    operations: tuple[Operation, ...]
    total: int


@attrs.frozen
class RuntimeHistory:
    """What ``/runtimes`` tells of a runtime's life (KEB's runtime handler): state and operations by kind."""

    state: RuntimeState
    modified_at: datetime
    provisioning: Operation | None = None
    deprovisioning: Operation | None = None
    updates: ShownOperations | None = None
    suspensions: ShownOperations | None = None
    unsuspensions: ShownOperations | None = None


def _shown(
    operations: Sequence[Operation], last_only: bool, most: int | None = None
) -> ShownOperations | None:
    if not operations:
        return None
    newest = sorted(operations, key=lambda op: (op.created_at, op.id), reverse=True)
    return ShownOperations(tuple(newest[:1] if last_only else newest[:most]), len(operations))


def live_history(instance: Instance, operations: Sequence[Operation], *, last_only: bool) -> RuntimeHistory:
    """A live runtime's history; ``last_only`` keeps the newest operation of each kind.

    Operations that have not started are not part of the story (KEB skips them too).
    """
    begun = started(operations)
    last = max(begun, key=lambda op: (op.updated_at, op.id), default=None)

    def of_kind(name: str) -> list[Operation]:
        return [op for op in begun if kind(op) == name]

    return RuntimeHistory(
        state=derive_state(begun),
        modified_at=last.updated_at if last else instance.updated_at,
        provisioning=first_provisioning(begun),
        deprovisioning=latest_deprovisioning(begun),
        updates=_shown(of_kind("update"), last_only, UPDATES_SHOWN),
        suspensions=_shown(of_kind("suspension"), last_only),
        unsuspensions=_shown(of_kind("unsuspension"), last_only),
    )


def archived_history(archived: ArchivedInstance) -> RuntimeHistory:
    """A deprovisioned runtime's history: the archive keeps no operations."""
    return RuntimeHistory(
        state=RuntimeState.DEPROVISIONED,
        modified_at=archived.last_deprovisioning_finished_at or archived.archived_at,
    )


@attrs.frozen
class LastOperationIs:
    """A condition on the operation a live instance last started: one of these types, in one of these states.

    The state filters are written as data so that each storage translates the same rule: the memory
    inventory evaluates it (``holds``), the SQL inventory turns it into a ``WHERE`` clause.
    """

    types: frozenset[OperationType]
    states: frozenset[OperationState]

    def holds(self, last: Operation | None) -> bool:
        return last is not None and last.type in self.types and last.state in self.states


_IN_PROGRESS = frozenset({OperationState.IN_PROGRESS})
_SUCCEEDED = frozenset({OperationState.SUCCEEDED})
_FAILED = frozenset({OperationState.FAILED})

# KEB's state filters (keb-reference §5.1), judged on the operation the instance last started.
# ``all`` and ``suspended`` (the trial's ``context.active`` is false) are not about that operation; the
# others (``deprovisioned``, ``deprovisionincomplete``, ``upgrading``) no live instance matches.
STATE_FILTERS: dict[RuntimeState, LastOperationIs] = {
    RuntimeState.PROVISIONING: LastOperationIs(frozenset({OperationType.PROVISION}), _IN_PROGRESS),
    RuntimeState.DEPROVISIONING: LastOperationIs(frozenset({OperationType.DEPROVISION}), _IN_PROGRESS),
    RuntimeState.UPDATING: LastOperationIs(frozenset({OperationType.UPDATE}), _IN_PROGRESS),
    RuntimeState.SUCCEEDED: LastOperationIs(
        frozenset({OperationType.PROVISION, OperationType.UPDATE}), _SUCCEEDED
    ),
    RuntimeState.FAILED: LastOperationIs(
        frozenset({OperationType.PROVISION, OperationType.DEPROVISION}), _FAILED
    ),
    RuntimeState.ERROR: LastOperationIs(frozenset({OperationType.UPDATE}), _FAILED),
}
# Without a ``state`` filter, a finished deprovisioning (a suspended trial) hides the instance.
HIDDEN_BY_DEFAULT = LastOperationIs(frozenset({OperationType.DEPROVISION}), _SUCCEEDED)


def matches_state(state: RuntimeState, instance: Instance, last: Operation | None) -> bool:
    """Whether a live instance passes one ``state`` filter, judged on the operation it last started."""
    if state is RuntimeState.ALL:
        return True
    if state is RuntimeState.SUSPENDED:
        return instance.suspended
    rule = STATE_FILTERS.get(state)
    return rule is not None and rule.holds(last)


def shown_by_default(last: Operation | None) -> bool:
    """Without a ``state`` filter, a finished deprovisioning (a suspended trial) hides the instance."""
    return not HIDDEN_BY_DEFAULT.holds(last)


@attrs.frozen
class Action:
    """An entry of a runtime's ``actions`` (KEB's ``runtime.Action``): a change of plan, for now.

    KEB writes a ``plan_update`` action when it accepts an update that changes the plan; keb reads the same
    facts from its update operations, which record the plan they move to. (``subaccount_movement`` actions
    cannot occur: keb refuses ``APP_BROKER_SUBACCOUNT_MOVEMENT_ENABLED``.)
    """

    id: str
    type: str
    message: str
    old_value: str
    new_value: str
    created_at: datetime


def plan_actions(operations: Sequence[Operation]) -> tuple[Action, ...]:
    """The ``plan_update`` actions of a runtime, oldest first, from its operations' plans."""
    ordered = sorted(operations, key=lambda op: (op.created_at, op.id))
    actions: list[Action] = []
    plan_id = ""
    for op in ordered:
        if op.type is OperationType.UPDATE and plan_id and op.plan_id and op.plan_id != plan_id:
            old, new = PLANS_BY_ID.get(plan_id), PLANS_BY_ID.get(op.plan_id)
            actions.append(
                Action(
                    id=op.id,
                    type="plan_update",
                    message=(
                        f"Plan updated from {old.name if old else ''} (PlanID: {plan_id}) "
                        f"to {new.name if new else ''} (PlanID: {op.plan_id})."
                    ),
                    old_value=plan_id,
                    new_value=op.plan_id,
                    created_at=op.created_at,
                )
            )
        if op.plan_id:
            plan_id = op.plan_id
    return tuple(actions)
