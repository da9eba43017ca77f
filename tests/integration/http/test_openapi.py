"""The OpenAPI document at /schema/openapi.json tells the truth about the routes the broker serves."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar

from tests.integration.http.conftest import Broker

INSTANCE = "/oauth/v2/service_instances/{instance_id}"
REGION_INSTANCE = "/oauth/{region}/v2/service_instances/{instance_id}"

# Query parameters of the instance endpoints (name -> required), as keb-reference §1.3-§1.8 and the OSB
# spec define them; both the plain and the region-qualified path must document them.
INSTANCE_QUERIES: dict[tuple[str, str], dict[str, bool]] = {
    ("/oauth/v2/catalog", "get"): {},
    (INSTANCE, "put"): {"accepts_incomplete": False},
    (INSTANCE, "get"): {},
    (INSTANCE, "patch"): {"accepts_incomplete": False},
    (INSTANCE, "delete"): {"service_id": True, "plan_id": True, "accepts_incomplete": False},
    (f"{INSTANCE}/last_operation", "get"): {"operation": False, "service_id": False, "plan_id": False},
}

# Status codes the instance endpoints are known to answer (the other tests of this package show each).
INSTANCE_STATUSES: dict[tuple[str, str], set[int]] = {
    ("/oauth/v2/catalog", "get"): {200, 412},
    (INSTANCE, "put"): {200, 202, 400, 409, 412},
    (INSTANCE, "get"): {200, 404, 412},
    (INSTANCE, "patch"): {200, 202, 400, 404, 412, 422},
    (INSTANCE, "delete"): {202, 400, 410, 412},
    (f"{INSTANCE}/last_operation", "get"): {200, 404, 412},
    ("/expire/service_instance/{instance_id}", "put"): {202, 400, 404},
    # Bindings call Kubernetes APIs synchronously: their errors are 502, and 503 when unreachable.
    (f"{INSTANCE}/service_bindings/{{binding_id}}", "put"): {200, 201, 400, 404, 409, 412, 422, 502, 503},
    (f"{INSTANCE}/service_bindings/{{binding_id}}", "get"): {200, 404, 412},
    (f"{INSTANCE}/service_bindings/{{binding_id}}", "delete"): {200, 400, 410, 412, 502, 503},
    ("/kubeconfig/{instance_id}", "get"): {200, 404, 502, 503},
}

# Routes that serve the document itself rather than the API.
DOCUMENTATION = re.compile(r"^/$|^/schema(/|$)")


async def openapi(broker: Broker) -> dict[str, Any]:
    response = await broker.client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def with_region(path: str) -> str:
    return path.replace("/oauth/v2/", "/oauth/{region}/v2/")


def query_parameters(operation: dict[str, Any]) -> dict[str, bool]:
    return {p["name"]: bool(p.get("required")) for p in operation.get("parameters", []) if p["in"] == "query"}


def served_operations(app: Litestar) -> set[tuple[str, str]]:
    """(path, method) of every route handler the app serves, in OpenAPI's path notation."""
    served = set()
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if DOCUMENTATION.match(path):
            continue
        for method in getattr(route, "methods", ()):
            if method not in ("OPTIONS", "HEAD"):
                served.add((path, method.lower()))
    return served


async def test_every_served_route_and_method_is_documented_and_nothing_else(broker: Broker) -> None:
    """The document's operations are exactly the app's routes and methods."""
    document = await openapi(broker)
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    app = broker.client._transport.app  # type: ignore[attr-defined]
    assert documented == served_operations(app)


def route_id(route: tuple[str, str]) -> str:
    return f"{route[1].upper()} {route[0]}"


@pytest.mark.parametrize(
    ("route", "expected"), INSTANCE_QUERIES.items(), ids=[route_id(r) for r in INSTANCE_QUERIES]
)
async def test_instance_query_parameters_are_documented_exactly(
    broker: Broker, route: tuple[str, str], expected: dict[str, bool]
) -> None:
    """Each instance endpoint documents its query parameters, with the right required flags, on both paths."""
    document = await openapi(broker)
    path, method = route
    for variant in (path, with_region(path)):
        assert query_parameters(document["paths"][variant][method]) == expected, variant


async def test_region_paths_document_the_region_parameter(broker: Broker) -> None:
    """Every /oauth/{region}/... operation documents region as a required path parameter."""
    document = await openapi(broker)
    region_paths = [path for path in document["paths"] if path.startswith("/oauth/{region}/")]
    assert region_paths
    for path in region_paths:
        for operation in document["paths"][path].values():
            in_path = {p["name"]: p["required"] for p in operation["parameters"] if p["in"] == "path"}
            assert in_path.get("region") is True, path


@pytest.mark.parametrize(
    ("route", "statuses"), INSTANCE_STATUSES.items(), ids=[route_id(r) for r in INSTANCE_STATUSES]
)
async def test_the_status_codes_the_instance_endpoints_answer_are_documented(
    broker: Broker, route: tuple[str, str], statuses: set[int]
) -> None:
    """Every status an instance endpoint answers appears among its documented responses."""
    document = await openapi(broker)
    path, method = route
    variants = [path, with_region(path)] if path.startswith("/oauth/v2/") else [path]
    for variant in variants:
        documented = {int(code) for code in document["paths"][variant][method]["responses"]}
        assert statuses <= documented, (variant, sorted(statuses - documented))


async def test_documented_errors_have_the_osb_error_shape(broker: Broker) -> None:
    """Documented 4xx responses are OSB error bodies with a description; 410 is an empty object."""
    document = await openapi(broker)
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if not 400 <= int(code) < 500:
                    continue
                reference = response["content"]["application/json"]["schema"]["$ref"]
                schema = schemas[reference.rsplit("/", 1)[-1]]
                if code == "410":
                    assert not schema.get("properties"), (path, method)
                else:
                    assert "description" in schema["properties"], (path, method, code)


async def test_documented_required_query_parameters_are_enforced(broker: Broker) -> None:
    """Leaving out a query parameter the document marks required is a 400 naming it."""
    document = await openapi(broker)
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "delete"):
                continue
            required = [name for name, needed in query_parameters(operation).items() if needed]
            concrete = path.replace("{region}", "cf-eu10").replace("{instance_id}", "i-1")
            concrete = concrete.replace("{binding_id}", "b-1")
            for missing in required:
                params = {name: "x" for name in required if name != missing}
                response = await broker.osb(method.upper(), concrete, params=params)
                assert response.status_code == 400, (path, method, missing)
                assert missing in response.json()["description"]
                checked += 1
    assert checked >= 4  # at least DELETE instance, on both paths, for both parameters


async def test_documented_optional_query_parameters_may_be_left_out(broker: Broker) -> None:
    """Requests without any optional query parameter are not refused for it."""
    await broker.provisioned("i-1")
    document = await openapi(broker)
    for path in (f"{INSTANCE}/last_operation", f"{REGION_INSTANCE}/last_operation"):
        concrete = path.replace("{region}", "cf-eu10").replace("{instance_id}", "i-1")
        assert query_parameters(document["paths"][path]["get"])
        response = await broker.osb("GET", concrete)
        assert response.status_code == 200
