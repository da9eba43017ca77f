"""Random and mangled requests against every OSB route: never a 5xx, always an OSB error body.

decisions.md §3: "Every error body is {"description": ..., "error"?: ...}; no 5xx for anything a client
sent". Hypothesis sends valid requests with parts replaced, random JSON, bytes that are not JSON, odd
headers and odd ids, on memory storage and on SQL storage (where column widths and encodings bite).
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql.storage import SqlStorage
from tests.integration.http.conftest import Broker, make_broker
from tests.support import AWS, SERVICE, TRIAL, provision_body

KNOWN = ["known-aws", "known-trial", "known-running"]
PLANS = [AWS, TRIAL, "03b812ac-c991-4528-b5bd-08b303523a63", "not-a-plan"]

ROUTES: list[tuple[str, str, str | None]] = [
    # method, path template, the body the route expects (None: no body)
    ("GET", "/oauth{region}/v2/catalog", None),
    ("PUT", "/oauth{region}/v2/service_instances/{iid}", "provision"),
    ("GET", "/oauth{region}/v2/service_instances/{iid}", None),
    ("PATCH", "/oauth{region}/v2/service_instances/{iid}", "update"),
    ("DELETE", "/oauth{region}/v2/service_instances/{iid}", None),
    ("GET", "/oauth{region}/v2/service_instances/{iid}/last_operation", None),
    ("PUT", "/oauth{region}/v2/service_instances/{iid}/service_bindings/{bid}", "bind"),
    ("GET", "/oauth{region}/v2/service_instances/{iid}/service_bindings/{bid}", None),
    ("DELETE", "/oauth{region}/v2/service_instances/{iid}/service_bindings/{bid}", None),
    ("GET", "/oauth{region}/v2/service_instances/{iid}/service_bindings/{bid}/last_operation", None),
    ("PUT", "/expire/service_instance/{iid}", None),
]


def base_body(kind: str) -> dict[str, Any]:
    if kind == "provision":
        return provision_body()
    if kind == "update":
        return {"service_id": SERVICE, "plan_id": AWS, "parameters": {"autoScalerMax": 25}, "context": {}}
    return {"service_id": SERVICE, "plan_id": AWS, "parameters": {"expiration_seconds": 600}}


# --- strategies ------------------------------------------------------------------------------------

# Bytes HTTP allows in a header value (RFC 9110 field-content): HTAB, SP, VCHAR and obs-text.
HEADER_BYTES = [9, *range(32, 127), *range(128, 256)]
header_values = st.lists(st.sampled_from(HEADER_BYTES), max_size=40).map(bytes)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300)
    | st.sampled_from([SERVICE, AWS, TRIAL, "eu-central-1", "cf-eu11", "", "\x00", "a" * 300])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def containers(value: Any, found: list[Any]) -> list[Any]:
    """Every dict and list inside ``value`` (itself included)."""
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            containers(item, found)
    elif isinstance(value, list):
        found.append(value)
        for item in value:
            containers(item, found)
    return found


@st.composite
def mangled(draw: st.DrawFn, kind: str) -> Any:
    """A valid body of the route with a few values replaced, removed or added."""
    body: Any = copy.deepcopy(base_body(kind))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 4]))):
        if not isinstance(body, dict | list):
            break
        container = draw(st.sampled_from(containers(body, [])))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if isinstance(container, dict):
            keys = list(container)
            if action == "add" or not keys:
                container[draw(st.text(max_size=20))] = draw(json_values)
            elif action == "delete":
                del container[draw(st.sampled_from(keys))]
            else:
                container[draw(st.sampled_from(keys))] = draw(json_values)
        elif container:
            container[draw(st.integers(0, len(container) - 1))] = draw(json_values)
        if draw(st.integers(0, 9)) == 0:
            body = draw(json_values)
    return body


@attrs.frozen
class Call:
    method: str
    path: str
    headers: dict[str, bytes]
    params: dict[str, str]
    content: bytes | None


ids = (
    st.sampled_from(KNOWN)
    | st.sampled_from(["", "-", "é", "a" * 256, "%", "..", "x\x00y"])
    | st.text(max_size=300)
)
regions = st.sampled_from(["", "/cf-eu10", "/cf-eu11", "/cf-us10", "/cf-ch20", "/cf-sa30"]) | st.text(
    min_size=1, max_size=300
).map(lambda r: "/" + urllib.parse.quote(r, safe=""))
versions = st.one_of(
    st.just("2.14"), st.just("2.16"), st.sampled_from(["2.13", "2.17", "3.0", None]), header_values
)
query_values = st.sampled_from(["true", "false", SERVICE, *PLANS, ""]) | st.text(max_size=50)


@st.composite
def calls(draw: st.DrawFn) -> Call:
    method, template, body_kind = draw(st.sampled_from(ROUTES))
    path = template.format(
        region=draw(regions),
        iid=urllib.parse.quote(draw(ids), safe=""),
        bid=urllib.parse.quote(draw(st.sampled_from(["b-1", "b-2"]) | st.text(max_size=80)), safe=""),
    )
    headers: dict[str, bytes] = {}
    version = draw(versions)
    if version is not None:
        headers["X-Broker-API-Version"] = version.encode() if isinstance(version, str) else version
    for name in ("Content-Type", "User-Agent", "X-Broker-API-Originating-Identity"):
        if draw(st.booleans()):
            choices = st.sampled_from(["application/json", "text/plain", "cloudfoundry e30="])
            value = draw(choices | header_values)
            headers[name] = value.encode() if isinstance(value, str) else value
    params = draw(
        st.dictionaries(
            st.sampled_from(["accepts_incomplete", "service_id", "plan_id", "operation"]),
            query_values,
            max_size=4,
        )
    )
    content: bytes | None = None
    if body_kind is not None or draw(st.integers(0, 4)) == 0:
        shape = draw(st.sampled_from(["mangled", "mangled", "json", "bytes", "none"]))
        if shape == "mangled":
            content = json.dumps(draw(mangled(body_kind or "provision"))).encode()
        elif shape == "json":
            content = json.dumps(draw(json_values)).encode()
        elif shape == "bytes":
            content = draw(st.binary(max_size=200) | st.just(b'{"service_id": "') | st.just(b"\xff\xfe"))
    return Call(method, path, headers, params, content)


# --- the property -------------------------------------------------------------------------------------


def assert_osb_answer(call: Call, status: int, content_type: str, body: bytes) -> None:
    assert status < 500, (call, status, body)
    assert content_type.startswith("application/json"), (call, status, content_type)
    if status < 400:
        return
    decoded = json.loads(body)
    if status == 410:
        assert decoded == {}, (call, decoded)
        return
    assert isinstance(decoded, dict), (call, decoded)
    description = decoded.get("description")
    assert isinstance(description, str), (call, decoded)
    assert description.strip(), (call, decoded)
    if "error" in decoded:
        assert isinstance(decoded["error"], str), (call, decoded)
        assert decoded["error"], (call, decoded)


async def run_workers(broker: Broker, rounds: int) -> None:
    """Let operations advance a little (not necessarily to the end), as time would."""
    for _ in range(rounds):
        due = await broker.services.storage.next_due_at()
        if due is None:
            return
        broker.clock.current = max(broker.clock.current, due)
        await broker.services.engine.run_once()


async def populated(broker: Broker) -> Broker:
    """A broker that knows a ready aws instance, a ready trial and a provisioning one."""
    await broker.provisioned("known-aws")
    await broker.provisioned(
        "known-trial", provision_body(plan_id=TRIAL, parameters={"name": "t"}, ga="ga-3")
    )
    await broker.provision("known-running", provision_body(ga="ga-2"))
    return broker


async def exercise(broker: Broker, sequence: list[Call], rounds: int) -> None:
    for call in sequence:
        response = await broker.client.request(
            call.method,
            call.path,
            headers={name.encode(): value for name, value in call.headers.items()},
            params=call.params,
            content=call.content,
        )
        content_type = response.headers.get("content-type", "")
        assert_osb_answer(call, response.status_code, content_type, response.content)
    await run_workers(broker, rounds)


# Three times the profile's examples: most mangled requests fail early, and the deep ones are rarer.
FUZZ = settings(
    max_examples=settings().max_examples * 3,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
async def memory_broker() -> AsyncIterator[Broker]:
    async for broker in make_broker():
        yield await populated(broker)


@pytest.fixture
async def sql_broker(sql_engine: AsyncEngine) -> AsyncIterator[Broker]:
    async for broker in make_broker(storage=SqlStorage(sql_engine)):
        yield await populated(broker)


@FUZZ
@given(sequence=st.lists(calls(), min_size=1, max_size=6), rounds=st.integers(0, 5))
async def test_no_request_gets_a_5xx_on_memory_storage(
    memory_broker: Broker, sequence: list[Call], rounds: int
) -> None:
    """Whatever a client sends, the answer is below 500 and every 4xx but 410 carries a description."""
    await exercise(memory_broker, sequence, rounds)


@FUZZ
@given(sequence=st.lists(calls(), min_size=1, max_size=6), rounds=st.integers(0, 5))
async def test_no_request_gets_a_5xx_on_sql_storage(
    sql_broker: Broker, sequence: list[Call], rounds: int
) -> None:
    """The same on SQLite and PostgreSQL, whose column widths and text encoding reject some values."""
    await exercise(sql_broker, sequence, rounds)
