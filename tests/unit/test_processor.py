"""The operation processor against the memory control plane: retries, timeouts, cancellation, suspension."""

from __future__ import annotations

from datetime import datetime

import pytest

from keb_domain.errors import ClusterUnavailableError
from keb_domain.model.operation import OperationState
from keb_domain.model.resources import resource_name
from keb_domain.usecases.instances import DEPROVISIONED_DESCRIPTION, DeprovisionCommand
from keb_domain.usecases.processing import CANCELLED, SLOW_PROVISIONING, TIME_LIMIT
from tests.support import AWS, SERVICE, TRIAL, context
from tests.unit.harness import Core, make_core, provision_command, update_command

NEVER = 10**9  # seconds: a Runtime that never turns Ready on its own


async def provisioned(core: Core, instance_id: str = "inst-1", plan_id: str = "") -> str:
    """Provision and run until settled; returns the provisioning operation id."""
    params = {"name": "trial-1"} if plan_id == TRIAL else None
    result = await core.instances.provision(provision_command(instance_id, plan_id, params))
    await core.settle()
    assert core.operation(result.operation_id).state is OperationState.SUCCEEDED
    return result.operation_id


def runtime_name(core: Core, instance_id: str = "inst-1") -> str:
    runtime_id = core.instance(instance_id).runtime_id
    assert runtime_id, "the instance has no runtime"
    return resource_name(runtime_id)


# --- temporary failures -------------------------------------------------------------------------------


async def test_an_unavailable_control_plane_is_retried_with_growing_backoff_and_then_succeeds() -> None:
    """ClusterUnavailableError is temporary: the stage is retried after 1s, 2s, 4s, then goes on."""
    core = make_core()
    for _ in range(3):
        core.kcp.fail_next("create_runtime", ClusterUnavailableError("KCP answered 503"))
    operation_id = (await core.instances.provision(provision_command())).operation_id
    waits: list[float] = []
    for _ in range(3):
        started = core.clock.now()
        due = await core.processor.process(operation_id)
        assert isinstance(due, datetime)
        assert (await core.instances.last_operation("inst-1", operation_id)).state == "in progress"
        waits.append((due - started).total_seconds())
        core.clock.current = due
    assert waits == [1.0, 2.0, 4.0]
    assert await core.processor.process(operation_id) is None
    assert core.operation(operation_id).state is OperationState.SUCCEEDED
    assert core.kcp.runtimes[runtime_name(core)]["status"]["state"] == "Ready"


async def test_backoff_is_capped() -> None:
    """However often a call fails, the next attempt is at most retry_max away."""
    pacing = make_core().config.pacing
    assert [pacing.backoff(n) for n in (0, 1, 5, 6, 40)] == [1.0, 2.0, 32.0, 60.0, 60.0]


# --- provisioning timeouts ----------------------------------------------------------------------------


async def test_a_failed_runtime_fails_provisioning_only_after_the_create_timeout() -> None:
    """KEB waits out CheckRuntimeResourceCreate (60m) on Failed, then deletes the Runtime and fails."""
    core = make_core(ready_after=NEVER)
    operation_id = (await core.instances.provision(provision_command())).operation_id
    await core.processor.process(operation_id)
    name = runtime_name(core)
    core.kcp.fail_runtime(name, "quota exceeded")

    core.clock.advance(3599)
    await core.processor.process(operation_id)
    assert core.operation(operation_id).state is OperationState.IN_PROGRESS
    assert name in core.kcp.runtimes

    core.clock.advance(1)
    assert await core.processor.process(operation_id) is None
    status = await core.instances.last_operation("inst-1", operation_id)
    assert status.state == "failed"
    assert status.description.startswith("Runtime resource in Failed state")
    assert "quota exceeded" in status.description
    assert name not in core.kcp.runtimes


async def test_a_runtime_that_never_turns_ready_fails_after_the_create_timeout() -> None:
    """A Runtime stuck in Pending fails provisioning after 60m and is deleted."""
    core = make_core(ready_after=NEVER)
    operation_id = (await core.instances.provision(provision_command())).operation_id
    await core.processor.process(operation_id)
    name = runtime_name(core)
    core.clock.advance(3600)
    await core.processor.process(operation_id)
    assert core.operation(operation_id).state is OperationState.FAILED
    assert "did not become Ready" in core.operation(operation_id).description
    assert name not in core.kcp.runtimes


async def test_slow_provisioning_says_so_after_twenty_minutes() -> None:
    """After 20 minutes the description switches to KEB's "takes longer than usual" text."""
    core = make_core(ready_after=NEVER)
    operation_id = (await core.instances.provision(provision_command())).operation_id
    await core.processor.process(operation_id)
    core.clock.advance(19 * 60)
    await core.processor.process(operation_id)
    assert (await core.instances.last_operation("inst-1", None)).description == "Operation created"
    core.clock.advance(60)
    await core.processor.process(operation_id)
    status = await core.instances.last_operation("inst-1", None)
    assert (status.state, status.description) == ("in progress", SLOW_PROVISIONING)


async def test_an_operation_fails_once_it_reaches_the_time_limit() -> None:
    """APP_BROKER_OPERATION_TIMEOUT (24h) bounds a whole operation, whatever step it is in."""
    core = make_core(deletion_delay=NEVER)
    await provisioned(core)
    operation_id = await core.instances.deprovision(DeprovisionCommand("inst-1", SERVICE, AWS))
    await core.processor.process(operation_id)
    assert core.operation(operation_id).state is OperationState.IN_PROGRESS
    core.clock.advance(24 * 3600 + 1)
    assert await core.processor.process(operation_id) is None
    status = await core.instances.last_operation("inst-1", operation_id)
    assert (status.state, status.description) == ("failed", TIME_LIMIT)


# --- update -------------------------------------------------------------------------------------------


async def test_an_update_fails_at_once_when_the_runtime_is_failed() -> None:
    """Unlike provisioning, the update check fails on the first Failed it sees (KEB)."""
    core = make_core()
    await provisioned(core)
    result = await core.instances.update(update_command(parameters={"administrators": ["admin@example.com"]}))
    assert result.operation_id is not None
    core.kcp.fail_runtime(runtime_name(core), "shoot reconcile failed")
    assert await core.processor.process(result.operation_id) is None
    status = await core.instances.last_operation("inst-1", result.operation_id)
    assert status.state == "failed"
    assert status.description == "Runtime resource in Failed state: shoot reconcile failed"


async def test_an_update_rewrites_the_runtime_and_succeeds() -> None:
    """An update's administrators and autoscaler reach the Runtime CR."""
    core = make_core()
    await provisioned(core)
    result = await core.instances.update(
        update_command(parameters={"administrators": ["admin@example.com"], "autoScalerMax": 7})
    )
    await core.settle()
    assert result.operation_id is not None
    assert core.operation(result.operation_id).state is OperationState.SUCCEEDED
    runtime = core.kcp.runtimes[runtime_name(core)]
    assert runtime["spec"]["security"]["administrators"] == ["admin@example.com"]
    assert runtime["spec"]["shoot"]["provider"]["workers"][0]["maximum"] == 7


async def test_a_pending_update_waits_while_another_operation_runs() -> None:
    """An update stays pending, and changes nothing, until the provisioning before it has finished."""
    core = make_core(ready_after=10)
    provisioning = (await core.instances.provision(provision_command())).operation_id
    await core.processor.process(provisioning)
    update = await core.instances.update(update_command(parameters={"administrators": ["a@example.com"]}))
    assert update.operation_id is not None

    due = await core.processor.process(update.operation_id)
    assert due is not None
    assert core.operation(update.operation_id).state is OperationState.PENDING
    assert core.kcp.runtimes[runtime_name(core)]["spec"]["security"]["administrators"] == ["user@example.com"]

    core.clock.advance(10)
    await core.processor.process(provisioning)
    assert core.operation(provisioning).state is OperationState.SUCCEEDED
    await core.settle()
    assert core.operation(update.operation_id).state is OperationState.SUCCEEDED
    assert core.kcp.runtimes[runtime_name(core)]["spec"]["security"]["administrators"] == ["a@example.com"]


async def test_a_pending_operation_waits_for_an_older_pending_one() -> None:
    """Operations of one instance start in the order they were requested, whichever is picked first."""
    core = make_core(ready_after=5, deletion_delay=5)
    await provisioned(core, plan_id=TRIAL)
    await core.instances.update(update_command(ctx=context(active=False)))
    suspension = core.operations_of("inst-1")[-1]
    core.clock.advance(1)
    update = await core.instances.update(update_command(parameters={"administrators": ["a@example.com"]}))
    assert update.operation_id is not None

    await core.processor.process(update.operation_id)
    assert core.operation(update.operation_id).state is OperationState.PENDING
    await core.processor.process(suspension.id)
    assert core.operation(suspension.id).state is OperationState.IN_PROGRESS


async def test_an_update_of_a_suspended_trial_succeeds_and_the_unsuspension_applies_it() -> None:
    """A suspended trial has no Runtime to rewrite; its next runtime is built with the new parameters."""
    core = make_core()
    await provisioned(core, plan_id=TRIAL)
    await core.instances.update(update_command(ctx=context(active=False)))
    await core.settle()
    update = await core.instances.update(update_command(parameters={"administrators": ["a@example.com"]}))
    await core.settle()
    assert update.operation_id is not None
    assert core.operation(update.operation_id).state is OperationState.SUCCEEDED
    assert core.kcp.runtimes == {}
    await core.instances.update(update_command(ctx=context(active=True)))
    await core.settle()
    assert core.kcp.runtimes[runtime_name(core)]["spec"]["security"]["administrators"] == ["a@example.com"]


# --- deprovisioning -----------------------------------------------------------------------------------


async def test_a_deprovisioning_cancels_an_in_progress_provisioning_and_removes_everything() -> None:
    """DELETE during provisioning halts it; the Runtime is deleted and the instance archived."""
    core = make_core(ready_after=NEVER, deletion_delay=5)
    provisioning = (await core.instances.provision(provision_command())).operation_id
    await core.processor.process(provisioning)
    name = runtime_name(core)
    deprovisioning = await core.instances.deprovision(DeprovisionCommand("inst-1", SERVICE, AWS))

    await core.processor.process(deprovisioning)
    assert core.operation(provisioning).state is OperationState.FAILED
    assert core.operation(provisioning).description == CANCELLED
    assert await core.processor.process(provisioning) is None

    await core.settle()
    assert core.kcp.runtimes == {}
    assert core.kcp.kymas == {}
    assert core.storage.instances == {}
    assert core.storage.operations == {}
    assert resource_name(core.storage.archive["inst-1"].last_runtime_id) == name
    status = await core.instances.last_operation("inst-1", None)
    assert (status.state, status.description) == ("succeeded", DEPROVISIONED_DESCRIPTION)


async def test_deprovisioning_waits_for_the_runtime_to_be_gone() -> None:
    """The instance is archived only after KIM has removed the Runtime (its finalizer delays it)."""
    core = make_core(deletion_delay=30)
    await provisioned(core)
    name = runtime_name(core)
    operation_id = await core.instances.deprovision(DeprovisionCommand("inst-1", SERVICE, AWS))
    await core.processor.process(operation_id)
    assert "deletionTimestamp" in core.kcp.runtimes[name]["metadata"]
    assert core.kcp.kymas == {}
    assert "inst-1" in core.storage.instances
    core.clock.advance(30)
    await core.settle()
    assert name not in core.kcp.runtimes
    assert "inst-1" in core.storage.archive
    assert "inst-1" not in core.storage.instances


async def test_a_repeated_deprovisioning_answers_with_the_same_operation() -> None:
    """While a deprovisioning is pending or done, another DELETE returns the same operation id."""
    core = make_core(deletion_delay=30)
    await provisioned(core)
    first = await core.instances.deprovision(DeprovisionCommand("inst-1", SERVICE, AWS))
    assert await core.instances.deprovision(DeprovisionCommand("inst-1", SERVICE, AWS)) == first
    await core.processor.process(first)
    assert await core.instances.deprovision(DeprovisionCommand("inst-1", SERVICE, AWS)) == first


# --- suspension ---------------------------------------------------------------------------------------


async def test_suspension_keeps_the_instance_without_runtime_and_unsuspension_creates_a_new_one() -> None:
    """context.active=false removes the CRs but keeps the instance; true provisions a new runtime."""
    core = make_core(ready_after=3, deletion_delay=3)
    await provisioned(core, plan_id=TRIAL)
    before = core.instance("inst-1")

    suspended = await core.instances.update(update_command(ctx=context(active=False)))
    assert suspended.operation_id is None  # 200 while the suspension runs in the background
    await core.settle()
    instance = core.instance("inst-1")
    assert instance.runtime_id == ""
    assert instance.suspended
    assert core.kcp.runtimes == {}
    assert core.kcp.kymas == {}
    assert (await core.instances.last_operation("inst-1", None)).state == "succeeded"

    await core.instances.update(update_command(ctx=context(active=True)))
    await core.settle()
    after = core.instance("inst-1")
    assert after.runtime_id not in ("", before.runtime_id)
    assert after.shoot_name == before.shoot_name
    assert core.kcp.runtimes[resource_name(after.runtime_id)]["status"]["state"] == "Ready"
    assert resource_name(after.runtime_id) in core.kcp.kymas
    assert (await core.instances.last_operation("inst-1", None)).state == "succeeded"


async def test_a_suspended_trial_deprovisions_without_a_runtime() -> None:
    """Deprovisioning a suspended trial archives it; there is nothing left to delete."""
    core = make_core()
    await provisioned(core, plan_id=TRIAL)
    await core.instances.update(update_command(ctx=context(active=False)))
    await core.settle()
    await core.instances.deprovision(DeprovisionCommand("inst-1", SERVICE, AWS))
    await core.settle()
    assert core.storage.instances == {}
    assert core.storage.archive["inst-1"].plan_name == "trial"


@pytest.mark.parametrize("active", [False, True])
async def test_context_active_means_nothing_for_other_plans(active: bool) -> None:
    """Only trial suspends; an aws instance keeps its runtime whatever ``active`` says."""
    core = make_core()
    await provisioned(core)
    name = runtime_name(core)
    result = await core.instances.update(update_command(ctx=context(active=active)))
    await core.settle()
    assert result.operation_id is None
    assert core.kcp.runtimes[name]["status"]["state"] == "Ready"
    assert [op.type.value for op in core.operations_of("inst-1")] == ["provision"]
