"""The /kubeconfig download answers browsers from allowed origins (KEB's APP_KUBECONFIG_ALLOW_ORIGINS)."""

from __future__ import annotations

from tests.integration.http.conftest import Broker, make_broker
from tests.support import provision_body


async def _provisioned(broker: Broker) -> None:
    await broker.osb("PUT", "/oauth/v2/service_instances/inst-1", json=provision_body())
    await broker.settle()


async def test_any_origin_is_allowed_by_default(broker: Broker) -> None:
    """Without configuration every origin may read the kubeconfig, as in KEB."""
    await _provisioned(broker)
    response = await broker.client.get("/kubeconfig/inst-1", headers={"Origin": "https://dashboard.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://dashboard.example"


async def test_only_listed_origins_are_allowed() -> None:
    """With a list, an origin outside it gets the kubeconfig without the CORS header."""
    async for broker in make_broker(
        env={"APP_KUBECONFIG_ALLOW_ORIGINS": "https://a.example,https://b.example"}
    ):
        await _provisioned(broker)
        allowed = await broker.client.get("/kubeconfig/inst-1", headers={"Origin": "https://b.example"})
        other = await broker.client.get("/kubeconfig/inst-1", headers={"Origin": "https://evil.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://b.example"
        assert "access-control-allow-origin" not in other.headers
