"""``X-Broker-API-Version``: required on every OSB route, 2.x only, 2.14 or newer to fetch an instance."""

from __future__ import annotations

import pytest

from tests.integration.http.conftest import Broker, instance_path
from tests.support import AWS, SERVICE, provision_body

INSTANCE = instance_path("inst-1")

# One request per OSB instance route (and the catalog), as a platform would send it.
ROUTES = [
    ("GET", "/oauth/v2/catalog", {}),
    ("GET", "/oauth/cf-eu10/v2/catalog", {}),
    ("PUT", INSTANCE, {"json": provision_body()}),
    ("GET", INSTANCE, {}),
    ("PATCH", INSTANCE, {"json": {"service_id": SERVICE}}),
    ("DELETE", INSTANCE, {"params": {"service_id": SERVICE, "plan_id": AWS}}),
    ("GET", f"{INSTANCE}/last_operation", {}),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ROUTES]


def assert_precondition_failed(response_status: int, body: object) -> None:
    assert response_status == 412
    assert isinstance(body, dict)
    assert isinstance(body.get("description"), str)
    assert body["description"]


@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES, ids=ROUTE_IDS)
async def test_a_missing_header_is_412_on_every_osb_route(
    broker: Broker, method: str, path: str, kwargs: dict[str, object]
) -> None:
    """Without the version header every OSB route answers 412 with a JSON description."""
    response = await broker.client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert_precondition_failed(response.status_code, response.json())


@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES, ids=ROUTE_IDS)
async def test_an_empty_header_is_412_on_every_osb_route(
    broker: Broker, method: str, path: str, kwargs: dict[str, object]
) -> None:
    """An empty version header is treated like a missing one."""
    response = await broker.osb(method, path, headers={"X-Broker-API-Version": ""}, **kwargs)
    assert_precondition_failed(response.status_code, response.json())


@pytest.mark.parametrize(
    "version", ["3.0", "1.14", "2", "2.x", "two.fourteen", "2.14.1", "v2.14", "2." + "1" * 5000]
)
async def test_a_version_that_is_not_2_x_is_412(broker: Broker, version: str) -> None:
    """Only MAJOR.MINOR with major 2 is spoken; anything else is 412, never a 5xx."""
    response = await broker.osb("GET", "/oauth/v2/catalog", headers={"X-Broker-API-Version": version})
    assert_precondition_failed(response.status_code, response.json())


@pytest.mark.parametrize("version", ["2.0", "2.13", "2.14", "2.17"])
async def test_any_2_x_version_serves_the_catalog(broker: Broker, version: str) -> None:
    """Every 2.x minor version is accepted by the catalog."""
    response = await broker.osb("GET", "/oauth/v2/catalog", headers={"X-Broker-API-Version": version})
    assert response.status_code == 200


async def test_a_rejected_version_changes_nothing(broker: Broker) -> None:
    """A provisioning request refused for its version header creates no instance."""
    refused = await broker.osb(
        "PUT", INSTANCE, headers={"X-Broker-API-Version": "1.0"}, json=provision_body()
    )
    assert refused.status_code == 412
    gone = await broker.deprovision("inst-1")
    assert (gone.status_code, gone.json()) == (410, {})


async def test_the_header_is_checked_before_the_body(broker: Broker) -> None:
    """A malformed body with a missing header is a 412, not a 400: the version comes first."""
    response = await broker.client.put(
        INSTANCE, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_precondition_failed(response.status_code, response.json())


async def test_fetching_an_instance_with_2_13_is_412(broker: Broker) -> None:
    """GET instance needs OSB 2.14: with 2.13 even a ready instance answers 412."""
    await broker.provisioned("inst-1")
    response = await broker.osb("GET", INSTANCE, headers={"X-Broker-API-Version": "2.13"})
    assert_precondition_failed(response.status_code, response.json())
    assert "2.14" in response.json()["description"]


@pytest.mark.parametrize("version", ["2.14", "2.16"])
async def test_fetching_an_instance_with_2_14_or_newer_works(broker: Broker, version: str) -> None:
    """GET instance answers 200 from 2.14 on."""
    await broker.provisioned("inst-1")
    response = await broker.osb("GET", INSTANCE, headers={"X-Broker-API-Version": version})
    assert response.status_code == 200


async def test_the_other_instance_endpoints_accept_2_13(broker: Broker) -> None:
    """Only GET instance needs 2.14; provisioning and polling work with 2.13."""
    old = {"X-Broker-API-Version": "2.13"}
    created = await broker.osb("PUT", INSTANCE, headers=old, json=provision_body())
    assert created.status_code == 202
    polled = await broker.osb("GET", f"{INSTANCE}/last_operation", headers=old)
    assert (polled.status_code, polled.json()["state"]) == (200, "in progress")
