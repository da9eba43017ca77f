"""An instance id deprovisioned and then provisioned again is one runtime in the inventory."""

from __future__ import annotations

from tests.integration.http.conftest import Broker
from tests.support import AWS, SERVICE, provision_body

INSTANCE = "/oauth/v2/service_instances/inst-1"


async def test_a_reprovisioned_id_is_listed_once_as_the_live_runtime(broker: Broker) -> None:
    """The archive row of its first life does not show beside the live instance."""
    await broker.osb("PUT", INSTANCE, json=provision_body())
    await broker.settle()
    await broker.osb("DELETE", INSTANCE, params={"service_id": SERVICE, "plan_id": AWS})
    await broker.settle()
    assert (await broker.osb("PUT", INSTANCE, json=provision_body())).status_code == 202
    await broker.settle()

    listed = await broker.client.get("/runtimes", params=[("state", "deprovisioned"), ("state", "succeeded")])

    body = listed.json()
    assert [(r["instanceID"], r["status"]["state"]) for r in body["data"]] == [("inst-1", "succeeded")]
    assert body["totalCount"] == 1
