"""The OpenAPI document declares bearer auth, and exactly on the operations the middleware guards."""

from __future__ import annotations

import re
from typing import Any

from keb_domain.auth import Access, required_access
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
