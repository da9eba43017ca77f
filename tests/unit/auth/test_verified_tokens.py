"""JwtVerifier remembers verified tokens until their ``exp``, so a platform's repeated token is cheap."""

from __future__ import annotations

import pytest
from joserfc.jwk import KeySet

from keb_adapters.auth.verifier import CachedKeys, JwtVerifier
from keb_domain.errors import UnauthenticatedError
from tests.unit.auth.fakes import ISSUER, NOW, RSA_KEY, FakeJwks, Ticker, claims, sign


class CountingKeys(CachedKeys):
    """The issuer's keys, counting how often a verification asks for them."""

    def __init__(self, jwks: FakeJwks) -> None:
        super().__init__(jwks, clock=Ticker(0.0))
        self.asked = 0

    async def key_set(self, kid: str | None) -> KeySet:
        self.asked += 1
        return await super().key_set(kid)


def counting_verifier(
    clock: Ticker, *, remember: int = 1024, leeway: int = 30
) -> tuple[JwtVerifier, CountingKeys]:
    keys = CountingKeys(FakeJwks(RSA_KEY))
    return JwtVerifier(keys, issuer=ISSUER, leeway=leeway, clock=clock, remember=remember), keys


async def test_a_repeated_token_is_not_verified_again() -> None:
    """The second request with the same token gets the same principal without a signature check."""
    verifier, keys = counting_verifier(Ticker())
    token = sign(claims(scope="broker:write"))
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert keys.asked == 1


async def test_a_remembered_token_is_verified_again_from_its_exp_on() -> None:
    """At ``exp`` the memory ends: within the leeway the token is checked again and passes, after it fails."""
    clock = Ticker()
    verifier, keys = counting_verifier(clock, leeway=30)
    token = sign(claims(exp=int(NOW) + 60))
    await verifier.verify(token)
    clock.advance(60)
    await verifier.verify(token)
    assert keys.asked == 2
    clock.advance(31)
    with pytest.raises(UnauthenticatedError, match="expired"):
        await verifier.verify(token)


async def test_only_so_many_tokens_are_remembered() -> None:
    """Beyond ``remember`` tokens the least recently used one is forgotten and verified again."""
    verifier, keys = counting_verifier(Ticker(), remember=2)
    tokens = [sign(claims(sub=f"client-{n}")) for n in range(3)]
    for token in tokens:
        await verifier.verify(token)
    await verifier.verify(tokens[2])
    await verifier.verify(tokens[1])
    assert keys.asked == 3
    await verifier.verify(tokens[0])
    assert keys.asked == 4


async def test_a_refused_token_is_not_remembered_as_valid() -> None:
    """A token refused once is refused again: only verified tokens are remembered."""
    verifier, _ = counting_verifier(Ticker())
    token = sign(claims(iss="https://someone-else.example"))
    for _ in range(2):
        with pytest.raises(UnauthenticatedError):
            await verifier.verify(token)
