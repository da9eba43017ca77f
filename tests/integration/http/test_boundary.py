"""The request-input boundary over HTTP: issue 9's malformed inputs are 4xx OSB bodies that change nothing.

Each case here answered a 500 (or a 502, or aliased two ids) before the boundary existed; the storage is
dumped before and after to show the refusal stored nothing, on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from keb_adapters.http.boundary import MAX_BODY_BYTES, MAX_JSON_DEPTH
from keb_app.app import create_app
from keb_domain.model.inventory import MAX_EVENT_IDS, MAX_PAGE
from tests.integration.http.conftest import Broker, dump, instance_path
from tests.support import OSB, SERVICE, provision_body


def assert_osb_400(response: httpx.Response, status: int = 400) -> str:
    """The response is ``status`` with an OSB error body; returns its description."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    description = response.json()["description"]
    assert isinstance(description, str)
    assert description
    return description


async def refused_and_unchanged(broker: Broker, method: str, path: str, **kwargs: Any) -> str:
    """Send the request, expect a 400 OSB body, and check the storage holds exactly what it held."""
    before = await dump(broker.services.storage)
    headers = {**OSB, **kwargs.pop("headers", {})}
    status = kwargs.pop("status", 400)
    response = await broker.client.request(method, path, headers=headers, **kwargs)
    description = assert_osb_400(response, status)
    assert await dump(broker.services.storage) == before
    return description


def nested(depth: int, leaf: str = "1") -> str:
    """JSON text of lists ``depth`` levels deep, the given JSON leaf at the bottom."""
    return "[" * depth + leaf + "]" * depth


def with_parameter(raw: str) -> bytes:
    """A provision body whose ``parameters.x`` is the given JSON text."""
    return json.dumps(provision_body(parameters={"x": "@"})).replace('"@"', raw).encode()


# --- bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b'{"service_id":"\xff"}', "UTF-8"),
        (nested(2000).encode(), "nested"),
        (with_parameter(nested(400)), "nested"),
        (with_parameter(nested(MAX_JSON_DEPTH - 1)), "nested"),
        (with_parameter(nested(400, '"\\u0000"')), "nested"),
        (with_parameter(str(2**63)), "64 bits"),
        (with_parameter(str(-(2**63) - 1)), "64 bits"),
        (with_parameter("9" * 5000), "JSON"),
        (b'{"service_id": "a", "plan_id": NaN}', "JSON"),
        (b'{"service_id": "a", "plan_id": 1e999}', "range"),
        (b'{"service_id": "a", "service_id": "b", "plan_id": "p"}', "service_id"),
        (b'{"service_id": "a", "plan_id": "p", "parameters": {"\\u0000": 1}}', "NUL"),
        (b'{"service_id": "a", "plan_id": "p", "context": {"x": "\\ud800"}}', "surrogate"),
    ],
    ids=[
        "invalid-utf8",
        "2000-deep",
        "400-deep-in-parameters",
        "33-deep-in-parameters",
        "deep-with-nul",
        "int64-overflow",
        "int64-underflow",
        "5000-digit-number",
        "nan",
        "infinity",
        "duplicate-key",
        "nul-key",
        "lone-surrogate",
    ],
)
async def test_a_malformed_provision_body_is_400_and_stores_nothing(
    any_broker: Broker, content: bytes, named: str
) -> None:
    """Bodies that crashed the decoder, the JSON encoder or the database are a 400 saying what is wrong."""
    description = await refused_and_unchanged(
        any_broker,
        "PUT",
        instance_path("inst-1"),
        content=content,
        headers={"content-type": "application/json"},
    )
    assert named in description


async def test_nesting_up_to_the_limit_is_accepted(any_broker: Broker) -> None:
    """A body exactly ``MAX_JSON_DEPTH`` levels deep is provisioned: the limit is where it is documented."""
    body = provision_body(parameters={"name": "c", "region": "eu-central-1"})
    body["context"]["deep"] = json.loads(nested(MAX_JSON_DEPTH - 2))  # body, context, then the lists
    response = await any_broker.osb("PUT", instance_path("inst-1"), json=body)
    assert response.status_code == 202, response.text


async def test_a_body_over_the_size_limit_is_413(any_broker: Broker) -> None:
    """A body larger than 1 MiB is refused before it is read to the end."""
    body = provision_body(parameters={"name": "c", "padding": "x" * MAX_BODY_BYTES})
    await refused_and_unchanged(any_broker, "PUT", instance_path("inst-1"), json=body, status=413)


async def test_a_route_without_a_body_ignores_a_malformed_one(any_broker: Broker) -> None:
    """``PUT /expire/service_instance/x`` reads no body: a deep one with a NUL is no 500 there either."""
    content = nested(5000, '"\\u0000"').encode()
    before = await dump(any_broker.services.storage)
    response = await any_broker.client.put("/expire/service_instance/x", content=content)
    assert_osb_400(response, 404)
    assert await dump(any_broker.services.storage) == before


# --- paths ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw_id", ["inv%FF", "inv%FE", "inv%ED%A0%80", "inv%C0%AF", "a%01b", "a%7Fb"])
async def test_an_instance_id_that_is_not_clean_utf8_is_400(any_broker: Broker, raw_id: str) -> None:
    """Percent-encoded bytes that are not UTF-8, or control characters, never become an (aliasing) id."""
    await refused_and_unchanged(any_broker, "PUT", instance_path(raw_id), json=provision_body())


async def test_two_invalid_ids_do_not_alias_one_instance(any_broker: Broker) -> None:
    """``inv%FF`` and ``inv%FE`` used to be the same instance ``inv\\ufffd``; now neither exists."""
    for raw_id in ("inv%FF", "inv%FE"):
        for method in ("PUT", "GET", "DELETE"):
            kwargs: dict[str, Any] = {"json": provision_body()} if method == "PUT" else {}
            if method == "DELETE":
                kwargs["params"] = {"service_id": SERVICE, "plan_id": provision_body()["plan_id"]}
            await refused_and_unchanged(any_broker, method, instance_path(raw_id), **kwargs)


async def test_a_nul_in_the_kubeconfig_path_is_400(any_broker: Broker) -> None:
    """``/kubeconfig/{id}`` with a NUL reached PostgreSQL as a 500."""
    await refused_and_unchanged(any_broker, "GET", "/kubeconfig/a%00b")


# --- query strings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"page": str(MAX_PAGE + 1)},
        {"page": "92233720368547759"},
        {"page": str(2**70)},
        {"page_size": str(2**70)},
        {"account": "a\x00b"},
        {"instance_id": "a\x00"},
        {"runtime_id": "\x00"},
    ],
    ids=["page-past-offset", "page-issue9", "page-2^70", "page-size-2^70", "nul-account", "nul-id", "nul-rt"],
)
async def test_runtimes_with_out_of_range_or_nul_parameters_is_400(
    any_broker: Broker, query: dict[str, str]
) -> None:
    """Paging past int64 overflowed SQLite and PostgreSQL; NUL bytes broke PostgreSQL."""
    await refused_and_unchanged(any_broker, "GET", "/runtimes", params=query)


async def test_the_last_page_is_answered(any_broker: Broker) -> None:
    """The largest page number still allowed is an empty page, not an error."""
    response = await any_broker.client.get("/runtimes", params={"page": str(MAX_PAGE)})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []


@pytest.mark.parametrize("key", ["instance_ids", "runtime_ids", "operation_ids"])
async def test_events_with_a_nul_is_400(any_broker: Broker, key: str) -> None:
    """A NUL in an /events id list reached PostgreSQL as a 500."""
    await refused_and_unchanged(any_broker, "GET", "/events", params={key: "a,b\x00"})


async def raw_get(broker: Broker, path: str, query: bytes) -> tuple[int, bytes]:
    """GET through the ASGI app directly: httpx refuses query strings over 64 KiB, the ASGI servers do not."""
    app = create_app(broker.services, manage_services=False)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"keb.test")],
        "client": ("127.0.0.1", 1),
        "server": ("keb.test", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_events_with_too_many_ids_is_400(any_broker: Broker) -> None:
    """33,000 ids exceeded the driver's bound-parameter limit; more than the documented maximum is a 400."""
    before = await dump(any_broker.services.storage)
    many = ",".join(f"i{n}" for n in range(33_000)).encode()
    status, body = await raw_get(any_broker, "/events", b"instance_ids=" + many)
    assert status == 400, body
    assert str(MAX_EVENT_IDS) in json.loads(body)["description"]
    assert await dump(any_broker.services.storage) == before


async def test_events_with_the_maximum_of_ids_is_answered(any_broker: Broker) -> None:
    """Exactly the maximum number of ids, spread over the three lists, is a normal query."""
    third = MAX_EVENT_IDS // 3
    params = {
        "instance_ids": ",".join(f"i{n}" for n in range(third)),
        "runtime_ids": ",".join(f"r{n}" for n in range(third)),
        "operation_ids": ",".join(f"o{n}" for n in range(MAX_EVENT_IDS - 2 * third)),
    }
    response = await any_broker.client.get("/events", params=params)
    assert response.status_code == 200, response.text


async def test_a_query_with_too_many_values_is_400(any_broker: Broker) -> None:
    """More than 1000 query values are refused before they are parsed into filters."""
    query = "&".join(f"account=a{n}" for n in range(1001))
    await refused_and_unchanged(any_broker, "GET", f"/runtimes?{query}")


async def test_a_query_that_is_not_utf8_is_400(any_broker: Broker) -> None:
    """Query bytes are decoded strictly, as path bytes are."""
    await refused_and_unchanged(any_broker, "GET", "/runtimes?account=a%FFb")


# --- headers ----------------------------------------------------------------------------------------


async def test_a_user_agent_with_a_nul_is_400(any_broker: Broker) -> None:
    """The User-Agent is stored with the operation; a NUL in it would reach PostgreSQL."""
    await refused_and_unchanged(
        any_broker, "PUT", instance_path("inst-1"), json=provision_body(), headers={"user-agent": "a\x00b"}
    )
