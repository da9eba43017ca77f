"""GET instance: 404 until provisioning succeeded, then the user's parameters."""

from __future__ import annotations

from tests.integration.http.conftest import Broker, instance_path, make_broker
from tests.support import SERVICE, provision_body

INSTANCE = instance_path("inst-1")
PARAMETERS = {"name": "my-cluster", "region": "eu-central-1", "autoScalerMax": 30}


async def test_an_unknown_instance_is_404(broker: Broker) -> None:
    """An instance that never existed is 404 with a description."""
    response = await broker.osb("GET", INSTANCE)
    assert response.status_code == 404
    assert response.json()["description"]


async def test_an_instance_is_404_while_it_provisions(broker: Broker) -> None:
    """Until provisioning succeeded the instance is not retrievable (OSB: 404 while in progress)."""
    await broker.provision("inst-1")
    await broker.step()
    response = await broker.osb("GET", INSTANCE)
    assert response.status_code == 404
    assert response.json()["description"]


async def test_an_instance_is_404_after_its_provisioning_failed() -> None:
    """A runtime that never becomes Ready fails the provisioning, and the instance stays 404."""
    env = {"APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_CREATE": "5s"}
    async for broker in make_broker(env=env, ready_after=3600):
        operation = await broker.provision("inst-1")
        await broker.settle()
        assert await broker.last_operation("inst-1", operation) == "failed"
        response = await broker.osb("GET", INSTANCE)
        assert response.status_code == 404


async def test_a_provisioned_instance_shows_the_users_parameters(broker: Broker) -> None:
    """After success: 200 with service, plan, dashboard and exactly the parameters the user sent."""
    await broker.provisioned("inst-1", provision_body(parameters=PARAMETERS))
    response = await broker.osb("GET", INSTANCE)
    assert response.status_code == 200
    body = response.json()
    assert body["service_id"] == SERVICE
    assert body["plan_id"] == provision_body()["plan_id"]
    assert body["dashboard_url"] == "https://dashboard.kyma.cloud.sap/?kubeconfigID=inst-1"
    assert body["parameters"] == PARAMETERS


async def test_fetched_parameters_follow_updates(broker: Broker) -> None:
    """GET shows the parameters as provisioned and then updated."""
    await broker.provisioned("inst-1", provision_body(parameters=PARAMETERS))
    updated = await broker.patch("inst-1", {"service_id": SERVICE, "parameters": {"autoScalerMax": 40}})
    assert updated.status_code == 202
    await broker.settle()
    response = await broker.osb("GET", INSTANCE)
    assert response.json()["parameters"] == {**PARAMETERS, "autoScalerMax": 40}


async def test_fetched_instances_carry_no_credentials(broker: Broker) -> None:
    """Service Manager credentials in the context never come back from GET."""
    secret = "s3cr3t-client-secret"
    body = provision_body(
        sm_operator_credentials={"clientid": "id", "clientsecret": secret, "sm_url": "https://sm"}
    )
    await broker.provisioned("inst-1", body)
    response = await broker.osb("GET", INSTANCE)
    assert response.status_code == 200
    assert secret not in response.text


async def test_a_deprovisioned_instance_is_404(broker: Broker) -> None:
    """After a finished deprovisioning the instance is gone."""
    await broker.provisioned("inst-1")
    await broker.deprovision("inst-1")
    await broker.settle()
    assert (await broker.osb("GET", INSTANCE)).status_code == 404


async def test_a_fetched_instance_carries_its_labels(broker: Broker) -> None:
    """GET instance has metadata.labels: the cluster name and the kubeconfig URL of the runtime."""
    await broker.provisioned("inst-1")
    labels = (await broker.osb("GET", INSTANCE)).json()["metadata"]["labels"]
    assert labels["Name"] == "my-cluster"
    assert labels["KubeconfigURL"].endswith("/kubeconfig/inst-1")
