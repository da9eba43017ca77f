"""Brokers with token checks on: the embedded issuer, an external issuer on 127.0.0.1, and none."""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import ECKey, Key, KeySet, RSAKey

from keb_adapters.auth.local import CLIENT_FILE, KEY_FILE, LocalIssuer
from tests.integration.http.conftest import Broker, make_broker

EXTERNAL_ISSUER = "https://issuer.test"


@pytest.fixture(scope="session")
def issuer_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the embedded issuer's key and client, generated once per session."""
    directory = tmp_path_factory.mktemp("issuer-files")
    LocalIssuer(directory, "http://keb.test")
    return directory


@pytest.fixture
async def local_broker(tmp_path: Path, issuer_files: Path) -> AsyncIterator[Broker]:
    """The embedded default: ``APP_AUTH_MODE=local`` with its files in ``tmp_path``.

    The files are copied (mode kept) from ``issuer_files``, so each test does not generate an RSA key.
    """
    for name in (KEY_FILE, CLIENT_FILE):
        shutil.copy2(issuer_files / name, tmp_path / name)
    async for broker in make_broker(env={"APP_AUTH_MODE": "local", "APP_DATA_DIR": str(tmp_path)}):
        yield broker


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class ExternalIssuer:
    """An issuer other than the broker: it signs tokens and serves its JWKS over HTTP on 127.0.0.1."""

    def __init__(self, key: RSAKey | ECKey, name: str = EXTERNAL_ISSUER) -> None:
        self.name = name
        self.published: list[Key] = [key]
        self.signing = key
        self.jwks_requests = 0
        self.outage: web.Response | None = None  # answered instead of the keys while set
        self.url = ""  # set once the server listens

    def rotate_to(self, key: RSAKey | ECKey) -> None:
        """Sign with ``key`` from now on and publish only it, as an issuer rotating its key does."""
        self.published, self.signing = [key], key

    def token(self, **claims: Any) -> str:
        """A token valid now (the broker checks against the wall clock), signed with the current key."""
        now = int(time.time())
        payload = {"iss": self.name, "sub": "platform", "iat": now, "exp": now + 300, **claims}
        algorithm = "ES256" if isinstance(self.signing, ECKey) else "RS256"
        return jwt.encode({"alg": algorithm, "kid": self.signing.kid}, payload, self.signing)

    async def certs(self, _: web.Request) -> web.Response:
        """``GET /oauth2/certs``: the published keys, or the outage while one is set."""
        self.jwks_requests += 1
        if self.outage is not None:
            return self.outage
        return web.json_response(KeySet(self.published).as_dict(private=False))


@attrs.define
class JwtLandscape:
    """A broker in ``APP_AUTH_MODE=jwt`` and the issuer it trusts."""

    broker: Broker
    issuer: ExternalIssuer


@asynccontextmanager
async def broker_with(env: dict[str, str]) -> AsyncIterator[Broker]:
    """``make_broker`` as a context manager: the broker is stopped even when the test fails inside."""
    # make_broker is an async generator (annotated as an iterator): closing it runs its cleanup.
    brokers = cast(AsyncGenerator[Broker, None], make_broker(env=env))
    async with aclosing(brokers):
        yield await anext(brokers)


@asynccontextmanager
async def serving(issuer: ExternalIssuer) -> AsyncIterator[ExternalIssuer]:
    """Run the issuer's JWKS endpoint on a free port of 127.0.0.1 until the block ends."""
    app = web.Application()
    app.router.add_get("/oauth2/certs", issuer.certs)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        issuer.url = f"http://{host}:{port}"
        yield issuer
    finally:
        await runner.cleanup()


@asynccontextmanager
async def jwt_landscape(
    key: RSAKey | ECKey, min_refresh: str, name: str = EXTERNAL_ISSUER
) -> AsyncIterator[JwtLandscape]:
    """A broker with APP_AUTH_ISSUER ``name`` and APP_AUTH_JWKS_URL at an issuer serving ``key``."""
    async with serving(ExternalIssuer(key, name)) as issuer:
        env = {
            "APP_AUTH_MODE": "jwt",
            "APP_AUTH_ISSUER": name,
            "APP_AUTH_JWKS_URL": f"{issuer.url}/oauth2/certs",
            "APP_AUTH_JWKS_MIN_REFRESH_INTERVAL": min_refresh,
        }
        async with broker_with(env) as broker:
            yield JwtLandscape(broker, issuer)
