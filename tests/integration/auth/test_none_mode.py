"""``APP_AUTH_MODE=none``: no token checks, as KEB behind its Istio gateway (§4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from keb_adapters.auth.local import CLIENT_FILE, KEY_FILE
from tests.integration.http.conftest import Broker, make_broker
from tests.support import OSB


@pytest.fixture
async def open_broker(tmp_path: Path) -> AsyncIterator[Broker]:
    async for broker in make_broker(env={"APP_AUTH_MODE": "none", "APP_DATA_DIR": str(tmp_path)}):
        yield broker


@pytest.mark.parametrize(
    "authorization", [None, "Basic dXNlcjpwYXNz", "Bearer not.a.jwt"], ids=["none", "basic", "garbage"]
)
async def test_osb_routes_answer_whatever_the_authorization_header(
    open_broker: Broker, authorization: str | None
) -> None:
    """Without checks the catalog answers 200 with no token, another scheme or a garbage token."""
    headers = {**OSB, **({"Authorization": authorization} if authorization else {})}
    response = await open_broker.client.get("/oauth/v2/catalog", headers=headers)
    assert response.status_code == 200


async def test_the_version_header_is_still_checked(open_broker: Broker) -> None:
    """Turning token checks off leaves the OSB rules on: no version header is 412."""
    response = await open_broker.client.get("/oauth/v2/catalog")
    assert response.status_code == 412


async def test_no_issuer_and_no_key_files_in_none_mode(open_broker: Broker, tmp_path: Path) -> None:
    """Without checks there is no embedded issuer: no token endpoint and no key or client file."""
    response = await open_broker.client.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 404
    assert open_broker.services.local_issuer is None
    assert not (tmp_path / KEY_FILE).exists()
    assert not (tmp_path / CLIENT_FILE).exists()
