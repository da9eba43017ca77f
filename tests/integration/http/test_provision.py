"""Provisioning over HTTP: asynchronous acceptance, idempotent repeats, conflicts and request validation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.http.conftest import Broker, instance_path, make_broker
from tests.support import TRIAL, provision_body

INSTANCE = instance_path("inst-1")
DASHBOARD = "https://dashboard.kyma.cloud.sap/?kubeconfigID=inst-1"


async def test_provisioning_without_accepts_incomplete_is_accepted(broker: Broker) -> None:
    """Provisioning is always asynchronous: 202 with an operation even without accepts_incomplete."""
    response = await broker.osb("PUT", INSTANCE, json=provision_body())
    assert response.status_code == 202
    operation = response.json()["operation"]
    assert await broker.last_operation("inst-1", operation) == "in progress"


async def test_provisioning_with_accepts_incomplete_is_accepted(broker: Broker) -> None:
    """accepts_incomplete=true gets the same 202 with an operation."""
    response = await broker.osb("PUT", INSTANCE, params={"accepts_incomplete": "true"}, json=provision_body())
    assert response.status_code == 202
    assert response.json()["operation"]


async def test_an_identical_repeat_while_provisioning_returns_the_same_operation(broker: Broker) -> None:
    """A re-sent identical PUT during provisioning is 202 with the original operation."""
    first = await broker.provision("inst-1")
    await broker.step()  # the Runtime CR exists now, but is not Ready
    repeat = await broker.osb("PUT", INSTANCE, json=provision_body())
    assert (repeat.status_code, repeat.json()["operation"]) == (202, first)


async def test_an_identical_repeat_creates_no_second_runtime(broker: Broker) -> None:
    """However often a PUT is repeated, one runtime is built."""
    await broker.provision("inst-1")
    for _ in range(3):
        await broker.osb("PUT", INSTANCE, json=provision_body())
    await broker.settle()
    assert len(broker.kcp.runtimes) == 1


async def test_an_identical_repeat_after_success_is_200_with_the_dashboard(broker: Broker) -> None:
    """Once provisioning succeeded, an identical PUT answers 200 with dashboard_url and no operation."""
    await broker.provisioned("inst-1")
    repeat = await broker.osb("PUT", INSTANCE, json=provision_body())
    assert repeat.status_code == 200
    assert repeat.json()["dashboard_url"] == DASHBOARD
    assert "operation" not in repeat.json()


@pytest.mark.parametrize(
    "different",
    [
        provision_body(parameters={"name": "other-name", "region": "eu-central-1"}),
        provision_body(parameters={"name": "my-cluster", "region": "us-east-1"}),
        provision_body(sa="sa-2"),
        provision_body(plan_id=TRIAL, parameters={"name": "my-cluster"}),
    ],
    ids=["name", "region", "context", "plan"],
)
async def test_a_repeat_with_different_attributes_is_409(broker: Broker, different: dict[str, Any]) -> None:
    """A PUT for an existing instance with other parameters, context or plan conflicts."""
    await broker.provision("inst-1")
    response = await broker.osb("PUT", INSTANCE, json=different)
    assert response.status_code == 409
    assert response.json()["description"]


async def test_a_repeat_from_another_platform_region_is_409(broker: Broker) -> None:
    """The platform region is part of the request's identity."""
    await broker.provision("inst-1", region="cf-eu10")
    response = await broker.osb("PUT", instance_path("inst-1", "cf-us10"), json=provision_body())
    assert response.status_code == 409


async def test_a_conflicting_repeat_leaves_the_instance_unchanged(broker: Broker) -> None:
    """After a 409 the instance keeps the parameters it was provisioned with."""
    await broker.provisioned("inst-1")
    other = provision_body(parameters={"name": "other-name", "region": "eu-central-1"})
    assert (await broker.osb("PUT", INSTANCE, json=other)).status_code == 409
    fetched = await broker.osb("GET", INSTANCE)
    assert fetched.json()["parameters"] == {"name": "my-cluster", "region": "eu-central-1"}


async def test_a_malformed_json_body_is_400(broker: Broker) -> None:
    """A body that is not JSON is a 400 with a description, and nothing is created."""
    response = await broker.osb(
        "PUT", INSTANCE, content=b'{"service_id": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["description"]
    assert (await broker.deprovision("inst-1")).status_code == 410


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**provision_body(), "service_id": "not-a-service"}, "service_id"),
        ({**provision_body(), "plan_id": "not-a-plan"}, "plan_id"),
        ({k: v for k, v in provision_body().items() if k != "service_id"}, "service_id"),
        ({k: v for k, v in provision_body().items() if k != "plan_id"}, "plan_id"),
        ({**provision_body(), "service_id": 7}, "service_id"),
        ({**provision_body(), "context": "not an object"}, "context"),
        (provision_body(ga=""), "globalaccount_id"),
        (provision_body(sa=""), "subaccount_id"),
        (provision_body(user=""), "user_id"),
        (provision_body(parameters={"region": "eu-central-1"}), "name"),
        (provision_body(parameters={"name": "my-cluster"}), "region"),
        (provision_body(parameters={"name": "my-cluster", "region": "mars-1"}), "region"),
        (provision_body(parameters={"name": "bad name!", "region": "eu-central-1"}), "name"),
        (
            provision_body(parameters={"name": "c", "region": "eu-central-1", "autoScalerMin": 1}),
            "autoScalerMin",
        ),
        (
            provision_body(parameters={"name": "c", "region": "eu-central-1", "machineType": "huge"}),
            "machineType",
        ),
        (provision_body(plan_id=TRIAL, parameters={"name": "t", "provider": "IBM"}), "provider"),
    ],
    ids=[
        "unknown-service",
        "unknown-plan",
        "missing-service",
        "missing-plan",
        "service-not-a-string",
        "context-not-an-object",
        "empty-globalaccount",
        "empty-subaccount",
        "empty-user",
        "missing-name",
        "missing-region",
        "unknown-region",
        "invalid-name",
        "autoscaler-below-minimum",
        "unknown-machine",
        "unknown-trial-provider",
    ],
)
async def test_an_invalid_request_is_400_naming_the_field(
    broker: Broker, body: dict[str, Any], field: str
) -> None:
    """Unknown ids and invalid parameters are 400 with a description that names the field."""
    response = await broker.osb("PUT", INSTANCE, json=body)
    assert response.status_code == 400
    assert field in response.json()["description"]


async def test_an_invalid_request_creates_nothing(broker: Broker) -> None:
    """A refused provisioning leaves no instance and no runtime behind."""
    body = provision_body(parameters={"name": "my-cluster", "region": "mars-1"})
    assert (await broker.osb("PUT", INSTANCE, json=body)).status_code == 400
    await broker.settle()
    assert (await broker.deprovision("inst-1")).status_code == 410
    assert broker.kcp.runtimes == {}


async def test_unknown_json_fields_are_ignored(broker: Broker) -> None:
    """Fields the broker does not know, at any level of the envelope, do not fail the request."""
    body = {
        **provision_body(),
        "organization_guid": "org",
        "space_guid": "space",
        "maintenance_info": {"version": "1.0.0"},
        "x-vendor-extension": [1, 2, 3],
    }
    body["context"] = {**body["context"], "platform": "cloudfoundry", "unknown": {"nested": True}}
    response = await broker.osb("PUT", INSTANCE, json=body)
    assert response.status_code == 202


@pytest.mark.parametrize("region", [None, "cf-eu10", "cf-us10"])
async def test_instances_are_served_with_and_without_a_platform_region(
    broker: Broker, region: str | None
) -> None:
    """/oauth/v2/... and /oauth/{region}/v2/... both provision, and either path polls the result."""
    operation = await broker.provision("inst-1", region=region)
    await broker.settle()
    polled = await broker.osb(
        "GET", f"{instance_path('inst-1', 'cf-ap21')}/last_operation", params={"operation": operation}
    )
    assert polled.json()["state"] == "succeeded"


async def test_the_path_region_is_the_instance_platform_region(broker: Broker) -> None:
    """The runtime built for /oauth/cf-us10/... carries cf-us10 as its platform region."""
    await broker.provisioned("inst-1", region="cf-us10")
    (runtime,) = broker.kcp.runtimes.values()
    assert runtime["metadata"]["labels"]["kyma-project.io/platform-region"] == "cf-us10"


async def test_the_default_platform_region_applies_without_a_region_in_the_path(broker: Broker) -> None:
    """Without a region in the path the instance belongs to APP_BROKER_DEFAULT_REQUEST_REGION (cf-eu10)."""
    await broker.provisioned("inst-1")
    (runtime,) = broker.kcp.runtimes.values()
    assert runtime["metadata"]["labels"]["kyma-project.io/platform-region"] == "cf-eu10"


async def test_an_eu_access_platform_region_refuses_a_non_eu_cluster_region(broker: Broker) -> None:
    """Under cf-eu11 an aws runtime outside eu-central-1 is a 400 naming the region."""
    body = provision_body(parameters={"name": "my-cluster", "region": "us-east-1"})
    response = await broker.osb("PUT", instance_path("inst-1", "cf-eu11"), json=body)
    assert response.status_code == 400
    assert "region" in response.json()["description"]


async def test_an_eu_access_platform_region_accepts_its_eu_cluster_region(broker: Broker) -> None:
    """Under cf-eu11 an aws runtime in eu-central-1 is provisioned."""
    await broker.provisioned("inst-1", region="cf-eu11")
    (runtime,) = broker.kcp.runtimes.values()
    assert runtime["metadata"]["labels"]["kyma-project.io/region"] == "eu-central-1"


async def test_a_plan_missing_from_the_region_catalog_is_400(broker: Broker) -> None:
    """sap-converged-cloud is not offered under cf-eu11, so provisioning it there names plan_id."""
    plan = "03b812ac-c991-4528-b5bd-08b303523a63"
    body = provision_body(plan_id=plan, parameters={"name": "c", "region": "eu-de-2"})
    response = await broker.osb("PUT", instance_path("inst-1", "cf-eu11"), json=body)
    assert response.status_code == 400
    assert "plan_id" in response.json()["description"]


# --- trial: one per global account ---------------------------------------------------------------------

TRIAL_BODY = provision_body(plan_id=TRIAL, parameters={"name": "my-trial"})


async def test_a_second_trial_in_a_global_account_is_400(broker: Broker) -> None:
    """With APP_BROKER_ONLY_SINGLE_TRIAL_PER_GA (the default) a global account gets one trial."""
    await broker.provision("trial-1", TRIAL_BODY)
    response = await broker.osb("PUT", instance_path("trial-2"), json=TRIAL_BODY)
    assert response.status_code == 400
    assert "trial" in response.json()["description"]


async def test_any_instance_of_the_global_account_blocks_a_trial(broker: Broker) -> None:
    """An aws runtime in the global account already rules out a trial there (KEB counts every plan)."""
    await broker.provision("aws-1")
    response = await broker.osb("PUT", instance_path("trial-1"), json=TRIAL_BODY)
    assert response.status_code == 400


async def test_trials_of_different_global_accounts_are_independent(broker: Broker) -> None:
    """The one-trial rule is per global account."""
    await broker.provision("trial-1", TRIAL_BODY)
    other = provision_body(plan_id=TRIAL, parameters={"name": "my-trial"}, ga="ga-2")
    response = await broker.osb("PUT", instance_path("trial-2"), json=other)
    assert response.status_code == 202


async def test_an_identical_trial_repeat_is_not_counted_against_itself(broker: Broker) -> None:
    """The idempotency check runs before the quota: a repeated trial PUT gets its own operation back."""
    operation = await broker.provision("trial-1", TRIAL_BODY)
    repeat = await broker.osb("PUT", instance_path("trial-1"), json=TRIAL_BODY)
    assert (repeat.status_code, repeat.json()["operation"]) == (202, operation)
    await broker.settle()
    done = await broker.osb("PUT", instance_path("trial-1"), json=TRIAL_BODY)
    assert done.status_code == 200


async def test_a_deprovisioned_trial_frees_the_global_account(broker: Broker) -> None:
    """Once a trial is deprovisioned, the global account may create a new one."""
    await broker.provisioned("trial-1", TRIAL_BODY)
    assert (await broker.deprovision("trial-1", TRIAL)).status_code == 202
    await broker.settle()
    response = await broker.osb("PUT", instance_path("trial-2"), json=TRIAL_BODY)
    assert response.status_code == 202


async def test_the_one_trial_rule_can_be_switched_off() -> None:
    """With APP_BROKER_ONLY_SINGLE_TRIAL_PER_GA=false a global account may hold several trials."""
    async for broker in make_broker(env={"APP_BROKER_ONLY_SINGLE_TRIAL_PER_GA": "false"}):
        await broker.provision("trial-1", TRIAL_BODY)
        response = await broker.osb("PUT", instance_path("trial-2"), json=TRIAL_BODY)
        assert response.status_code == 202


async def test_the_provisioning_answer_labels_the_cluster_name(broker: Broker) -> None:
    """202 carries metadata.labels.Name, the cluster name from the parameters (KEB's response labels)."""
    response = await broker.osb("PUT", INSTANCE, json=provision_body())
    assert response.json()["metadata"]["labels"]["Name"] == "my-cluster"


async def test_trial_machine_and_autoscaler_parameters_are_dropped(broker: Broker) -> None:
    """For trial, machineType and autoscaler parameters are accepted and silently dropped, as KEB does."""
    body = provision_body(
        plan_id=TRIAL, parameters={"name": "t", "machineType": "huge", "autoScalerMin": 1, "autoScalerMax": 2}
    )
    await broker.provisioned("trial-1", body)
    fetched = await broker.osb("GET", instance_path("trial-1"))
    assert fetched.json()["parameters"] == {"name": "t"}
