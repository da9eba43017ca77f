"""Values a database cannot hold are refused up front, the same way on every storage.

PostgreSQL rejects NUL characters in text and JSONB and strings longer than a ``varchar(255)`` column;
letting them through would turn a client's mistake into a 500 (decisions.md §3: no 5xx for anything a
client sent). The broker answers 400 instead, on memory, SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.http.conftest import Broker, instance_path
from tests.support import AWS, SERVICE, provision_body

LONG = "a" * 256
NUL_ID = "x%00y"  # percent-encoded in the path


def nul_parameters() -> dict[str, Any]:
    return provision_body(parameters={"name": "c", "region": "eu-central-1", "administrators": ["a\x00b"]})


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        (instance_path(LONG), provision_body(), "instance_id"),
        (instance_path(NUL_ID), provision_body(), "instance_id"),
        (instance_path("inst-1", LONG), provision_body(), "region"),
        (instance_path("inst-1"), provision_body(ga=LONG), "globalaccount_id"),
        (instance_path("inst-1"), provision_body(sa=LONG), "subaccount_id"),
        (instance_path("inst-1"), provision_body(user=LONG), "user_id"),
        (instance_path("inst-1"), provision_body(ga="ga\x00"), "NUL"),
        (instance_path("inst-1"), provision_body(tenant_id="t\x00"), "NUL"),
        (instance_path("inst-1"), nul_parameters(), "NUL"),
    ],
    ids=[
        "long-id",
        "nul-id",
        "long-region",
        "long-globalaccount",
        "long-subaccount",
        "long-user",
        "nul-globalaccount",
        "nul-context-extra",
        "nul-parameter",
    ],
)
async def test_unstorable_provisioning_requests_are_400(
    any_broker: Broker, path: str, body: dict[str, Any], named: str
) -> None:
    """Over-long ids and NUL characters in a provisioning request are a 400 that says which."""
    response = await any_broker.osb("PUT", path, json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["description"]


@pytest.mark.parametrize(
    ("method", "suffix", "kwargs"),
    [
        ("GET", "", {}),
        ("GET", "/last_operation", {}),
        ("DELETE", "", {"params": {"service_id": SERVICE, "plan_id": AWS}}),
        ("PATCH", "", {"json": {"service_id": SERVICE, "parameters": {"autoScalerMax": 25}}}),
    ],
    ids=["fetch", "last-operation", "deprovision", "update"],
)
async def test_a_nul_in_an_instance_id_is_400_everywhere(
    any_broker: Broker, method: str, suffix: str, kwargs: dict[str, Any]
) -> None:
    """An instance id with a NUL character is refused by every instance endpoint."""
    response = await any_broker.osb(method, instance_path(NUL_ID) + suffix, **kwargs)
    assert response.status_code == 400, response.text
    assert response.json()["description"]


async def test_a_nul_in_an_update_is_400(any_broker: Broker) -> None:
    """An update whose parameters carry a NUL character is refused and changes nothing."""
    await any_broker.provisioned("inst-1")
    body = {"service_id": SERVICE, "parameters": {"administrators": ["a\x00"]}}
    response = await any_broker.patch("inst-1", body)
    assert response.status_code == 400
    fetched = await any_broker.osb("GET", instance_path("inst-1"))
    assert "administrators" not in fetched.json()["parameters"]


async def test_expiring_an_id_with_a_nul_is_400(any_broker: Broker) -> None:
    """The expiry endpoint refuses a NUL in the id too."""
    response = await any_broker.client.put(f"/expire/service_instance/{NUL_ID}")
    assert response.status_code == 400
    assert response.json()["description"]


async def test_the_longest_storable_ids_are_accepted(any_broker: Broker) -> None:
    """255 characters, the column width, still work for the instance id and the global account."""
    longest = "b" * 255
    await any_broker.provisioned(longest, provision_body(ga="g" * 255))
    fetched = await any_broker.osb("GET", instance_path(longest))
    assert fetched.status_code == 200


async def test_a_literal_backslash_u0000_text_is_not_a_nul(any_broker: Broker) -> None:
    """The six characters \\u0000 in a string are ordinary text, not a NUL character."""
    body = provision_body(parameters={"name": "c", "region": "eu-central-1", "administrators": ["\\u0000"]})
    response = await any_broker.osb("PUT", instance_path("inst-1"), json=body)
    assert response.status_code == 202
