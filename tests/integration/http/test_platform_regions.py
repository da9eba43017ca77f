"""Every OSB route refuses a platform region the broker does not serve, in any spelling (issue 9, Found 1).

``/oauth/CF-EU11/...`` is ``/oauth/cf-eu11/...``; ``/oauth/cf-eu11%E2%80%8B/...`` (a zero-width space) is
a 404 naming it, never an aws runtime in ``us-east-1`` outside the EU Access rules.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.http.conftest import Broker, instance_path, make_broker
from tests.support import AWS, SERVICE, provision_body, settings_for_tests

US_EAST = provision_body(parameters={"name": "my-cluster", "region": "us-east-1"})
EU_CENTRAL = provision_body()
BIND = {"service_id": SERVICE, "plan_id": AWS}
QUERY = {"service_id": SERVICE, "plan_id": AWS}

# method, path after /oauth/{region}, JSON body, query
ROUTES: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]] = [
    ("GET", "/v2/catalog", None, {}),
    ("PUT", "/v2/service_instances/i-new", EU_CENTRAL, {"accepts_incomplete": "true"}),
    ("GET", "/v2/service_instances/i-1", None, {}),
    ("PATCH", "/v2/service_instances/i-1", {"service_id": SERVICE, "parameters": {}}, {}),
    ("DELETE", "/v2/service_instances/i-1", None, QUERY),
    ("GET", "/v2/service_instances/i-1/last_operation", None, {}),
    ("PUT", "/v2/service_instances/i-1/service_bindings/b-1", BIND, {}),
    ("GET", "/v2/service_instances/i-1/service_bindings/b-1", None, {}),
    ("DELETE", "/v2/service_instances/i-1/service_bindings/b-1", None, QUERY),
    ("GET", "/v2/service_instances/i-1/service_bindings/b-1/last_operation", None, {}),
]


def encoded(region: str) -> str:
    """Every byte of the name percent-encoded, so the path segment carries exactly these characters."""
    return "".join(f"%{byte:02X}" for byte in region.encode())


async def call(broker: Broker, route: tuple[str, str, Any, dict[str, str]], region: str) -> Any:
    method, path, body, query = route
    return await broker.osb(method, f"/oauth/{encoded(region)}{path}", json=body, params=query)


async def instance_exists(broker: Broker, instance_id: str) -> bool:
    async with broker.services.storage() as uow:
        return await uow.instances.get(instance_id) is not None


async def test_upper_case_eu_access_region_keeps_the_eu_access_rules(broker: Broker) -> None:
    """/oauth/CF-EU11 refuses us-east-1 exactly as /oauth/cf-eu11 does, and stores cf-eu11."""
    lower = await broker.osb("PUT", instance_path("i-us", "cf-eu11"), json=US_EAST)
    upper = await broker.osb("PUT", instance_path("i-us", "CF-EU11"), json=US_EAST)
    assert lower.status_code == upper.status_code == 400
    assert lower.json() == upper.json()
    assert not await instance_exists(broker, "i-us")

    accepted = await broker.osb("PUT", instance_path("i-eu", "CF-EU11"), json=EU_CENTRAL)
    assert accepted.status_code == 202, accepted.text
    async with broker.services.storage() as uow:
        instance = await uow.instances.get("i-eu")
    assert instance is not None
    assert instance.platform_region == "cf-eu11"


async def test_an_identical_put_in_another_case_is_the_same_request(broker: Broker) -> None:
    """A repeat of a provisioning request under CF-EU11 matches the one under cf-eu11 (not a 409)."""
    first = await broker.osb("PUT", instance_path("i-eu", "cf-eu11"), json=EU_CENTRAL)
    again = await broker.osb("PUT", instance_path("i-eu", "Cf-Eu11"), json=EU_CENTRAL)
    assert first.status_code == again.status_code == 202
    assert first.json()["operation"] == again.json()["operation"]


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
async def test_a_zero_width_space_makes_the_region_unknown_on_every_route(
    broker: Broker, route: tuple[str, str, Any, dict[str, str]]
) -> None:
    """cf-eu11 followed by U+200B is a 404 naming the region on every route, and nothing is stored."""
    await broker.provisioned("i-1")
    response = await call(broker, route, "cf-eu11\u200b")
    assert response.status_code == 404, response.text
    assert response.json()["description"] == "platform region 'cf-eu11\\u200b' is not served by this broker"
    assert not await instance_exists(broker, "i-new")
    assert await instance_exists(broker, "i-1")  # the DELETE did not deprovision it


async def test_the_catalog_of_an_upper_case_region_is_that_regions_catalog(broker: Broker) -> None:
    """GET /oauth/CF-EU11/v2/catalog answers the cf-eu11 catalog, with EU Access regions only."""
    lower = await broker.osb("GET", "/oauth/cf-eu11/v2/catalog")
    upper = await broker.osb("GET", "/oauth/CF-EU11/v2/catalog")
    assert lower.status_code == upper.status_code == 200
    assert lower.json() == upper.json()


async def test_paths_without_a_region_keep_the_default(broker: Broker) -> None:
    """/oauth/v2/... still uses APP_BROKER_DEFAULT_REQUEST_REGION (cf-eu10)."""
    response = await broker.osb("PUT", instance_path("i-default"), json=US_EAST)
    assert response.status_code == 202, response.text
    async with broker.services.storage() as uow:
        instance = await uow.instances.get("i-default")
    assert instance is not None
    assert instance.platform_region == "cf-eu10"


NARROW = {"APP_BROKER_PLATFORM_REGIONS": "cf-eu10,cf-eu11"}
# The listed regions plus those the built-in plans configuration and trial mapping name.
SERVED = settings_for_tests(NARROW).broker.policy.served_platform_regions


def inserted(name: str, at: int, extra: str, upper: bool) -> str:
    spelling = name[:at] + extra + name[at:]
    return spelling.upper() if upper else spelling


# Names close to served ones (case, invisible and look-alike characters, whitespace) and anything at all.
near_misses = st.builds(
    inserted,
    st.sampled_from(sorted(SERVED)),
    st.integers(0, 7),
    st.text(min_size=1, max_size=2),
    st.booleans(),
)
unserved = (near_misses | st.text(min_size=1, max_size=40)).filter(
    # "." and ".." are path segments the client resolves before sending (/oauth/./v2 is /oauth/v2).
    lambda name: not (name.isascii() and name.lower() in SERVED) and name.strip(".") != ""
)


@pytest.fixture
async def narrow_broker() -> Any:
    """A broker serving only cf-eu10, cf-eu11 and what its configuration names, with an aws instance i-1."""
    async for broker in make_broker(NARROW):
        await broker.provisioned("i-1")
        yield broker


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(region=unserved, route=st.sampled_from(ROUTES))
async def test_no_route_provisions_under_a_region_that_is_not_served(
    narrow_broker: Broker, region: str, route: tuple[str, str, Any, dict[str, str]]
) -> None:
    """For any name that is not a served platform region: a 4xx OSB body, no new instance, i-1 untouched."""
    assert "cf-jp31" not in SERVED  # on the built-in list, so the list setting took effect
    response = await call(narrow_broker, route, region)
    assert 400 <= response.status_code < 500, (region, response.status_code, response.text)
    assert response.json()["description"]
    assert not await instance_exists(narrow_broker, "i-new")
    assert await instance_exists(narrow_broker, "i-1")
