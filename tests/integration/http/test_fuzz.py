"""Random and mangled requests against every route: never a 5xx, an OSB error body, and a 4xx changes nothing.

decisions.md §3: "Every error body is {"description": ..., "error"?: ...}; no 5xx for anything a client
sent". Hypothesis sends valid requests with parts replaced, random JSON, bytes that are not JSON or not
UTF-8, nesting past the limit, numbers past int64, NUL escapes, duplicate keys, odd headers, raw
percent-encoded bytes in paths and query strings, on memory storage and on SQLite and PostgreSQL (where
column widths and encodings bite). After every 4xx the storage is dumped and compared with the dump before.

Bounded for ``make test``: a fixed number of examples, derandomized so every run sends the same requests.
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
from tests.integration.http.conftest import Broker, dump, make_broker
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
    ("GET", "/runtimes", None),
    ("GET", "/info/runtimes", None),
    ("GET", "/events", None),
    ("GET", "/kubeconfig/{iid}", None),
    ("GET", "/healthz", None),
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
# Bytes HTTP servers would refuse, which an ASGI app can still be handed (NUL, other controls, DEL).
control_header_values = st.lists(st.integers(0, 255), min_size=1, max_size=10).map(bytes)

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
    query: str
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
QUERY_NAMES = [
    "accepts_incomplete",
    "service_id",
    "plan_id",
    "operation",
    "page",
    "page_size",
    "account",
    "subaccount",
    "instance_id",
    "runtime_id",
    "region",
    "shoot",
    "plan",
    "state",
    "expired",
    "op_detail",
    "bindings",
    "with_bindings",
    "instance_ids",
    "runtime_ids",
    "operation_ids",
]
numbers = st.sampled_from(
    ["0", "-1", "1", "100", "101", str(2**63), str(2**63 - 1), "92233720368547759", "1e3"]
)
# A query value as it goes on the wire: percent-encoded text, or raw bytes (which need not be UTF-8).
wire_query_values = st.one_of(
    query_values.map(lambda v: urllib.parse.quote(v, safe="")),
    numbers,
    st.binary(max_size=20).map(lambda b: urllib.parse.quote_from_bytes(b, safe="")),
    st.sampled_from(["a%00b", "%FF", "%ED%A0%80", ",".join(["x"] * 1001)]),
)
queries = st.lists(
    st.tuples(st.sampled_from(QUERY_NAMES) | st.text(max_size=8).map(urllib.parse.quote), wire_query_values),
    max_size=5,
).map(lambda pairs: "&".join(f"{name}={value}" for name, value in pairs))
raw_ids = st.binary(min_size=1, max_size=12).map(lambda b: urllib.parse.quote_from_bytes(b, safe=""))

MARK = "\u2603fuzz-mark"
# JSON text the encoder would never write: the decoder and the storages must refuse it as a 400.
hostile_json = st.one_of(
    st.integers(30, 3000).map(lambda n: "[" * n + "1" + "]" * n),
    st.integers(30, 400).map(lambda n: '{"a":' * n + '"\\u0000"' + "}" * n),
    st.sampled_from([str(2**63), str(-(2**63) - 1), "1" + "0" * 400, "1e999", "-1e999", "NaN", "Infinity"]),
    st.sampled_from(
        ['"a\\u0000b"', '{"\\u0000": 1}', '"\\ud800"', '{"k": 1, "k": 2}', '{"a": {"b": 1, "b": 1}}']
    ),
)


@st.composite
def hostile_bodies(draw: st.DrawFn, kind: str) -> bytes:
    """A route's body with one value replaced by hostile JSON text, or made invalid UTF-8."""
    body = draw(mangled(kind))
    if isinstance(body, dict) and draw(st.booleans()):
        container = draw(st.sampled_from([c for c in containers(body, []) if isinstance(c, dict)]))
        container[draw(st.sampled_from([*container, "extra"]) if container else st.just("extra"))] = MARK
        text = json.dumps(body).replace(json.dumps(MARK), draw(hostile_json))
    else:
        text = draw(hostile_json)
    raw = text.encode()
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + bytes([draw(st.integers(0x80, 0xFF))]) + raw[at:]
    if draw(st.integers(0, 5)) == 0:
        raw = raw.replace(b'"plan_id"', b'"plan_id": "x", "plan_id"', 1)  # a duplicate key
    return raw


@st.composite
def calls(draw: st.DrawFn) -> Call:
    method, template, body_kind = draw(st.sampled_from(ROUTES))
    path = template.format(
        region=draw(regions),
        iid=draw(st.one_of(ids.map(lambda v: urllib.parse.quote(v, safe="")), raw_ids)),
        bid=draw(
            st.one_of(
                (st.sampled_from(["b-1", "b-2", "B_Upper", ".", "<script>"]) | st.text(max_size=80)).map(
                    lambda v: urllib.parse.quote(v, safe="")
                ),
                raw_ids,
            )
        ),
    )
    headers: dict[str, bytes] = {}
    version = draw(versions)
    if version is not None:
        headers["X-Broker-API-Version"] = version.encode() if isinstance(version, str) else version
    for name in ("Content-Type", "User-Agent", "X-Broker-API-Originating-Identity", "Origin", "X-Any"):
        if draw(st.booleans()):
            choices = st.sampled_from(["application/json", "text/plain", "cloudfoundry e30="])
            value = draw(choices | header_values | control_header_values)
            headers[name] = value.encode() if isinstance(value, str) else value
    query = draw(queries)
    content: bytes | None = None
    if body_kind is not None or draw(st.integers(0, 4)) == 0:
        shape = draw(st.sampled_from(["mangled", "mangled", "hostile", "hostile", "json", "bytes", "none"]))
        if shape == "mangled":
            content = json.dumps(draw(mangled(body_kind or "provision"))).encode()
        elif shape == "hostile":
            content = draw(hostile_bodies(body_kind or "provision"))
        elif shape == "json":
            content = json.dumps(draw(json_values)).encode()
        elif shape == "bytes":
            content = draw(st.binary(max_size=200) | st.just(b'{"service_id": "') | st.just(b"\xff\xfe"))
    return Call(method, path, headers, query, content)


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
        before = await dump(broker.services.storage)
        response = await broker.client.request(
            call.method,
            call.path + (f"?{call.query}" if call.query else ""),
            headers={name.encode(): value for name, value in call.headers.items()},
            content=call.content,
        )
        content_type = response.headers.get("content-type", "")
        if call.path.startswith("/kubeconfig/") and response.status_code == 200:
            content_type = "application/json"  # the one route that answers YAML; its errors are JSON
        if call.path == "/info/runtimes" and response.status_code == 200:
            assert isinstance(json.loads(response.content), list)
        assert_osb_answer(call, response.status_code, content_type, response.content)
        if response.status_code >= 400:
            assert await dump(broker.services.storage) == before, (call, response.status_code)
    await run_workers(broker, rounds)


# A fixed budget and the same examples on every run, so that `make test` stays a few tens of seconds and
# a failure in CI is a failure on a developer's machine too.
FUZZ = settings(
    max_examples=80,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
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
    """Whatever a client sends: below 500, every 4xx but 410 with a description, and no 4xx changes state."""
    await exercise(memory_broker, sequence, rounds)


@FUZZ
@given(sequence=st.lists(calls(), min_size=1, max_size=6), rounds=st.integers(0, 5))
async def test_no_request_gets_a_5xx_on_sql_storage(
    sql_broker: Broker, sequence: list[Call], rounds: int
) -> None:
    """The same on SQLite and PostgreSQL, whose column widths and text encoding reject some values."""
    await exercise(sql_broker, sequence, rounds)
