"""The whole instance lifecycle over HTTP, as a platform drives it."""

from __future__ import annotations

from tests.integration.http.conftest import Broker
from tests.support import AWS, SERVICE, provision_body

INSTANCE = "/oauth/v2/service_instances/inst-1"


async def test_provision_poll_fetch_update_deprovision(broker: Broker) -> None:
    """A provisioned aws runtime can be fetched, updated and deprovisioned, and is gone afterwards."""
    created = await broker.osb("PUT", INSTANCE, json=provision_body())
    assert created.status_code == 202
    operation = created.json()["operation"]

    await broker.settle()
    polled = await broker.osb("GET", f"{INSTANCE}/last_operation", params={"operation": operation})
    assert polled.json() == {"state": "succeeded", "description": "Processing finished"}

    fetched = await broker.osb("GET", INSTANCE)
    assert fetched.status_code == 200
    assert fetched.json()["parameters"] == {"name": "my-cluster", "region": "eu-central-1"}

    updated = await broker.osb(
        "PATCH",
        INSTANCE,
        params={"accepts_incomplete": "true"},
        json={"service_id": SERVICE, "parameters": {"autoScalerMax": 25}},
    )
    assert updated.status_code == 202
    await broker.settle()

    deleted = await broker.osb("DELETE", INSTANCE, params={"service_id": SERVICE, "plan_id": AWS})
    assert deleted.status_code == 202
    await broker.settle()
    assert (await broker.osb("GET", INSTANCE)).status_code == 404
    gone = await broker.osb("DELETE", INSTANCE, params={"service_id": SERVICE, "plan_id": AWS})
    assert (gone.status_code, gone.json()) == (410, {})
    assert broker.kcp.runtimes == {}
