"""The OpenAPI document declares bearer auth, and exactly on the operations the middleware guards."""

from __future__ import annotations

import re
from typing import Any

from keb_adapters.http.auth import required_access
from keb_domain.auth import Access
from tests.integration.auth.conftest import bearer
from tests.integration.http.conftest import Broker


async def document(broker: Broker) -> dict[str, Any]:
    response = await broker.client.get("/schema/openapi.json")
    assert response.status_code == 200
    value: dict[str, Any] = response.json()
    return value


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation) for path, item in doc["paths"].items() for method, operation in item.items()
    ]


def concrete(path: str) -> str:
    """An OpenAPI path template with each parameter filled in, as a request would name it."""
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_the_bearer_security_scheme_is_declared(local_broker: Broker) -> None:
    """``components.securitySchemes`` declares HTTP bearer with JWT tokens."""
    schemes = (await document(local_broker))["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


async def test_protected_operations_reference_the_bearer_scheme(local_broker: Broker) -> None:
    """Every operation on a path needing a token requires ``bearer``; the OSB routes are among them."""
    guarded = [
        (path, method, operation)
        for path, method, operation in operations(await document(local_broker))
        if required_access(concrete(path)) is not Access.OPEN
    ]
    assert {path for path, _, _ in guarded} >= {"/oauth/v2/catalog", "/expire/service_instance/{instance_id}"}
    missing = [f"{method} {path}" for path, method, op in guarded if op.get("security") != [{"bearer": []}]]
    assert missing == []


async def test_open_operations_do_not_ask_for_a_token(local_broker: Broker) -> None:
    """Operations on open paths (health, the issuer's endpoints) carry no security requirement."""
    open_operations = [
        (path, method, operation)
        for path, method, operation in operations(await document(local_broker))
        if required_access(concrete(path)) is Access.OPEN
    ]
    assert {path for path, _, _ in open_operations} >= {"/healthz", "/oauth2/token", "/oauth2/certs"}
    assert [f"{method} {path}" for path, method, op in open_operations if op.get("security")] == []


async def test_every_protected_operation_documents_the_401_it_answers_without_a_token(
    local_broker: Broker,
) -> None:
    """Each guarded operation, called without a token, answers 401, and 401 and 403 are documented."""
    doc = await document(local_broker)
    checked = 0
    for path, method, operation in operations(doc):
        if required_access(concrete(path)) is Access.OPEN:
            continue
        response = await local_broker.client.request(method.upper(), concrete(path))
        assert response.status_code == 401, (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
        checked += 1
    assert checked >= 20


async def test_osb_operations_document_the_version_header_and_the_412_without_it(
    local_broker: Broker,
) -> None:
    """Every OSB operation declares a required X-Broker-API-Version header; without it, 412 (documented)."""
    doc = await document(local_broker)
    token = local_broker.services.local_issuer.mint(("broker:write",)).reveal()  # type: ignore[union-attr]
    osb = [(p, m, op) for p, m, op in operations(doc) if p.startswith("/oauth/") and "/v2/" in p]
    assert len(osb) == 20  # 10 operations, each with and without the platform region
    for path, method, operation in osb:
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [(h["name"], h["required"]) for h in headers] == [("X-Broker-API-Version", True)], path
        response = await local_broker.client.request(
            method.upper(), concrete(path).replace("/oauth/x/", "/oauth/cf-eu10/"), headers=bearer(token)
        )
        assert response.status_code == 412, (method, path, response.text)
        assert "412" in operation["responses"], (method, path)
