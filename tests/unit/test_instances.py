"""The instance use cases' answers in the situations decisions.md §3 and keb-reference §1.4-§1.8 name."""

from __future__ import annotations

import attrs
import pytest

from keb_adapters.http.osb import response_labels
from keb_domain.errors import (
    AsyncRequiredError,
    InstanceConflictError,
    InstanceGoneError,
    InstanceNotFoundError,
    InvalidParametersError,
    InvalidRequestError,
    OperationNotFoundError,
    UnprocessableError,
)
from keb_domain.model.operation import OperationState
from keb_domain.usecases.bindings import BindCommand
from keb_domain.usecases.instances import DeprovisionCommand, UpdateCommand
from tests.support import AWS, SERVICE, TRIAL, context
from tests.unit.harness import default_config, make_core, provision_command, update_command

NEVER = 10**9


async def test_an_identical_repeat_after_success_is_complete_with_a_dashboard_url() -> None:
    """decisions.md §3: a repeated PUT of a provisioned instance answers 200 with dashboard_url."""
    core = make_core()
    first = await core.instances.provision(provision_command())
    assert (first.completed, first.dashboard_url) == (False, "")
    await core.settle()
    again = await core.instances.provision(provision_command())
    assert (again.operation_id, again.already_existed, again.completed) == (first.operation_id, True, True)
    assert again.dashboard_url == "https://dashboard.kyma.cloud.sap/?kubeconfigID=inst-1"


async def test_a_repeat_with_another_context_conflicts() -> None:
    """Same instance id, another subaccount: 409, and the stored instance is unchanged."""
    core = make_core()
    await core.instances.provision(provision_command())
    with pytest.raises(InstanceConflictError):
        await core.instances.provision(provision_command(sa="sa-2"))
    assert core.instance("inst-1").subaccount_id == "sa-1"


async def test_an_identical_trial_repeat_is_not_refused_by_the_one_trial_rule() -> None:
    """decisions.md §3: idempotency is checked before the one-trial-per-account quota."""
    core = make_core()
    first = await core.instances.provision(provision_command(plan_id=TRIAL, parameters={"name": "t"}))
    again = await core.instances.provision(provision_command(plan_id=TRIAL, parameters={"name": "t"}))
    assert again.operation_id == first.operation_id


async def test_a_second_trial_for_a_global_account_with_any_instance_is_refused() -> None:
    """One trial per global account: any live instance of the account blocks a new trial."""
    core = make_core()
    await core.instances.provision(provision_command("aws-1"))
    with pytest.raises(InvalidRequestError, match="only one allowed"):
        await core.instances.provision(provision_command("trial-1", TRIAL, {"name": "t"}))
    await core.instances.provision(provision_command("trial-2", TRIAL, {"name": "t"}, ga="ga-2"))
    assert set(core.storage.instances) == {"aws-1", "trial-2"}


async def test_the_one_trial_rule_can_be_switched_off() -> None:
    """APP_BROKER_ONLY_SINGLE_TRIAL_PER_GA=false allows several trials per account."""
    core = make_core(attrs.evolve(default_config(), only_single_trial_per_global_account=False))
    await core.instances.provision(provision_command("trial-1", TRIAL, {"name": "t"}))
    await core.instances.provision(provision_command("trial-2", TRIAL, {"name": "t"}))
    assert set(core.storage.instances) == {"trial-1", "trial-2"}


async def test_fetching_an_instance_is_404_until_provisioning_succeeds() -> None:
    """keb-reference §1.5: GET instance is 404 while provisioning runs; then it shows the parameters."""
    core = make_core(ready_after=10)
    await core.instances.provision(provision_command())
    with pytest.raises(InstanceNotFoundError, match="in progress"):
        await core.instances.get("inst-1")
    await core.settle()
    view = await core.instances.get("inst-1")
    assert (view.plan_id, view.parameters) == (AWS, {"name": "my-cluster", "region": "eu-central-1"})
    labels = response_labels(view.summary, core.config.broker_url)
    assert labels["Name"] == "my-cluster"
    assert labels["KubeconfigURL"].endswith("/kubeconfig/inst-1")


async def test_a_failed_provisioning_makes_the_instance_404_and_refuses_updates() -> None:
    """An instance whose provisioning failed cannot be fetched or updated (422)."""
    core = make_core(ready_after=NEVER)
    await core.instances.provision(provision_command())
    await core.run_due()
    core.clock.advance(3600)
    await core.settle()
    with pytest.raises(InstanceNotFoundError, match="failed"):
        await core.instances.get("inst-1")
    with pytest.raises(UnprocessableError, match="failed instance"):
        await core.instances.update(update_command(parameters={"administrators": ["a@example.com"]}))


async def test_an_update_needing_work_requires_accepts_incomplete() -> None:
    """decisions.md §3: 422 AsyncRequired when an update would start an operation synchronously."""
    core = make_core()
    await core.instances.provision(provision_command())
    await core.settle()
    command = attrs.evolve(
        update_command(parameters={"administrators": ["a@example.com"]}), accepts_incomplete=False
    )
    with pytest.raises(AsyncRequiredError):
        await core.instances.update(command)
    assert "administrators" not in core.instance("inst-1").parameters


async def test_an_update_without_changes_is_synchronous() -> None:
    """Parameters equal to the stored ones need no operation."""
    core = make_core()
    await core.instances.provision(provision_command())
    await core.settle()
    result = await core.instances.update(update_command(parameters={"name": "my-cluster"}))
    assert result.operation_id is None
    assert len(core.operations_of("inst-1")) == 1


async def test_an_update_of_a_deprovisioned_instance_is_refused() -> None:
    """Once a deprovisioning exists, updates are 422."""
    core = make_core(deletion_delay=NEVER)
    await core.instances.provision(provision_command())
    await core.settle()
    await core.instances.deprovision(DeprovisionCommand("inst-1", SERVICE, AWS))
    with pytest.raises(UnprocessableError, match="deprovisioned"):
        await core.instances.update(update_command(parameters={"administrators": ["a@example.com"]}))


async def test_updates_of_unknown_instances_or_services_are_refused() -> None:
    """An unknown instance is 404, an unknown service_id 400."""
    core = make_core()
    with pytest.raises(InstanceNotFoundError):
        await core.instances.update(update_command("nope", parameters={"administrators": []}))
    await core.instances.provision(provision_command())
    with pytest.raises(InvalidRequestError, match="service_id"):
        await core.instances.update(UpdateCommand("inst-1", service_id="other", accepts_incomplete=True))


async def test_a_plan_change_is_refused_unless_upgrades_are_enabled() -> None:
    """keb-reference §1.6 step 10: plan upgrades need APP_BROKER_ENABLE_PLAN_UPGRADES."""
    core = make_core()
    await core.instances.provision(provision_command(plan_id=TRIAL, parameters={"name": "t"}))
    with pytest.raises(InvalidRequestError, match="plan upgrade from trial to aws is not allowed"):
        await core.instances.update(
            UpdateCommand("inst-1", service_id=core.instance("inst-1").service_id, plan_id=AWS)
        )


async def test_deprovisioning_an_unknown_instance_is_gone() -> None:
    """decisions.md §3: DELETE of an unknown instance is 410."""
    with pytest.raises(InstanceGoneError):
        await make_core().instances.deprovision(DeprovisionCommand("nope", SERVICE, AWS))


async def test_last_operation_ignores_an_operation_of_another_instance() -> None:
    """decisions.md §3: an ``operation`` that is not this instance's falls back to its latest."""
    core = make_core()
    other = (await core.instances.provision(provision_command("inst-2", ga="ga-2"))).operation_id
    mine = (await core.instances.provision(provision_command("inst-1"))).operation_id
    await core.settle()
    for hint in (other, "fixed-string", None):
        status = await core.instances.last_operation("inst-1", hint)
        assert (status.state, status.description) == ("succeeded", "Processing finished")
    assert core.operation(mine).state is OperationState.SUCCEEDED


async def test_last_operation_of_a_pending_deprovisioning_reports_the_provisioning() -> None:
    """A deprovisioning that has not started yet is not what a poll without ``operation`` sees."""
    core = make_core()
    await core.instances.provision(provision_command())
    await core.settle()
    deprovisioning = await core.instances.deprovision(DeprovisionCommand("inst-1", SERVICE, AWS))
    assert (await core.instances.last_operation("inst-1", None)).description == "Processing finished"
    assert (await core.instances.last_operation("inst-1", deprovisioning)).state == "in progress"


async def test_last_operation_for_an_instance_that_never_existed_is_not_found() -> None:
    """decisions.md §3: 404 for an instance with neither operations nor archive."""
    with pytest.raises(OperationNotFoundError):
        await make_core().instances.last_operation("nope", None)


async def test_expiring_a_trial_suspends_it_for_good() -> None:
    """PUT /expire: the trial is suspended, and can be neither unsuspended nor updated afterwards."""
    core = make_core()
    await core.instances.provision(provision_command(plan_id=TRIAL, parameters={"name": "t"}))
    await core.settle()
    operation_id = await core.instances.expire("inst-1")
    await core.settle()
    instance = core.instance("inst-1")
    assert instance.is_expired
    assert instance.suspended
    assert instance.runtime_id == ""
    assert core.kcp.runtimes == {}
    assert core.operation(operation_id).state is OperationState.SUCCEEDED
    with pytest.raises(InvalidRequestError, match="expired"):
        await core.instances.update(update_command(ctx={"active": True}))
    with pytest.raises(InvalidRequestError, match="expired"):
        await core.instances.update(update_command(parameters={"administrators": ["a@example.com"]}))
    # keb-reference §1.6 step 3: with a global account in the context the answer is 200 {}, doing nothing.
    assert (await core.instances.update(update_command(ctx=context(active=True)))).operation_id is None
    await core.settle()
    assert core.instance("inst-1").runtime_id == ""
    assert core.kcp.runtimes == {}
    labels = response_labels((await core.instances.get("inst-1")).summary, core.config.broker_url)
    assert labels["Trial account expiration details"] == "Your cluster has expired."


async def test_only_trial_and_free_expire() -> None:
    """Expiring an aws instance is refused; an unknown one is 404."""
    core = make_core()
    await core.instances.provision(provision_command())
    with pytest.raises(InvalidParametersError, match="does not expire"):
        await core.instances.expire("inst-1")
    with pytest.raises(InstanceNotFoundError):
        await core.instances.expire("nope")


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (0, "Your cluster expires in 14 days."),
        (13, "Your cluster expires tomorrow."),
        (13.5, "Your cluster expires today."),
        (15, "Your cluster has expired."),
    ],
)
async def test_trial_labels_count_down_the_expiry(days: float, text: str) -> None:
    """Trial instances carry KEB's expiration text, counted from creation (14 days)."""
    core = make_core()
    await core.instances.provision(provision_command(plan_id=TRIAL, parameters={"name": "t"}))
    await core.settle()
    core.clock.advance(days * 24 * 3600)
    labels = response_labels((await core.instances.get("inst-1")).summary, core.config.broker_url)
    assert labels["Trial account expiration details"] == text


async def test_an_update_does_not_store_what_it_cannot_apply() -> None:
    """Create-only fields in a PATCH (region, networking) are accepted but neither stored nor shown."""
    core = make_core()
    await core.instances.provision(provision_command())
    await core.settle()
    result = await core.instances.update(
        update_command(parameters={"region": "us-east-1", "networking": {"nodes": "10.250.0.0/22"}})
    )
    assert result.operation_id is None
    assert core.instance("inst-1").parameters == {"name": "my-cluster", "region": "eu-central-1"}


async def test_an_update_applies_what_its_schema_names_and_drops_the_rest() -> None:
    """A PATCH mixing an updatable field with a create-only one applies only the updatable one."""
    core = make_core()
    await core.instances.provision(provision_command())
    await core.settle()
    result = await core.instances.update(
        update_command(parameters={"autoScalerMax": 30, "region": "us-east-1"})
    )
    assert result.operation_id is not None
    assert core.instance("inst-1").parameters == {
        "name": "my-cluster",
        "region": "eu-central-1",
        "autoScalerMax": 30,
    }


async def test_a_gcp_trial_is_refused_in_an_eu_access_platform_region() -> None:
    """No GCP trial region is EU Access: such a trial would leave the EU, so it is refused by name."""
    core = make_core()
    with pytest.raises(InvalidParametersError, match="provider: GCP trials are not offered"):
        await core.instances.provision(
            provision_command(
                plan_id=TRIAL, parameters={"name": "t", "provider": "GCP"}, platform_region="cf-eu11"
            )
        )
    assert core.storage.instances == {}


async def test_an_aws_trial_in_an_eu_access_platform_region_lands_in_frankfurt() -> None:
    """EU forcing: an AWS trial requested from cf-eu11 runs in eu-central-1 whatever region it asks for."""
    core = make_core()
    await core.instances.provision(
        provision_command(
            plan_id=TRIAL,
            parameters={"name": "t", "provider": "AWS", "region": "us"},
            platform_region="cf-eu11",
        )
    )
    instance = core.instance("inst-1")
    assert (instance.cluster_region, instance.eu_access) == ("eu-central-1", True)


@pytest.mark.parametrize(
    "command",
    [
        provision_command(sm_operator_credentials={"clientsecret": "s3cr3t-value"}),
        update_command(
            ctx={"globalaccount_id": "ga", "sm_operator_credentials": {"clientsecret": "s3cr3t-value"}}
        ),
        BindCommand(
            instance_id="inst-1",
            binding_id="b-1",
            service_id=SERVICE,
            plan_id=AWS,
            context={"sm_operator_credentials": {"clientsecret": "s3cr3t-value"}},
        ),
    ],
    ids=["provision", "update", "bind"],
)
def test_a_command_repr_never_shows_operator_credentials(command: object) -> None:
    """Commands end up in logs and tracebacks: sm_operator_credentials is named but its value is hidden."""
    shown = repr(command)
    assert "s3cr3t-value" not in shown
    assert "sm_operator_credentials" in shown
    assert "<redacted>" in shown
