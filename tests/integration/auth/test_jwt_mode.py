"""``APP_AUTH_MODE=jwt``: tokens of an external issuer whose keys the broker fetches over HTTP (§4)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from tests.integration.auth.conftest import (
    EXTERNAL_ISSUER,
    ExternalIssuer,
    JwtLandscape,
    bearer,
    broker_with,
    jwt_landscape,
)
from tests.support import OSB
from tests.unit.auth.fakes import EC_KEY, ROTATED_RSA_KEY, RSA_KEY

CATALOG = "/oauth/v2/catalog"


@pytest.fixture
async def landscape() -> AsyncIterator[JwtLandscape]:
    """A broker trusting an issuer on 127.0.0.1, allowed to refetch its keys at any time."""
    async with jwt_landscape(RSA_KEY, min_refresh="0s") as value:
        yield value


async def catalog_status(landscape: JwtLandscape, token: str) -> int:
    response = await landscape.broker.client.get(CATALOG, headers={**OSB, **bearer(token)})
    return response.status_code


async def test_a_token_of_the_issuer_opens_the_catalog(landscape: JwtLandscape) -> None:
    """A token signed with a key the issuer publishes, with ``broker:write``, is let through."""
    assert await catalog_status(landscape, landscape.issuer.token(scope="broker:write")) == 200
    assert landscape.issuer.jwks_requests == 1


async def test_a_token_without_the_scope_is_403(landscape: JwtLandscape) -> None:
    """The external issuer's tokens meet the same scope rules: ``cld:read`` alone is 403 on OSB routes."""
    assert await catalog_status(landscape, landscape.issuer.token(scp=["cld:read"])) == 403


async def test_a_token_of_a_key_the_issuer_does_not_publish_is_401(landscape: JwtLandscape) -> None:
    """A token signed with a key absent from the issuer's JWKS is refused."""
    stranger = ExternalIssuer(EC_KEY)
    assert await catalog_status(landscape, stranger.token(scope="broker:write")) == 401


async def test_a_key_rotation_at_the_issuer_is_picked_up_without_restart(landscape: JwtLandscape) -> None:
    """After the issuer switches to a new kid, its tokens are accepted by the running broker."""
    issuer = landscape.issuer
    assert await catalog_status(landscape, issuer.token(scope="broker:write")) == 200
    issuer.rotate_to(ROTATED_RSA_KEY)
    assert await catalog_status(landscape, issuer.token(scope="broker:write")) == 200
    assert issuer.jwks_requests == 2


async def test_an_issuer_whose_name_ends_with_a_slash_is_matched_exactly() -> None:
    """APP_AUTH_ISSUER ``https://tenant.auth0.com/`` accepts that issuer's tokens (``iss`` with the slash)."""
    async with jwt_landscape(RSA_KEY, min_refresh="0s", name="https://tenant.auth0.com/") as landscape:
        assert await catalog_status(landscape, landscape.issuer.token(scope="broker:write")) == 200


async def test_the_embedded_issuer_is_not_served_in_jwt_mode(landscape: JwtLandscape) -> None:
    """With an external issuer the broker issues no tokens: ``/oauth2/token`` does not exist."""
    response = await landscape.broker.client.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 404


async def test_the_refresh_interval_setting_limits_fetches() -> None:
    """With APP_AUTH_JWKS_MIN_REFRESH_INTERVAL=1h a new kid right after a fetch causes no second fetch."""
    async with jwt_landscape(RSA_KEY, min_refresh="1h") as landscape:
        issuer = landscape.issuer
        assert await catalog_status(landscape, issuer.token(scope="broker:write")) == 200
        issuer.rotate_to(ROTATED_RSA_KEY)
        for _ in range(10):
            assert await catalog_status(landscape, issuer.token(scope="broker:write")) == 401
        assert issuer.jwks_requests == 1


@pytest.mark.parametrize(
    "outage",
    [
        lambda: web.Response(status=503, text="upstream connect error"),
        lambda: web.Response(status=200, text="<html>login</html>", content_type="text/html"),
        lambda: web.json_response({"keys": "none"}),
    ],
    ids=["503", "html", "not-a-key-set"],
)
async def test_an_issuer_answering_garbage_gives_401_not_500(
    landscape: JwtLandscape, outage: Callable[[], web.Response]
) -> None:
    """Error statuses and bodies that are not a JWKS make tokens unverifiable (401), not the broker fail."""
    landscape.issuer.outage = outage()
    assert await catalog_status(landscape, landscape.issuer.token(scope="broker:write")) == 401
    assert landscape.issuer.jwks_requests == 1


async def test_an_unreachable_issuer_gives_401_not_500() -> None:
    """When nothing answers at the JWKS URL, tokens are refused with 401 and the broker keeps serving."""
    with socket.socket() as probe:  # a port that was free a moment ago: connections to it are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "APP_AUTH_MODE": "jwt",
        "APP_AUTH_ISSUER": EXTERNAL_ISSUER,
        "APP_AUTH_JWKS_URL": f"http://127.0.0.1:{port}/oauth2/certs",
    }
    token = ExternalIssuer(RSA_KEY).token(scope="broker:write")
    async with broker_with(env) as broker:
        response = await broker.client.get(CATALOG, headers={**OSB, **bearer(token)})
        assert response.status_code == 401
        assert "keys are not available" in response.json()["description"]
        assert (await broker.client.get("/healthz")).status_code == 200
