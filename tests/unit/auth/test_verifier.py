"""JwtVerifier: which bearer JWTs pass and which are refused, each refusal a 401 (decisions.md §4)."""

from __future__ import annotations

from typing import Any

import pytest

from keb_domain.auth import Access, allows
from keb_domain.errors import UnauthenticatedError
from tests.unit.auth.fakes import (
    EC_KEY,
    NOW,
    OTHER_RSA_KEY,
    RSA_KEY,
    FakeJwks,
    Ticker,
    b64url,
    claims,
    hmac_with_public_key,
    sign,
    unsigned,
    verifier,
)


async def test_a_valid_token_names_its_subject_and_scopes() -> None:
    """A token of the issuer, signed with a published key and in its validity window, is accepted."""
    principal = await verifier(FakeJwks(RSA_KEY)).verify(sign(claims(scope="broker:write cld:read")))
    assert principal.subject == "client-1"
    assert principal.scopes == {"broker:write", "cld:read"}


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b", "a.b.c.d", "..", "%%%.e30.sig", "W10.e30.sig"])
async def test_a_malformed_token_is_refused(token: str) -> None:
    """Something that is not a compact JWS with a JSON object header is refused."""
    with pytest.raises(UnauthenticatedError):
        await verifier(FakeJwks(RSA_KEY)).verify(token)


async def test_a_token_whose_payload_is_not_json_is_refused() -> None:
    """A well-formed header over a payload that is not a JSON object is refused, not a crash."""
    header = unsigned({"alg": "RS256", "kid": "rsa-1"}, {}).split(".")[0]
    token = f"{header}.{b64url(b'[1, 2]')}.{b64url(b'sig')}"
    with pytest.raises(UnauthenticatedError):
        await verifier(FakeJwks(RSA_KEY)).verify(token)


async def test_a_token_signed_with_another_key_is_refused() -> None:
    """A signature made with a key the issuer does not publish fails, even under a published kid."""
    with pytest.raises(UnauthenticatedError, match="signature"):
        await verifier(FakeJwks(RSA_KEY)).verify(sign(claims(), OTHER_RSA_KEY))


async def test_a_token_with_an_altered_payload_is_refused() -> None:
    """Changing the claims after signing (here: adding a scope) breaks the signature."""
    header, _, signature = sign(claims(scope="cld:read")).split(".")
    forged = unsigned({"alg": "RS256", "kid": "rsa-1"}, claims(scope="broker:write")).split(".")[1]
    with pytest.raises(UnauthenticatedError):
        await verifier(FakeJwks(RSA_KEY)).verify(f"{header}.{forged}.{signature}")


async def test_an_expired_token_is_refused() -> None:
    """A token whose ``exp`` lies further in the past than the leeway is refused."""
    token = sign(claims(exp=int(NOW) - 31))
    with pytest.raises(UnauthenticatedError, match="expired"):
        await verifier(FakeJwks(RSA_KEY), leeway=30).verify(token)


async def test_a_token_expired_within_the_leeway_is_accepted() -> None:
    """Clock skew up to the leeway is forgiven: a token that expired 20s ago passes with 30s leeway."""
    principal = await verifier(FakeJwks(RSA_KEY), leeway=30).verify(sign(claims(exp=int(NOW) - 20)))
    assert principal.subject == "client-1"


async def test_a_token_expires_while_the_clock_moves() -> None:
    """The same token passes before ``exp`` + leeway and is refused after it: the clock is consulted."""
    clock = Ticker()
    check = verifier(FakeJwks(RSA_KEY), clock=clock, leeway=30)
    token = sign(claims(exp=int(NOW) + 60))
    await check.verify(token)
    clock.advance(91)
    with pytest.raises(UnauthenticatedError, match="expired"):
        await check.verify(token)


async def test_a_token_without_exp_is_refused() -> None:
    """``exp`` is essential: a token that never expires is not accepted."""
    with pytest.raises(UnauthenticatedError, match="exp"):
        await verifier(FakeJwks(RSA_KEY)).verify(sign(claims(exp=None)))


async def test_a_token_not_yet_valid_is_refused() -> None:
    """A token whose ``nbf`` lies beyond now plus the leeway is refused."""
    token = sign(claims(nbf=int(NOW) + 31))
    with pytest.raises(UnauthenticatedError, match="not yet valid"):
        await verifier(FakeJwks(RSA_KEY), leeway=30).verify(token)


async def test_a_token_of_another_issuer_is_refused() -> None:
    """``iss`` must be the configured issuer."""
    with pytest.raises(UnauthenticatedError, match="iss"):
        await verifier(FakeJwks(RSA_KEY)).verify(sign(claims(iss="https://evil.test")))


async def test_a_token_without_an_issuer_is_refused() -> None:
    """``iss`` is essential."""
    with pytest.raises(UnauthenticatedError, match="iss"):
        await verifier(FakeJwks(RSA_KEY)).verify(sign(claims(iss=None)))


async def test_a_token_for_another_audience_is_refused_when_an_audience_is_set() -> None:
    """With APP_AUTH_AUDIENCE set, a token for another audience is refused."""
    with pytest.raises(UnauthenticatedError, match="aud"):
        await verifier(FakeJwks(RSA_KEY), audience="keb").verify(sign(claims(aud="other-service")))


async def test_a_token_without_audience_is_refused_when_an_audience_is_set() -> None:
    """With APP_AUTH_AUDIENCE set, ``aud`` is essential."""
    with pytest.raises(UnauthenticatedError, match="aud"):
        await verifier(FakeJwks(RSA_KEY), audience="keb").verify(sign(claims()))


@pytest.mark.parametrize("audience", ["keb", ["other", "keb"]])
async def test_a_token_for_the_audience_is_accepted(audience: str | list[str]) -> None:
    """With APP_AUTH_AUDIENCE set, ``aud`` naming it (alone or among others) passes."""
    principal = await verifier(FakeJwks(RSA_KEY), audience="keb").verify(sign(claims(aud=audience)))
    assert principal.subject == "client-1"


async def test_the_audience_is_not_checked_when_none_is_configured() -> None:
    """Without APP_AUTH_AUDIENCE any ``aud`` passes."""
    principal = await verifier(FakeJwks(RSA_KEY), audience=None).verify(sign(claims(aud="other-service")))
    assert principal.subject == "client-1"


async def test_a_token_with_an_unknown_kid_is_refused_even_after_a_refresh() -> None:
    """A kid the issuer does not publish stays unknown after the keys were fetched again."""
    jwks, monotonic = FakeJwks(RSA_KEY), Ticker(0.0)
    check = verifier(jwks, monotonic=monotonic, min_interval=30)
    await check.verify(sign(claims()))
    monotonic.advance(31)
    with pytest.raises(UnauthenticatedError):
        await check.verify(sign(claims(), RSA_KEY, kid="rsa-unknown"))
    assert jwks.calls == 2


async def test_alg_none_is_refused() -> None:
    """An unsigned token (``alg: none``) is refused whatever it claims."""
    token = unsigned({"alg": "none", "kid": "rsa-1"}, claims()) + "."
    with pytest.raises(UnauthenticatedError, match="none"):
        await verifier(FakeJwks(RSA_KEY)).verify(token)


async def test_hs256_with_the_public_key_as_secret_is_refused() -> None:
    """Key confusion: an HMAC over the RSA public key's bytes, which anyone can compute, is refused."""
    with pytest.raises(UnauthenticatedError, match="HS256"):
        await verifier(FakeJwks(RSA_KEY)).verify(hmac_with_public_key(claims()))


async def test_refused_algorithms_do_not_make_the_verifier_fetch_keys() -> None:
    """``alg`` is checked before any key is looked up, so forged headers cannot drive JWKS fetches."""
    jwks = FakeJwks(RSA_KEY)
    check = verifier(jwks)
    for algorithm in ("none", "HS256", "HS512", "dir"):
        with pytest.raises(UnauthenticatedError):
            await check.verify(unsigned({"alg": algorithm, "kid": "x"}, claims()) + ".c2ln")
    assert jwks.calls == 0


async def test_an_rs256_token_naming_an_ec_key_is_refused() -> None:
    """An RS256 header pointing at an EC key's kid does not verify against that key."""
    token = sign(claims(), RSA_KEY, kid=EC_KEY.kid)
    with pytest.raises(UnauthenticatedError):
        await verifier(FakeJwks(RSA_KEY, EC_KEY)).verify(token)


async def test_an_es256_token_of_a_published_ec_key_is_accepted() -> None:
    """Any asymmetric algorithm of a published key passes, not only RS256."""
    principal = await verifier(FakeJwks(RSA_KEY, EC_KEY)).verify(sign(claims(), EC_KEY))
    assert principal.subject == "client-1"


@pytest.mark.parametrize(
    ("claim_changes", "scopes", "groups"),
    [
        ({"scope": "broker:write cld:read"}, {"broker:write", "cld:read"}, set()),
        ({"scope": ["broker:write", "cld:read"]}, {"broker:write", "cld:read"}, set()),
        ({"scope": None, "scp": "cld:read"}, {"cld:read"}, set()),
        ({"scope": None, "scp": ["runtimes:read"]}, {"runtimes:read"}, set()),
        ({"scope": "cld:read", "scp": ["broker:write"]}, {"broker:write", "cld:read"}, set()),
        ({"scope": None, "groups": ["runtimeViewer", "x"]}, set(), {"runtimeViewer", "x"}),
        ({"scope": None, "groups": "runtimeAdmin"}, set(), {"runtimeAdmin"}),
        ({"scope": None}, set(), set()),
        ({"scope": {"broker:write": True}}, set(), set()),
    ],
)
async def test_scopes_and_groups_are_read_from_string_or_list_claims(
    claim_changes: dict[str, Any], scopes: set[str], groups: set[str]
) -> None:
    """``scope`` and ``scp`` (space-separated string or list) add up; so do ``groups``; other shapes: none."""
    principal = await verifier(FakeJwks(RSA_KEY)).verify(sign(claims(**claim_changes)))
    assert (set(principal.scopes), set(principal.groups)) == (scopes, groups)


async def test_a_list_item_is_one_scope_not_a_space_separated_string() -> None:
    """In list form each item is a whole scope, so ``["broker:write cld:read"]`` grants neither."""
    token = sign(claims(scope=["broker:write cld:read"]))
    principal = await verifier(FakeJwks(RSA_KEY)).verify(token)
    assert not allows(principal, Access.BROKER_WRITE)
    assert not allows(principal, Access.CLD_READ)
