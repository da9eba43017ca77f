"""OSB strictness: a required id left out or sent empty is a 400 on every route, and changes nothing.

decisions.md §3: "service_id / plan_id sent empty ("", query or body): 400, as if missing, before any state
is read; bind / unbind with a plan_id that is not the instance's plan or not in the catalog: 400". OSB 2.14
also says ``organization_guid`` and ``space_guid`` MUST be non-empty when present.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql.storage import SqlStorage
from tests.integration.bindings.conftest import BindingBroker, bind_body, make_binding_broker
from tests.support import AWS, AZURE, SERVICE, provision_body

INSTANCES = ("inst-1", "inst-new")
BINDINGS = ("b-1", "b-new")
REMOVED = object()

# route -> (method, path under /oauth[/region]/v2, where the ids go, the fields a platform must send)
ROUTES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "provision-new": ("PUT", "/service_instances/inst-new", "body", ("service_id", "plan_id")),
    "provision-repeat": ("PUT", "/service_instances/inst-1", "body", ("service_id", "plan_id")),
    "update": ("PATCH", "/service_instances/inst-1", "body", ("service_id",)),
    "deprovision": ("DELETE", "/service_instances/inst-1", "query", ("service_id", "plan_id")),
    "bind-new": (
        "PUT",
        "/service_instances/inst-1/service_bindings/b-new",
        "body",
        ("service_id", "plan_id"),
    ),
    "bind-repeat": (
        "PUT",
        "/service_instances/inst-1/service_bindings/b-1",
        "body",
        ("service_id", "plan_id"),
    ),
    "unbind": (
        "DELETE",
        "/service_instances/inst-1/service_bindings/b-1",
        "query",
        ("service_id", "plan_id"),
    ),
}


def valid_ids(route: str) -> dict[str, Any]:
    """What a correct request of the route sends."""
    if route.startswith("provision"):
        return provision_body()
    if route == "update":
        return {"service_id": SERVICE, "plan_id": AWS, "parameters": {"autoScalerMax": 25}}
    if route.startswith("bind"):
        return bind_body()
    return {"service_id": SERVICE, "plan_id": AWS}


async def snapshot(broker: BindingBroker) -> tuple[Any, ...]:
    """Everything stored about the instances and bindings the requests could touch."""
    async with broker.services.storage() as uow:
        instances = [await uow.instances.get(i) for i in INSTANCES]
        operations = [await uow.operations.list_for_instance(i) for i in INSTANCES]
        bindings = [await uow.bindings.get("inst-1", b) for b in BINDINGS]
    return tuple(instances), tuple(tuple(o) for o in operations), tuple(bindings)


async def send(broker: BindingBroker, route: str, region: str, ids: dict[str, Any]) -> Any:
    method, path, where, _ = ROUTES[route]
    url = f"/oauth{region}/v2{path}"
    payload = {k: v for k, v in ids.items() if v is not REMOVED}
    if where == "query":
        return await broker.osb(method, url, params={**payload, "accepts_incomplete": "true"})
    return await broker.osb(method, url, params={"accepts_incomplete": "true"}, json=payload)


async def ready(broker: BindingBroker) -> BindingBroker:
    await broker.provisioned("inst-1")
    assert (await broker.bind("inst-1", "b-1")).status_code == 201
    return broker


@pytest.fixture
async def memory_broker() -> AsyncIterator[BindingBroker]:
    async for broker in make_binding_broker():
        yield await ready(broker)


@pytest.fixture
async def sql_broker(sql_engine: AsyncEngine) -> AsyncIterator[BindingBroker]:
    async for broker in make_binding_broker(storage=SqlStorage(sql_engine)):
        yield await ready(broker)


@st.composite
def broken_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], str]:
    """A route, a region prefix, its request with one required field removed or blanked, and which."""
    route = draw(st.sampled_from(sorted(ROUTES)))
    field = draw(st.sampled_from(ROUTES[route][3]))
    ids = copy.deepcopy(valid_ids(route))
    ids[field] = draw(st.sampled_from([REMOVED, ""]))
    return route, draw(st.sampled_from(["", "/cf-eu10"])), ids, field


STRICT = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


async def check_refused(broker: BindingBroker, request: tuple[str, str, dict[str, Any], str]) -> None:
    route, region, ids, field = request
    before = await snapshot(broker)
    response = await send(broker, route, region, ids)
    assert response.status_code == 400, (route, ids, response.text)
    assert field in response.json()["description"], response.text
    await broker.step()
    assert await snapshot(broker) == before, (route, ids)


@STRICT
@given(request=broken_requests())
async def test_a_missing_or_empty_id_is_a_400_that_changes_nothing(
    memory_broker: BindingBroker, request: tuple[str, str, dict[str, Any], str]
) -> None:
    """On every route, removing or blanking a required id answers 400 naming it, and storage is unchanged."""
    await check_refused(memory_broker, request)


@STRICT
@given(request=broken_requests())
async def test_a_missing_or_empty_id_changes_nothing_on_sql_storage(
    sql_broker: BindingBroker, request: tuple[str, str, dict[str, Any], str]
) -> None:
    """The same on SQLite and PostgreSQL."""
    await check_refused(sql_broker, request)


@pytest.mark.parametrize("route", ["bind-new", "bind-repeat", "unbind"])
@pytest.mark.parametrize("plan_id", ["not-a-plan", AZURE])
async def test_bind_and_unbind_need_the_instance_plan(
    memory_broker: BindingBroker, route: str, plan_id: str
) -> None:
    """Bind and unbind with a plan outside the catalog, or another plan than the instance's, are a 400."""
    before = await snapshot(memory_broker)
    response = await send(memory_broker, route, "", {**valid_ids(route), "plan_id": plan_id})
    assert response.status_code == 400, response.text
    assert "plan_id" in response.json()["description"]
    assert await snapshot(memory_broker) == before


async def test_deprovision_needs_a_catalog_plan(memory_broker: BindingBroker) -> None:
    """DELETE with a plan_id the catalog does not have is a 400 and leaves the instance alone."""
    before = await snapshot(memory_broker)
    response = await send(memory_broker, "deprovision", "", {"service_id": SERVICE, "plan_id": "nope"})
    assert response.status_code == 400, response.text
    assert await snapshot(memory_broker) == before


@pytest.mark.parametrize("field", ["organization_guid", "space_guid"])
@pytest.mark.parametrize("value", ["", "  "])
async def test_empty_organization_or_space_guid_is_refused(
    memory_broker: BindingBroker, field: str, value: str
) -> None:
    """organization_guid / space_guid may be left out, but when present they must not be empty (OSB)."""
    body = {**provision_body(), field: value}
    response = await send(memory_broker, "provision-new", "", body)
    assert response.status_code == 400, response.text
    assert field in response.json()["description"]
    accepted = await send(memory_broker, "provision-new", "", {**provision_body(), field: "org-or-space-1"})
    assert accepted.status_code == 202, accepted.text


async def test_the_correct_requests_still_work(memory_broker: BindingBroker) -> None:
    """The unmodified requests succeed, so the 400s above come from the broken field alone."""
    assert (await send(memory_broker, "bind-new", "", valid_ids("bind-new"))).status_code == 201
    assert (await send(memory_broker, "unbind", "", valid_ids("unbind"))).status_code == 200
    assert (await send(memory_broker, "deprovision", "", valid_ids("deprovision"))).status_code == 202


async def test_an_update_with_an_empty_plan_id_is_refused(memory_broker: BindingBroker) -> None:
    """plan_id is optional in an update, but an empty one is a 400, not "keep the plan"."""
    before = await snapshot(memory_broker)
    response = await send(memory_broker, "update", "", {**valid_ids("update"), "plan_id": ""})
    assert response.status_code == 400, response.text
    assert "plan_id" in response.json()["description"]
    assert await snapshot(memory_broker) == before
