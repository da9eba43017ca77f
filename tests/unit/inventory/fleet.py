"""Runtimes for inventory tests: operations, instances and archive rows built directly, and whole fleets.

A fleet is what storage holds for many runtimes at once: live instances with their operations, archived
instances and bindings. ``fleets()`` draws random ones; ``store`` writes one through the storage ports, so
the same fleet stands behind the memory and the SQL inventory.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from keb_domain.model.binding import Binding, CredentialStrategy
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.inventory import RuntimeFilter, RuntimeState
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.model.plans import PLANS_BY_NAME, Provider
from keb_domain.ports import UnitOfWork
from tests import builders
from tests.builders import at

# KEB's operation kinds in the inventory, as (type, temporary).
KINDS: dict[str, tuple[OperationType, bool]] = {
    "provision": (OperationType.PROVISION, False),
    "unsuspension": (OperationType.PROVISION, True),
    "update": (OperationType.UPDATE, False),
    "suspension": (OperationType.DEPROVISION, True),
    "deprovision": (OperationType.DEPROVISION, False),
}
PENDING, IN_PROGRESS = OperationState.PENDING, OperationState.IN_PROGRESS
SUCCEEDED, FAILED = OperationState.SUCCEEDED, OperationState.FAILED

ACCOUNTS = ("ga-1", "ga-2", "ga-3")
SUBACCOUNTS = ("sa-1", "sa-2", "sa-3", "sa-4")
REGIONS = ("eu-central-1", "westeurope", "us-east-1")
SHOOTS = ("c-1", "c-2", "c-3", "c-4")
PLANS = ("aws", "azure", "trial")
RUNTIME_IDS = ("rt-1", "rt-2", "rt-3", "rt-4", "rt-5")
INSTANCE_IDS = ("i-00", "i-01", "i-02", "i-03", "i-04", "i-05", "a-00", "a-01")
PROVIDERS = {"aws": Provider.AWS, "azure": Provider.AZURE, "trial": Provider.AZURE}


def op(
    kind: str,
    state: OperationState,
    seconds: float = 0,
    *,
    instance_id: str = "i-1",
    operation_id: str = "",
    updated_after: float = 1,
) -> Operation:
    """An operation of one of KEB's kinds, created ``seconds`` after T0."""
    type_, temporary = KINDS[kind]
    return Operation(
        id=operation_id or f"{instance_id}-{kind}-{seconds:g}",
        instance_id=instance_id,
        type=type_,
        state=state,
        created_at=at(seconds),
        updated_at=at(seconds + updated_after),
        description=f"{kind} {state.value}",
        temporary=temporary,
        plan_id=PLANS_BY_NAME["aws"].id,
        next_run_at=None if state.is_final else at(seconds),
    )


def instance(instance_id: str = "i-1", **changes: Any) -> Instance:
    """A live aws instance created at T0, with no operation yet; ``changes`` replace fields."""
    fleet = {
        "shoot_name": "c-1",
        "parameters": {"name": f"cluster-{instance_id}", "region": "eu-central-1"},
        "context": {"globalaccount_id": "ga-1", "subaccount_id": "sa-1"},
        "runtime_id": "rt-1",
        "dashboard_url": "",
        "last_operation_id": "",
    }
    return builders.instance(instance_id, **{**fleet, **changes})


def archived(instance_id: str = "a-1", **changes: Any) -> ArchivedInstance:
    """An archived aws instance created at T0 and archived an hour later."""
    fleet = {
        "shoot_name": "c-1",
        "last_runtime_id": "rt-1",
        "internal_user": False,
        "last_deprovisioning_finished_at": at(3600),
    }
    return builders.archived(instance_id, **{**fleet, **changes})


def binding(instance_id: str, binding_id: str = "b-1", seconds: float = 0) -> Binding:
    return Binding(
        instance_id=instance_id,
        binding_id=binding_id,
        strategy=CredentialStrategy.GARDENER_ADMIN_KUBECONFIG,
        expiration_seconds=600,
        created_at=at(seconds),
        expires_at=at(seconds + 600),
        created_by="operator@example.com",
        credentials="ciphertext",
    )


@attrs.frozen
class Fleet:
    """What storage holds for a set of runtimes."""

    instances: tuple[Instance, ...] = ()
    operations: tuple[Operation, ...] = ()
    archive: tuple[ArchivedInstance, ...] = ()
    bindings: tuple[Binding, ...] = ()

    def last_operation(self, live: Instance) -> Operation | None:
        return next((o for o in self.operations if o.id == live.last_operation_id), None)

    def has_bindings(self, instance_id: str) -> bool:
        return any(b.instance_id == instance_id for b in self.bindings)

    async def store(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        """Write the whole fleet in one unit of work."""
        async with unit_of_work() as uow:
            for live in self.instances:
                await uow.instances.add(live)
            for operation in self.operations:
                await uow.operations.add(operation)
            for row in self.archive:
                await uow.archive.add(row)
            for held in self.bindings:
                await uow.bindings.add(held)
            await uow.commit()


def runtime(
    number: int,
    history: Sequence[tuple[str, OperationState]],
    *,
    created: float | None = None,
    **changes: Any,
) -> tuple[Instance, list[Operation]]:
    """Instance ``i-NN`` with operations of ``history`` a minute apart; it last started the last one that
    is not pending (as the processor records it)."""
    instance_id = f"i-{number:02d}"
    start = created if created is not None else number * 600.0
    operations = [
        op(kind, state, start + index * 60, instance_id=instance_id, operation_id=f"{instance_id}-o{index}")
        for index, (kind, state) in enumerate(history)
    ]
    started = [o for o in operations if o.state is not PENDING]
    live = instance(
        instance_id,
        created_at=at(start),
        updated_at=at(start),
        last_operation_id=started[-1].id if started else "",
        **changes,
    )
    return live, operations


# --- random fleets ---------------------------------------------------------------------------------------

# A later operation: any kind in any state, drawn at once (see _LIVE_ATTRIBUTES below for why).
_LATER_OPERATION = st.sampled_from(list(itertools.product(KINDS, [PENDING, IN_PROGRESS, SUCCEEDED, FAILED])))


@st.composite
def _history(draw: st.DrawFn) -> list[tuple[str, OperationState]]:
    """A first provisioning (never pending: it starts right away) and up to four later operations."""
    first = draw(st.sampled_from([IN_PROGRESS, SUCCEEDED, FAILED]))
    later = draw(st.lists(_LATER_OPERATION, max_size=4))
    return [("provision", first), *later]


# One live instance's attributes, drawn as one element of their product: the same independent, uniform
# choices as one draw per attribute, at a fraction of Hypothesis's cost per draw (fleets are drawn often).
_LIVE_ATTRIBUTES = st.sampled_from(
    list(
        itertools.product(
            PLANS,
            ACCOUNTS,
            SUBACCOUNTS,
            (None, True, False),  # context.active: absent, true, false
            range(9),  # creation slot: few distinct times, so that ties (broken by instance id) are common
            (0, 0.25),
            REGIONS,
            SHOOTS,
            ("", *RUNTIME_IDS),
            (None, at(86_400)),  # expired_at
        )
    )
)


@st.composite
def _live(draw: st.DrawFn, number: int) -> tuple[Instance, list[Operation]]:
    plan, account, subaccount, active, slot, offset, region, shoot, runtime_id, expired_at = draw(
        _LIVE_ATTRIBUTES
    )
    context: dict[str, Any] = {"globalaccount_id": account, "subaccount_id": subaccount}
    if active is not None:
        context["active"] = active
    return runtime(
        number,
        draw(_history()),
        created=slot * 600.0 + offset,
        plan_id=PLANS_BY_NAME[plan].id,
        plan_name=plan,
        provider=PROVIDERS[plan],
        global_account_id=account,
        subaccount_id=subaccount,
        cluster_region=region,
        shoot_name=shoot,
        runtime_id=runtime_id,
        context=context,
        expired_at=expired_at,
    )


_ARCHIVED_ATTRIBUTES = st.sampled_from(
    list(itertools.product(PLANS, ACCOUNTS, SUBACCOUNTS, REGIONS, SHOOTS, RUNTIME_IDS, range(9)))
)


@st.composite
def _archived(draw: st.DrawFn, number: int) -> ArchivedInstance:
    plan, account, subaccount, region, shoot, runtime_id, slot = draw(_ARCHIVED_ATTRIBUTES)
    return archived(
        f"a-{number:02d}",
        global_account_id=account,
        subaccount_id=subaccount,
        plan_id=PLANS_BY_NAME[plan].id,
        plan_name=plan,
        cluster_region=region,
        shoot_name=shoot,
        last_runtime_id=runtime_id,
        created_at=at(slot * 600.0),
    )


@st.composite
def fleets(draw: st.DrawFn, max_live: int = 25, max_archived: int = 8) -> Fleet:
    """A random fleet: live instances ``i-NN``, archived ones ``a-NN``, bindings on some of either."""
    lives = [draw(_live(n)) for n in range(draw(st.integers(0, max_live)))]
    archive = [draw(_archived(n)) for n in range(draw(st.integers(0, max_archived)))]
    ids = [i.instance_id for i, _ in lives] + [a.instance_id for a in archive]
    bound = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    return Fleet(
        instances=tuple(i for i, _ in lives),
        operations=tuple(o for _, ops in lives for o in ops),
        archive=tuple(archive),
        bindings=tuple(binding(instance_id, "b-1") for instance_id in bound),
    )


def _values(pool: Sequence[str]) -> st.SearchStrategy[tuple[str, ...]]:
    """Mostly no filter (seven keys filtering at once would leave nothing to page through); otherwise one
    or two values, sometimes one nobody has."""
    some = st.lists(st.sampled_from([*pool, "nobody"]), min_size=1, max_size=2, unique=True).map(tuple)
    return st.integers(0, 4).flatmap(lambda roll: some if roll == 0 else st.just(()))


_rarely = st.sampled_from([False, False, False, True])


def filters(
    *,
    accounts: Sequence[str] = ACCOUNTS,
    subaccounts: Sequence[str] = SUBACCOUNTS,
    instance_ids: Sequence[str] = INSTANCE_IDS,
    runtime_ids: Sequence[str] = RUNTIME_IDS,
    regions: Sequence[str] = REGIONS,
    shoots: Sequence[str] = SHOOTS,
    plans: Sequence[str] = PLANS,
) -> st.SearchStrategy[RuntimeFilter]:
    """Any ``GET /runtimes`` filter over these values (by default the pools ``fleets()`` draws from)."""
    return st.builds(
        RuntimeFilter,
        accounts=_values(accounts),
        subaccounts=_values(subaccounts),
        instance_ids=_values(instance_ids),
        runtime_ids=_values(runtime_ids),
        regions=_values(regions),
        shoots=_values(shoots),
        plans=_values(plans),
        states=st.one_of(
            st.just(()),
            st.lists(st.sampled_from(list(RuntimeState)), min_size=1, max_size=3, unique=True).map(tuple),
        ),
        expired=_rarely,
        with_bindings=_rarely,
    )


def filters_for(fleet: Fleet) -> st.SearchStrategy[RuntimeFilter]:
    """Filters over the values a given fleet holds."""

    def pool(*values: str) -> tuple[str, ...]:
        return tuple(sorted({v for v in values if v}))

    lives, gone = fleet.instances, fleet.archive
    return filters(
        accounts=pool(*(i.global_account_id for i in lives), *(a.global_account_id for a in gone)),
        subaccounts=pool(*(i.subaccount_id for i in lives), *(a.subaccount_id for a in gone)),
        instance_ids=pool(*(i.instance_id for i in lives), *(a.instance_id for a in gone)),
        runtime_ids=pool(*(i.runtime_id for i in lives), *(a.last_runtime_id for a in gone)),
        regions=pool(*(i.cluster_region for i in lives), *(a.cluster_region for a in gone)),
        shoots=pool(*(i.shoot_name for i in lives), *(a.shoot_name for a in gone)),
        plans=pool(*(i.plan_name for i in lives), *(a.plan_name for a in gone)),
    )
