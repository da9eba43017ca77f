"""Who may read the inventory (decisions.md §4) and how the OpenAPI document describes its routes."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keb_adapters.auth.local import CLIENT_FILE, KEY_FILE, LocalIssuer
from keb_domain.model.inventory import RuntimeState
from tests.integration.auth.conftest import jwt_landscape
from tests.integration.inventory.conftest import InventoryBroker, aws, make_inventory_broker
from tests.support import OSB
from tests.unit.auth.fakes import RSA_KEY

RUNTIMES_QUERY = {
    "account",
    "subaccount",
    "instance_id",
    "runtime_id",
    "region",
    "shoot",
    "plan",
    "state",
    "expired",
    "with_bindings",
    "op_detail",
    "bindings",
    "runtime_config",
    "actions",
    "page",
    "page_size",
}


@pytest.fixture(scope="module")
def issuer_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded issuer's key and client, generated once for this module (RSA keys are slow)."""
    directory = tmp_path_factory.mktemp("inventory-issuer")
    LocalIssuer(directory, "http://keb.test")
    return directory


@pytest.fixture
async def local(tmp_path: Path, issuer_files: Path) -> AsyncIterator[InventoryBroker]:
    """``APP_AUTH_MODE=local`` with one provisioned runtime ``inst-1``."""
    for name in (KEY_FILE, CLIENT_FILE):
        shutil.copy2(issuer_files / name, tmp_path / name)
    async for broker in make_inventory_broker({"APP_AUTH_MODE": "local", "APP_DATA_DIR": str(tmp_path)}):
        headers = {**OSB, **bearer(token(broker, "broker:write"))}
        created = await broker.client.put("/oauth/v2/service_instances/inst-1", json=aws(), headers=headers)
        assert created.status_code == 202, created.text
        await broker.settle()
        yield broker


def token(broker: InventoryBroker, *scopes: str) -> str:
    issuer = broker.services.local_issuer
    assert issuer is not None
    return issuer.mint(scopes).reveal()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def assert_refused(response: httpx.Response, status: int, challenge: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["description"]
    assert response.headers["www-authenticate"].startswith(challenge)


# --- /runtimes and /events -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/runtimes", "/events"])
async def test_runtimes_and_events_without_a_token_are_401(local: InventoryBroker, path: str) -> None:
    """No bearer token: 401 with a Bearer challenge."""
    assert_refused(await local.client.get(path), 401, 'Bearer realm="keb"')


@pytest.mark.parametrize("path", ["/runtimes", "/events"])
async def test_runtimes_and_events_with_an_invalid_token_are_401(local: InventoryBroker, path: str) -> None:
    """A bearer value that is not a valid token: 401 ``invalid_token``."""
    response = await local.client.get(path, headers=bearer("not.a.token"))
    assert_refused(response, 401, 'Bearer realm="keb", error="invalid_token"')


@pytest.mark.parametrize("path", ["/runtimes", "/events"])
@pytest.mark.parametrize("scope", ["cld:read", "broker:write"])
async def test_runtimes_and_events_need_runtimes_read(local: InventoryBroker, path: str, scope: str) -> None:
    """A valid token with another scope: 403 ``insufficient_scope`` naming ``runtimes:read``."""
    response = await local.client.get(path, headers=bearer(token(local, scope)))
    assert_refused(response, 403, 'Bearer realm="keb", error="insufficient_scope"')
    assert 'scope="runtimes:read"' in response.headers["www-authenticate"]


async def test_runtimes_read_lists_the_runtimes(local: InventoryBroker) -> None:
    """A token with ``runtimes:read`` gets the runtimes."""
    response = await local.client.get("/runtimes", headers=bearer(token(local, "runtimes:read")))
    assert response.status_code == 200
    assert [item["instanceID"] for item in response.json()["data"]] == ["inst-1"]


async def test_runtimes_read_lists_the_events(local: InventoryBroker) -> None:
    """A token with ``runtimes:read`` gets the events."""
    response = await local.client.get("/events", headers=bearer(token(local, "runtimes:read")))
    assert response.status_code == 200
    assert {event["instanceID"] for event in response.json()} == {"inst-1"}


@pytest.mark.parametrize("group", ["runtimeAdmin", "runtimeOperator", "runtimeViewer"])
@pytest.mark.parametrize("path", ["/runtimes", "/events"])
async def test_a_runtime_group_is_enough_for_runtimes_and_events(group: str, path: str) -> None:
    """A token without scopes whose ``groups`` claim holds a runtime group may read (KEB's gateway)."""
    async with jwt_landscape(RSA_KEY, min_refresh="0s") as landscape:
        issued = landscape.issuer.token(groups=[group])
        response = await landscape.broker.client.get(path, headers=bearer(issued))
        assert response.status_code == 200, response.text


async def test_a_runtime_group_does_not_open_info_runtimes() -> None:
    """``groups: [runtimeAdmin]`` is not ``cld:read``: /info/runtimes stays 403."""
    async with jwt_landscape(RSA_KEY, min_refresh="0s") as landscape:
        issued = landscape.issuer.token(groups=["runtimeAdmin"])
        response = await landscape.broker.client.get("/info/runtimes", headers=bearer(issued))
        assert_refused(response, 403, 'Bearer realm="keb", error="insufficient_scope"')


async def test_another_group_is_403_on_runtimes() -> None:
    """A group that is not a runtime group gives no access."""
    async with jwt_landscape(RSA_KEY, min_refresh="0s") as landscape:
        issued = landscape.issuer.token(groups=["admins"])
        response = await landscape.broker.client.get("/runtimes", headers=bearer(issued))
        assert_refused(response, 403, 'Bearer realm="keb", error="insufficient_scope"')


# --- /info/runtimes --------------------------------------------------------------------------------------


async def test_info_runtimes_without_a_token_is_401(local: InventoryBroker) -> None:
    """No bearer token: 401."""
    assert_refused(await local.client.get("/info/runtimes"), 401, 'Bearer realm="keb"')


@pytest.mark.parametrize("scope", ["runtimes:read", "broker:write"])
async def test_info_runtimes_needs_cld_read(local: InventoryBroker, scope: str) -> None:
    """Another scope: 403 naming ``cld:read``."""
    response = await local.client.get("/info/runtimes", headers=bearer(token(local, scope)))
    assert_refused(response, 403, 'Bearer realm="keb", error="insufficient_scope"')
    assert 'scope="cld:read"' in response.headers["www-authenticate"]


async def test_cld_read_lists_info_runtimes(local: InventoryBroker) -> None:
    """A token with ``cld:read`` gets the array."""
    response = await local.client.get("/info/runtimes", headers=bearer(token(local, "cld:read")))
    assert response.status_code == 200
    assert [item["serviceInstanceId"] for item in response.json()] == ["inst-1"]


# --- /kubeconfig -----------------------------------------------------------------------------------------


async def test_kubeconfig_is_open_without_a_token(local: InventoryBroker) -> None:
    """KEB's gateway passes /kubeconfig through: 200 without any token."""
    response = await local.client.get("/kubeconfig/inst-1")
    assert response.status_code == 200, response.text
    assert "kubectl-oidc_login" in response.text


async def test_kubeconfig_of_an_unknown_instance_is_404_not_401(local: InventoryBroker) -> None:
    """Without a token an unknown instance is still 404: no auth check stands in front."""
    assert (await local.client.get("/kubeconfig/nope")).status_code == 404


# --- the OpenAPI document --------------------------------------------------------------------------------


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def parameters(document: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in document["paths"][path]["get"].get("parameters", [])}


async def test_the_document_is_open_in_local_mode(local: InventoryBroker) -> None:
    """The API document needs no token, and it describes the inventory routes."""
    paths = (await openapi(local.client))["paths"]
    assert {"/runtimes", "/info/runtimes", "/events", "/kubeconfig/{instance_id}"} <= set(paths)


async def test_runtimes_documents_every_query_parameter(broker: InventoryBroker) -> None:
    """``GET /runtimes`` lists every filter, paging and embedding parameter, all in the query."""
    found = parameters(await openapi(broker.client), "/runtimes")
    assert set(found) == RUNTIMES_QUERY
    assert {p["in"] for p in found.values()} == {"query"}


async def test_the_state_parameter_enumerates_every_state(broker: InventoryBroker) -> None:
    """``state`` is an array of the RuntimeState enum, which holds every state of §5.1."""
    document = await openapi(broker.client)
    schema = parameters(document, "/runtimes")["state"]["schema"]
    reference = next(s["items"]["$ref"] for s in schema["oneOf"] if s.get("type") == "array")
    enum = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]["enum"]
    assert set(enum) == {state.value for state in RuntimeState}


async def test_events_documents_its_filters(broker: InventoryBroker) -> None:
    """``GET /events`` takes ``instance_ids``, ``runtime_ids`` and ``operation_ids``."""
    found = parameters(await openapi(broker.client), "/events")
    assert set(found) == {"instance_ids", "runtime_ids", "operation_ids"}


async def test_kubeconfig_documents_its_path_and_404(broker: InventoryBroker) -> None:
    """``GET /kubeconfig/{instance_id}`` takes the id in the path and documents 200 and 404."""
    document = await openapi(broker.client)
    assert parameters(document, "/kubeconfig/{instance_id}")["instance_id"]["in"] == "path"
    assert {"200", "404"} <= set(document["paths"]["/kubeconfig/{instance_id}"]["get"]["responses"])


@pytest.mark.parametrize(
    ("path", "secured"),
    [
        ("/runtimes", True),
        ("/info/runtimes", True),
        ("/events", True),
        ("/kubeconfig/{instance_id}", False),
    ],
)
async def test_the_document_says_which_routes_need_a_token(
    broker: InventoryBroker, path: str, secured: bool
) -> None:
    """The guarded routes require the bearer scheme; /kubeconfig declares no security."""
    operation = (await openapi(broker.client))["paths"][path]["get"]
    assert (operation.get("security") == [{"bearer": []}]) is secured
