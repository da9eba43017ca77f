"""``GET /kubeconfig/{instance_id}``: the OIDC kubeconfig of a provisioned runtime (keb-reference §5.3)."""

from __future__ import annotations

from typing import Any

import yaml

from keb_domain.model.resources import resource_name
from tests.integration.inventory.conftest import OIDC, InventoryBroker, aws

TWO_ISSUERS = {
    "list": [
        {**OIDC, "clientID": "first", "issuerURL": "https://first.example.com"},
        {**OIDC, "clientID": "second", "issuerURL": "https://second.example.com"},
    ]
}


async def kubeconfig(broker: InventoryBroker, instance_id: str) -> dict[str, Any]:
    response = await broker.client.get(f"/kubeconfig/{instance_id}")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = yaml.safe_load(response.text)
    return document


async def assert_not_found(broker: InventoryBroker, instance_id: str) -> None:
    response = await broker.client.get(f"/kubeconfig/{instance_id}")
    assert response.status_code == 404, response.text
    assert response.json()["description"]


async def test_a_provisioned_runtime_gets_a_yaml_attachment(broker: InventoryBroker) -> None:
    """200 with ``application/x-yaml`` and ``Content-Disposition: attachment; filename=kubeconfig.yaml``."""
    await broker.provisioned("inst-1", aws())
    response = await broker.client.get("/kubeconfig/inst-1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-yaml")
    assert response.headers["content-disposition"] == "attachment; filename=kubeconfig.yaml"
    assert yaml.safe_load(response.text)["kind"] == "Config"


async def test_each_oidc_configuration_gets_a_context_named_after_the_cluster(
    broker: InventoryBroker,
) -> None:
    """Two OIDC configurations: contexts ``<name>`` and ``<name>-2``, the first one current."""
    await broker.provisioned("inst-1", aws(name="blue", oidc=TWO_ISSUERS))
    config = await kubeconfig(broker, "inst-1")
    assert [context["name"] for context in config["contexts"]] == ["blue", "blue-2"]
    assert [context["context"]["user"] for context in config["contexts"]] == ["blue", "blue-2"]
    assert config["current-context"] == "blue"


async def test_each_user_is_a_kubectl_oidc_login_exec_plugin(broker: InventoryBroker) -> None:
    """Every user runs ``kubectl-oidc_login get-token`` with its issuer and client id, email and openid."""
    await broker.provisioned("inst-1", aws(name="blue", oidc=TWO_ISSUERS))
    users = {user["name"]: user["user"]["exec"] for user in (await kubeconfig(broker, "inst-1"))["users"]}
    assert set(users) == {"blue", "blue-2"}
    assert users["blue-2"]["command"] == "kubectl-oidc_login"
    assert users["blue-2"]["args"] == [
        "get-token",
        "--oidc-issuer-url=https://second.example.com",
        "--oidc-client-id=second",
        "--oidc-extra-scope=email",
        "--oidc-extra-scope=openid",
    ]
    assert users["blue"]["args"][1:3] == [
        "--oidc-issuer-url=https://first.example.com",
        "--oidc-client-id=first",
    ]


async def test_without_oidc_parameters_the_default_configuration_gives_one_context(
    broker: InventoryBroker,
) -> None:
    """A runtime provisioned without ``oidc`` has the landscape's default OIDC: one context and user."""
    await broker.provisioned("inst-1", aws(name="plain"))
    config = await kubeconfig(broker, "inst-1")
    assert [context["name"] for context in config["contexts"]] == ["plain"]
    assert [user["name"] for user in config["users"]] == ["plain"]


async def test_an_empty_oidc_list_omits_the_users(broker: InventoryBroker) -> None:
    """No OIDC configuration at all: the ``users`` section is left out (§5.3)."""
    await broker.provisioned("inst-1", aws(oidc={"list": []}))
    config = await kubeconfig(broker, "inst-1")
    assert "users" not in config
    assert config["contexts"] == []


async def test_the_cluster_comes_from_the_runtime_s_admin_kubeconfig(broker: InventoryBroker) -> None:
    """Server and CA data are those of the ``kubeconfig-{runtime id}`` Secret; no credentials are copied."""
    await broker.provisioned("inst-1", aws(name="blue"))
    runtime_id = (await broker.stored("inst-1")).runtime_id
    admin = yaml.safe_load(await broker.kcp.get_runtime_kubeconfig(runtime_id))
    config = await kubeconfig(broker, "inst-1")
    assert config["clusters"] == [{"name": "blue", "cluster": admin["clusters"][0]["cluster"]}]
    assert "client-certificate-data" not in str(config)
    assert "token" not in config["users"][0]["user"]


async def test_an_unknown_instance_is_404(broker: InventoryBroker) -> None:
    """No such instance: 404 with a JSON description."""
    await assert_not_found(broker, "nope")


async def test_a_runtime_still_provisioning_is_404(broker: InventoryBroker) -> None:
    """While the provisioning runs there is no kubeconfig: 404."""
    await broker.provision("inst-1", aws())
    await broker.step()
    await assert_not_found(broker, "inst-1")


async def test_a_failed_provisioning_is_404(broker: InventoryBroker) -> None:
    """A runtime whose provisioning failed has no kubeconfig: 404."""
    broker.failing.add("inst-1")
    await broker.provision("inst-1", aws())
    await broker.settle()
    assert await broker.last_operation("inst-1") == "failed"
    await assert_not_found(broker, "inst-1")


async def test_a_deprovisioned_instance_is_404(broker: InventoryBroker) -> None:
    """After deprovisioning, the instance is gone: 404."""
    await broker.provisioned("inst-1", aws())
    await broker.deprovisioned("inst-1")
    await assert_not_found(broker, "inst-1")


async def test_a_missing_kubeconfig_secret_is_404(broker: InventoryBroker) -> None:
    """Provisioned, but KIM's kubeconfig Secret is gone: 404, not a 5xx."""
    await broker.provisioned("inst-1", aws())
    runtime_id = (await broker.stored("inst-1")).runtime_id
    del broker.kcp.kubeconfigs[resource_name(runtime_id)]
    await assert_not_found(broker, "inst-1")
