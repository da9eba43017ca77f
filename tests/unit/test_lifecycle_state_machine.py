"""The instance lifecycle as a Hypothesis state machine over the memory adapters.

Random interleavings of provision, re-provision, update, suspend/unsuspend, deprovision, clock moves and
processor runs are checked against a small model of what the broker promises: idempotent re-PUTs,
conflicts, polling that always answers, one trial per global account, and once everything has settled,
a Ready Runtime for exactly the live, active instances.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from keb_domain.errors import (
    InstanceConflictError,
    InstanceGoneError,
    InvalidRequestError,
    OperationNotFoundError,
    UnprocessableError,
)
from keb_domain.model.operation import OperationState, OperationType
from keb_domain.model.plans import PLANS_BY_ID
from keb_domain.model.resources import administrators, resource_name
from keb_domain.usecases.instances import (
    DEPROVISIONED_DESCRIPTION,
    DeprovisionCommand,
    ProvisionCommand,
)
from tests.support import AWS, SERVICE, TRIAL
from tests.unit.harness import Core, make_core, provision_command, update_command

T = TypeVar("T")

INSTANCE_IDS = ("inst-a", "inst-b", "inst-c", "inst-d")
GLOBAL_ACCOUNTS = ("ga-1", "ga-2", "ga-3")
OSB_STATES = {"in progress", "succeeded", "failed"}
OIDC = {
    "clientID": "client",
    "issuerURL": "https://issuer.example.com",
    "groupsClaim": "groups",
    "groupsPrefix": "-",
    "usernameClaim": "sub",
    "usernamePrefix": "-",
    "signingAlgs": ["RS256"],
}
POOL = {"name": "extra", "machineType": "c7i.large", "haZones": True, "autoScalerMin": 3, "autoScalerMax": 4}


@attrs.frozen
class Variant:
    """One way to ask for an instance."""

    plan_id: str
    parameters: dict[str, Any]
    platform_region: str = "cf-eu10"


VARIANTS = (
    Variant(AWS, {"name": "aws-1", "region": "eu-central-1"}),
    Variant(
        AWS,
        {
            "name": "aws-2",
            "region": "us-east-1",
            "machineType": "m6i.xlarge",
            "autoScalerMin": 4,
            "autoScalerMax": 6,
        },
    ),
    Variant(
        AWS,
        {
            "name": "aws-3",
            "region": "eu-central-1",
            "oidc": {"list": [OIDC]},
            "additionalWorkerNodePools": [POOL],
        },
    ),
    Variant(TRIAL, {"name": "trial-1"}),
    Variant(TRIAL, {"name": "trial-2", "provider": "AWS", "region": "us"}, "cf-xy42"),
)
UPDATES = (
    {"administrators": ["admin@example.com"]},
    {"administrators": ["one@example.com", "two@example.com"]},
    {"autoScalerMax": 8},
)


@attrs.define
class Known:
    """What the model remembers of a live instance."""

    command: ProvisionCommand
    operation_id: str
    parameters: dict[str, Any]
    active: bool = True
    deprovision_id: str | None = None

    @property
    def trial(self) -> bool:
        return self.command.plan_id == TRIAL

    @property
    def global_account(self) -> str:
        return str(self.command.context["globalaccount_id"])

    @property
    def should_run(self) -> bool:
        """Once settled, a Runtime must exist: not deprovisioned and not a suspended trial."""
        return self.deprovision_id is None and (self.active or not self.trial)


class InstanceLifecycle(RuleBasedStateMachine):
    """Use cases and processor over the memory adapters, against a model of the instances."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.core: Core = make_core(ready_after=5, deletion_delay=3)
        self.live: dict[str, Known] = {}
        self.archived: set[str] = set()

    def teardown(self) -> None:
        """Every run ends settled and checked, so the final state is always held to the model."""
        try:
            self.settle_and_check()
        finally:
            self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def forget_archived(self) -> None:
        """Deprovisioned instances leave storage when their operation archives them."""
        for instance_id, known in list(self.live.items()):
            if instance_id not in self.core.storage.instances:
                assert known.deprovision_id is not None, f"{instance_id} vanished without a deprovisioning"
                del self.live[instance_id]
                self.archived.add(instance_id)

    def unfinished_update(self, instance_id: str) -> str | None:
        updates = [
            op.id
            for op in self.core.operations_of(instance_id)
            if op.type is OperationType.UPDATE and not op.state.is_final
        ]
        return updates[-1] if updates else None

    # --- requests ---------------------------------------------------------------------------------

    @rule(
        instance_id=st.sampled_from(INSTANCE_IDS),
        variant=st.sampled_from(VARIANTS),
        global_account=st.sampled_from(GLOBAL_ACCOUNTS),
    )
    def provision(self, instance_id: str, variant: Variant, global_account: str) -> None:
        """A PUT: new, identical repeat, or conflicting repeat, depending on what exists."""
        command = provision_command(
            instance_id,
            variant.plan_id,
            variant.parameters,
            platform_region=variant.platform_region,
            ga=global_account,
            sa=f"sa-{instance_id}",
        )
        known = self.live.get(instance_id)
        if known is not None:
            if command == known.command:
                self.check_identical_repeat(instance_id, known)
            else:
                with pytest.raises(InstanceConflictError):
                    self.run(self.core.instances.provision(command))
            return
        if variant.plan_id == TRIAL and any(k.global_account == global_account for k in self.live.values()):
            with pytest.raises(InvalidRequestError, match="only one allowed"):
                self.run(self.core.instances.provision(command))
            assert instance_id not in self.core.storage.instances
            return
        result = self.run(self.core.instances.provision(command))
        assert not result.already_existed
        assert not result.completed
        self.live[instance_id] = Known(command, result.operation_id, dict(variant.parameters))
        self.archived.discard(instance_id)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def provision_again_identically(self, data: st.DataObject) -> None:
        """An identical re-PUT answers with the original operation (even for a trial)."""
        instance_id = data.draw(st.sampled_from(sorted(self.live)))
        self.check_identical_repeat(instance_id, self.live[instance_id])

    def check_identical_repeat(self, instance_id: str, known: Known) -> None:
        result = self.run(self.core.instances.provision(known.command))
        assert result.already_existed
        assert result.operation_id == known.operation_id
        original = self.core.storage.operations.get(known.operation_id)
        assert original is not None
        assert result.completed == (original.state is OperationState.SUCCEEDED)
        assert (result.dashboard_url != "") == result.completed

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data(), parameters=st.sampled_from(UPDATES))
    def update(self, data: st.DataObject, parameters: dict[str, Any]) -> None:
        """A PATCH of parameters: refused once deprovisioning, otherwise accepted."""
        instance_id = data.draw(st.sampled_from(sorted(self.live)))
        known = self.live[instance_id]
        command = update_command(instance_id, parameters=parameters)
        if known.deprovision_id is not None:
            with pytest.raises(UnprocessableError):
                self.run(self.core.instances.update(command))
            return
        running = self.unfinished_update(instance_id)
        result = self.run(self.core.instances.update(command))
        # Only what the plan's update schema names is applied; trial updates have no autoscaler.
        applied = {k: v for k, v in parameters.items() if not (known.trial and k == "autoScalerMax")}
        merged = {**known.parameters, **applied}
        if merged == known.parameters:
            # Nothing changes: 200, or 202 with the update still under way (keb-reference §1.6 step 12).
            assert result.operation_id == running
        else:
            assert result.operation_id not in (None, running)
        known.parameters = merged
        assert self.core.instance(instance_id).parameters == merged

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data(), active=st.booleans())
    def set_active(self, data: st.DataObject, active: bool) -> None:
        """context.active on any instance: only a trial suspends or unsuspends."""
        self.check_set_active(data.draw(st.sampled_from(sorted(self.live))), active)

    @precondition(lambda self: any(known.trial for known in self.live.values()))
    @rule(data=st.data())
    def flip_trial(self, data: st.DataObject) -> None:
        """A trial's platform suspends an active trial or resumes a suspended one."""
        instance_id = data.draw(st.sampled_from(sorted(i for i, known in self.live.items() if known.trial)))
        self.check_set_active(instance_id, not self.live[instance_id].active)

    def check_set_active(self, instance_id: str, active: bool) -> None:
        """A suspension or unsuspension is answered synchronously (200) and runs in the background."""
        known = self.live[instance_id]
        operations_before = len(self.core.operations_of(instance_id))
        command = update_command(instance_id, ctx={"active": active})
        if known.deprovision_id is not None:
            with pytest.raises(UnprocessableError):
                self.run(self.core.instances.update(command))
            return
        running = self.unfinished_update(instance_id)
        result = self.run(self.core.instances.update(command))
        flips = known.trial and active != known.active
        assert result.operation_id == (None if flips else running)
        assert len(self.core.operations_of(instance_id)) == operations_before + (1 if flips else 0)
        if known.trial:
            known.active = active

    @rule(instance_id=st.sampled_from(INSTANCE_IDS))
    def deprovision(self, instance_id: str) -> None:
        """A DELETE: 410 for what does not exist, the same operation for a repeat."""
        known = self.live.get(instance_id)
        if known is None:
            with pytest.raises(InstanceGoneError):
                self.run(self.core.instances.deprovision(DeprovisionCommand(instance_id, SERVICE, AWS)))
            return
        operation_id = self.run(
            self.core.instances.deprovision(DeprovisionCommand(instance_id, SERVICE, AWS))
        )
        if known.deprovision_id is not None:
            assert operation_id == known.deprovision_id
        known.deprovision_id = operation_id

    # --- time and workers -------------------------------------------------------------------------

    @rule(seconds=st.integers(1, 20))
    def advance_clock(self, seconds: int) -> None:
        """Time passes: Runtimes turn Ready, deletions finish, waits run out."""
        self.core.clock.advance(seconds)

    @rule()
    def run_due_operations(self) -> None:
        """The workers run every operation that is due, once."""
        self.run(self.core.run_due())
        self.forget_archived()

    @rule()
    def settle_and_check(self) -> None:
        """Run everything to its end; then the clusters match exactly the live, active instances."""
        self.run(self.core.settle())
        self.forget_archived()
        assert all(op.state.is_final for op in self.core.storage.operations.values())
        expected: set[str] = set()
        for instance_id, known in self.live.items():
            assert known.deprovision_id is None, f"{instance_id} was not archived"
            # Nothing in this world fails: every provisioning, update, suspension and unsuspension succeeds.
            assert [
                op for op in self.core.operations_of(instance_id) if op.state is not OperationState.SUCCEEDED
            ] == []
            instance = self.core.instance(instance_id)
            if not known.should_run:
                assert instance.runtime_id == ""
                continue
            assert instance.runtime_id, f"{instance_id} has no runtime"
            name = resource_name(instance.runtime_id)
            expected.add(name)
            runtime = self.core.kcp.runtimes.get(name)
            assert runtime is not None, f"{instance_id} has no Runtime CR"
            assert runtime["status"]["state"] == "Ready"
            assert runtime["metadata"]["labels"]["kyma-project.io/instance-id"] == instance_id
            assert tuple(runtime["spec"]["security"]["administrators"]) == administrators(instance)
            if "autoScalerMax" in known.parameters and not known.trial:
                workers = runtime["spec"]["shoot"]["provider"]["workers"]
                assert workers[0]["maximum"] == known.parameters["autoScalerMax"]
        assert set(self.core.kcp.runtimes) == expected
        assert set(self.core.kcp.kymas) == expected

    # --- always -----------------------------------------------------------------------------------

    @invariant()
    def storage_holds_exactly_the_live_instances(self) -> None:
        assert set(self.core.storage.instances) == set(self.live)

    @invariant()
    def polling_always_answers(self) -> None:
        """last_operation never fails for a known instance and reports an OSB state."""
        for instance_id in sorted(set(self.live) | self.archived):
            status = self.run(self.core.instances.last_operation(instance_id, None))
            assert status.state in OSB_STATES
            if instance_id not in self.live:
                assert (status.state, status.description) == ("succeeded", DEPROVISIONED_DESCRIPTION)

    @invariant()
    def unknown_instances_have_no_operation(self) -> None:
        for instance_id in set(INSTANCE_IDS) - set(self.live) - self.archived:
            with pytest.raises(OperationNotFoundError):
                self.run(self.core.instances.last_operation(instance_id, None))

    @invariant()
    def one_trial_per_global_account(self) -> None:
        trials = [
            instance.global_account_id
            for instance in self.core.storage.instances.values()
            if PLANS_BY_ID[instance.plan_id].is_trial
        ]
        assert len(trials) == len(set(trials))

    @invariant()
    def every_instance_points_at_one_of_its_operations(self) -> None:
        for instance in self.core.storage.instances.values():
            operation = self.core.storage.operations.get(instance.last_operation_id)
            assert operation is not None
            assert operation.instance_id == instance.instance_id


InstanceLifecycle.TestCase.settings = settings(stateful_step_count=50)
TestInstanceLifecycle = InstanceLifecycle.TestCase
