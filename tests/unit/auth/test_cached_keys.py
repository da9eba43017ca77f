"""CachedKeys: the issuer's keys are fetched once, refreshed on an unknown kid, and never hammered."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from keb_adapters.auth.verifier import CachedKeys
from keb_domain.errors import UnauthenticatedError
from tests.unit.auth.fakes import (
    EC_KEY,
    ROTATED_RSA_KEY,
    RSA_KEY,
    FakeJwks,
    Ticker,
    claims,
    sign,
    unreachable,
    verifier,
)


async def test_keys_are_fetched_once_for_many_tokens() -> None:
    """Tokens with a known kid are verified from the cache."""
    jwks = FakeJwks(RSA_KEY)
    check = verifier(jwks)
    for _ in range(5):
        await check.verify(sign(claims()))
    assert jwks.calls == 1


async def test_a_key_rotation_at_the_issuer_is_picked_up_without_restart() -> None:
    """After the issuer starts signing with a new kid, the verifier fetches the keys again and accepts it."""
    jwks, monotonic = FakeJwks(RSA_KEY), Ticker(0.0)
    check = verifier(jwks, monotonic=monotonic, min_interval=30)
    await check.verify(sign(claims()))
    jwks.rotate_to(ROTATED_RSA_KEY)
    monotonic.advance(31)
    principal = await check.verify(sign(claims(), ROTATED_RSA_KEY))
    assert principal.subject == "client-1"
    assert jwks.calls == 2


async def test_a_flood_of_unknown_kids_refreshes_at_most_once_per_interval() -> None:
    """Invented kids cause one fetch per ``min_interval``, however many arrive."""
    jwks, monotonic = FakeJwks(RSA_KEY), Ticker(0.0)
    check = verifier(jwks, monotonic=monotonic, min_interval=30)
    await check.verify(sign(claims()))  # fetch 1

    async def flood(count: int) -> None:
        for number in range(count):
            with pytest.raises(UnauthenticatedError):
                await check.verify(sign(claims(), RSA_KEY, kid=f"invented-{number}"))

    await flood(50)  # within the interval of fetch 1: no fetch
    assert jwks.calls == 1
    monotonic.advance(31)
    await flood(50)  # one fetch, then the interval holds again
    assert jwks.calls == 2
    monotonic.advance(29)
    await flood(50)
    assert jwks.calls == 2
    monotonic.advance(2)
    await flood(50)
    assert jwks.calls == 3


async def test_concurrent_unknown_kids_share_one_refresh() -> None:
    """Requests that miss the cache at the same moment wait for one fetch instead of each making one."""
    release = asyncio.Event()

    class SlowJwks(FakeJwks):
        async def __call__(self) -> Mapping[str, Any]:
            await release.wait()
            return await super().__call__()

    jwks = SlowJwks(RSA_KEY)
    keys = CachedKeys(jwks, min_interval=30, clock=Ticker(0.0))
    waiting = [asyncio.create_task(keys.key_set(f"kid-{number}")) for number in range(20)]
    await asyncio.sleep(0)  # let every task reach the lock
    release.set()
    key_sets = await asyncio.gather(*waiting)
    assert jwks.calls == 1
    assert all(key_set.keys[0].kid == RSA_KEY.kid for key_set in key_sets)


async def test_an_unreachable_issuer_gives_401_not_a_crash() -> None:
    """When the JWKS cannot be fetched (httpx.HTTPError), the token is refused as unauthenticated."""
    jwks = FakeJwks(RSA_KEY)
    jwks.failure = unreachable()
    with pytest.raises(UnauthenticatedError, match="keys are not available"):
        await verifier(jwks).verify(sign(claims()))


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.HTTPStatusError(
            "503",
            request=httpx.Request("GET", "https://issuer.test/oauth2/certs"),
            response=httpx.Response(503),
        ),
        ValueError("Expecting value: line 1 column 1 (char 0)"),
    ],
    ids=["timeout", "status", "not-json"],
)
async def test_every_kind_of_fetch_failure_gives_401(failure: Exception) -> None:
    """Timeouts, error statuses and bodies that are not JSON are refusals, not crashes."""
    jwks = FakeJwks(RSA_KEY)
    jwks.failure = failure
    with pytest.raises(UnauthenticatedError):
        await verifier(jwks).verify(sign(claims()))


async def test_a_document_that_is_not_a_jwks_gives_401() -> None:
    """An issuer answering JSON that is not a key set makes tokens unverifiable, not the broker crash."""

    async def not_a_key_set() -> Mapping[str, Any]:
        return {"keys": [{"kty": "nonsense"}]}

    keys = CachedKeys(not_a_key_set, clock=Ticker(0.0))
    with pytest.raises(UnauthenticatedError):
        await keys.key_set("rsa-1")


async def test_a_failing_refresh_keeps_the_keys_already_known() -> None:
    """If the issuer is down when an unknown kid arrives, tokens of known keys still pass."""
    jwks, monotonic = FakeJwks(RSA_KEY), Ticker(0.0)
    check = verifier(jwks, monotonic=monotonic, min_interval=30)
    await check.verify(sign(claims()))
    jwks.failure = unreachable()
    monotonic.advance(31)
    with pytest.raises(UnauthenticatedError):
        await check.verify(sign(claims(), EC_KEY))
    principal = await check.verify(sign(claims()))
    assert principal.subject == "client-1"
    assert jwks.calls == 2


async def test_the_issuer_is_asked_again_after_an_outage() -> None:
    """A failed first fetch is retried once the interval has passed, and then tokens pass."""
    jwks, monotonic = FakeJwks(RSA_KEY), Ticker(0.0)
    jwks.failure = unreachable()
    check = verifier(jwks, monotonic=monotonic, min_interval=30)
    with pytest.raises(UnauthenticatedError):
        await check.verify(sign(claims()))
    jwks.failure = None
    monotonic.advance(31)
    principal = await check.verify(sign(claims()))
    assert principal.subject == "client-1"
