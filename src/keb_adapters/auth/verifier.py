"""Bearer JWT verification with joserfc (the JOSE library authlib moved to).

Keys come from the issuer's JWKS and are cached; a token signed with an unknown ``kid`` triggers one
refresh, but refreshes are rate-limited, so a flood of invented ``kid`` values cannot hammer the issuer.
Only asymmetric algorithms are accepted: ``alg: none`` and HMAC (including HS256 "signed" with the public
key) are refused before any key is touched.

Platforms send the same token with every request until it expires, so a verified token is remembered by
its exact string until its ``exp`` (never longer, and the leeway is not added): checking it again costs a
dictionary lookup instead of parsing and a signature check. A key the issuer withdraws therefore stops
new tokens at once, and tokens already seen at their expiry.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from keb_domain.auth import Principal
from keb_domain.errors import UnauthenticatedError

log = logging.getLogger("keb.auth")

ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)

JwksLoader = Callable[[], Awaitable[Mapping[str, Any]]]


def http_jwks(url: str, timeout: float = 10.0) -> JwksLoader:
    """Fetch a JWKS document over HTTP(S)."""

    async def load() -> Mapping[str, Any]:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url)
            response.raise_for_status()
            document: Mapping[str, Any] = response.json()
            return document

    return load


class CachedKeys:
    """The issuer's signing keys, refreshed when an unknown key id appears, at most every ``min_interval``."""

    def __init__(
        self, loader: JwksLoader, *, min_interval: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._loader = loader
        self._min_interval = min_interval
        self._clock = clock
        self._keys: KeySet | None = None
        self._refreshed_at: float | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0

    async def key_set(self, kid: str | None) -> KeySet:
        """The key set, refreshed first when ``kid`` is not in it (and the last refresh is old enough)."""
        if self._keys is None or (kid is not None and not self._has(kid)):
            await self._refresh()
        if self._keys is None:
            raise UnauthenticatedError("the issuer's signing keys are not available")
        return self._keys

    def _has(self, kid: str) -> bool:
        return self._keys is not None and any(key.kid == kid for key in self._keys.keys)

    async def _refresh(self) -> None:
        async with self._lock:  # one refresh at a time; the others then see its result
            now = self._clock()
            if self._refreshed_at is not None and now - self._refreshed_at < self._min_interval:
                return
            self._refreshed_at = now
            try:
                document = await self._loader()
                self._keys = KeySet.import_key_set(dict(document))  # type: ignore[arg-type]
                self.refreshes += 1
            except (httpx.HTTPError, JoseError, ValueError, TypeError, KeyError) as error:
                log.warning("could not load the issuer's signing keys: %s", error)


def _names(value: Any) -> frozenset[str]:
    """A claim holding names as a space-separated string or a list."""
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(str(item) for item in value)
    return frozenset()


class JwtVerifier:
    """Verifies bearer JWTs of one issuer."""

    def __init__(
        self,
        keys: CachedKeys,
        *,
        issuer: str,
        audience: str | None = None,
        leeway: int = 60,
        clock: Callable[[], float] = time.time,
        remember: int = 1024,
    ) -> None:
        """``remember``: how many verified tokens are kept (least recently used go first)."""
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._clock = clock
        self._remember = remember
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if self._clock() < expires:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, expires = await self._verify(token)
        if self._remember > 0 and self._clock() < expires:
            self._verified[token] = (principal, expires)
            if len(self._verified) > self._remember:
                self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        """The principal of a valid token and its ``exp``."""
        header = self._header(token)
        algorithm = header.get("alg")
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise UnauthenticatedError(f"tokens signed with {algorithm!r} are not accepted")
        kid = header.get("kid")
        keys = await self._keys.key_set(str(kid) if kid is not None else None)
        known = [str(key.kid) for key in keys.keys if key.kid is not None]
        if kid is not None and str(kid) not in known:
            # Key ids are public (the JWKS lists them); naming them tells a user which issuer is wrong.
            raise UnauthenticatedError(
                f"the token's key id {str(kid)[:64]!r} is not one of the issuer's keys "
                f"({', '.join(known) or 'none'}); the issuer {self._issuer} did not sign it"
            )
        try:
            decoded = jwt.decode(token, keys, algorithms=[str(algorithm)])
        except JoseError as error:
            raise UnauthenticatedError(f"the token's signature is not valid ({error.error})") from None
        claims = decoded.claims
        issuer = claims.get("iss")
        if issuer != self._issuer:
            raise UnauthenticatedError(
                f"the token's issuer {str(issuer)[:200]!r} is not the expected issuer {self._issuer!r}"
            )
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self._issuer},
            "exp": {"essential": True},
        }
        if self._audience:
            options["aud"] = {"essential": True, "value": self._audience}
        registry = jwt.JWTClaimsRegistry(now=lambda: int(self._clock()), leeway=self._leeway, **options)
        try:
            registry.validate(claims)
        except JoseError as error:
            raise UnauthenticatedError(
                f"the token is not valid: {error.description or error.error}"
            ) from None
        principal = Principal(
            subject=str(claims.get("sub") or claims.get("client_id") or ""),
            scopes=_names(claims.get("scp")) | _names(claims.get("scope")),
            groups=_names(claims.get("groups")),
        )
        exp = claims["exp"]  # validated as present; a non-number is not remembered
        return principal, float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else 0.0

    @staticmethod
    def _header(token: str) -> dict[str, Any]:
        """The JOSE header, read before any verification to pick algorithm and key."""
        parts = token.split(".")
        if len(parts) != 3:
            raise UnauthenticatedError("the token is not a JWT")
        try:
            padded = parts[0] + "=" * (-len(parts[0]) % 4)
            header = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, UnicodeDecodeError):
            raise UnauthenticatedError("the token's header is not valid") from None
        if not isinstance(header, dict):
            raise UnauthenticatedError("the token's header is not valid")
        return header
