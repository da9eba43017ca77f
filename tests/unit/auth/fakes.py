"""Hand-written fakes for token tests: test keys, a token maker, an issuer's JWKS and clocks.

Keys are generated once per test session; RSA generation is the slow part of these tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, Key, KeySet, RSAKey

from keb_adapters.auth.verifier import CachedKeys, JwtVerifier

ISSUER = "https://issuer.test"
NOW = 1_800_000_000.0  # 2027-01-15: the clocks of these tests start here

RSA_KEY = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig", "alg": "RS256"}, private=True)
OTHER_RSA_KEY = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)  # same kid, other key
ROTATED_RSA_KEY = RSAKey.generate_key(
    2048, parameters={"kid": "rsa-2", "use": "sig", "alg": "RS256"}, private=True
)
EC_KEY = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig", "alg": "ES256"}, private=True)


class Ticker:
    """A clock returning seconds that only moves when told to; usable as wall clock or monotonic clock."""

    def __init__(self, start: float = NOW) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeJwks:
    """An issuer's JWKS endpoint in memory: serves the public half of its keys and counts fetches."""

    def __init__(self, *keys: RSAKey | ECKey) -> None:
        self.keys: list[Key] = list(keys)
        self.calls = 0
        self.failure: Exception | None = None

    def rotate_to(self, *keys: RSAKey | ECKey) -> None:
        """The issuer publishes these keys from now on (and no others)."""
        self.keys = list(keys)

    async def __call__(self) -> Mapping[str, Any]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return dict(KeySet(self.keys).as_dict(private=False))


def unreachable() -> httpx.HTTPError:
    """What httpx raises when the issuer cannot be reached."""
    return httpx.ConnectError("connection refused", request=httpx.Request("GET", f"{ISSUER}/oauth2/certs"))


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims of ``ISSUER`` at ``NOW`` (scope broker:write); ``None`` removes a claim."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "client-1",
        "iat": int(NOW),
        "exp": int(NOW) + 600,
        "scope": "broker:write",
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def sign(payload: Mapping[str, Any], key: RSAKey | ECKey = RSA_KEY, **header: Any) -> str:
    """A compact JWT signed with ``key``; the header defaults to the key's algorithm and kid."""
    algorithm = "ES256" if isinstance(key, ECKey) else "RS256"
    return jwt.encode({"alg": algorithm, "kid": key.kid, **header}, dict(payload), key)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """The signing input of a JWT (header and payload), for tokens made by hand."""
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"


def hmac_with_public_key(payload: Mapping[str, Any], key: RSAKey = RSA_KEY) -> str:
    """The classic key-confusion forgery: HS256 with the RSA public key's PEM bytes as the HMAC secret."""
    signing_input = unsigned({"alg": "HS256", "kid": key.kid, "typ": "JWT"}, payload)
    secret = key.as_pem(private=False)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def verifier(
    jwks: FakeJwks,
    *,
    clock: Ticker | None = None,
    audience: str | None = None,
    leeway: int = 30,
    min_interval: float = 30.0,
    monotonic: Ticker | None = None,
) -> JwtVerifier:
    """A verifier of ``ISSUER`` over ``jwks`` with fake clocks."""
    keys = CachedKeys(jwks, min_interval=min_interval, clock=monotonic or Ticker(0.0))
    return JwtVerifier(keys, issuer=ISSUER, audience=audience, leeway=leeway, clock=clock or Ticker())
