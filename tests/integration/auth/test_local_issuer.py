"""LocalIssuer: the embedded issuer's files, its tokens and its client-credentials endpoint."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from keb_adapters.auth.local import CLIENT_FILE, KEY_FILE, LocalIssuer, TokenResponse
from keb_adapters.auth.verifier import CachedKeys, JwtVerifier
from keb_domain.auth import Principal

ISSUER = "http://localhost:8080"
TOKEN_URI = "https://keb.test/oauth2/token"


def issuer_in(directory: Path, audience: str | None = None) -> LocalIssuer:
    return LocalIssuer(directory, ISSUER, audience)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    """One issuer for the tests that do not look at files: generating its RSA key is the slow part."""
    return issuer_in(tmp_path_factory.mktemp("issuer"))


async def verify(issuer: LocalIssuer, token: str, audience: str | None = None) -> Principal:
    """Verify as ``APP_AUTH_MODE=local`` does: a JwtVerifier fed by the issuer's own JWKS."""

    async def keys() -> Mapping[str, Any]:
        return issuer.jwks()

    return await JwtVerifier(CachedKeys(keys), issuer=ISSUER, audience=audience).verify(token)


def basic(client_id: str, secret: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}", "Content-Type": "application/x-www-form-urlencoded"}


def ask(issuer: LocalIssuer, secret: str | None = None, uri: str = TOKEN_URI, **form: str) -> TokenResponse:
    """POST to the token endpoint as the local client (with ``secret`` instead of its own, if given)."""
    client = issuer.client
    headers = basic(client.client_id, client.client_secret.reveal() if secret is None else secret)
    return issuer.token_endpoint(uri, headers, {"grant_type": "client_credentials", **form})


def token_claims(issuer: LocalIssuer, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, KeySet.import_key_set(issuer.jwks())).claims)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [KEY_FILE, CLIENT_FILE])
def test_the_key_and_client_files_are_readable_by_the_owner_only(tmp_path: Path, name: str) -> None:
    """The signing key and the client secret are written with mode 0600."""
    issuer_in(tmp_path)
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_the_client_file_holds_the_client_id_and_secret(tmp_path: Path) -> None:
    """``local-client.json`` holds what an operator needs for HTTP Basic at the token endpoint."""
    issuer = issuer_in(tmp_path)
    document = json.loads((tmp_path / CLIENT_FILE).read_text())
    assert document == {
        "client_id": issuer.client.client_id,
        "client_secret": issuer.client.client_secret.reveal(),
    }


def test_a_second_issuer_reuses_the_files(tmp_path: Path) -> None:
    """A restart keeps the client and the key: same files, same client id and secret, same public key."""
    first = issuer_in(tmp_path)
    written = {name: (tmp_path / name).read_bytes() for name in (KEY_FILE, CLIENT_FILE)}
    second = issuer_in(tmp_path)
    assert {name: (tmp_path / name).read_bytes() for name in (KEY_FILE, CLIENT_FILE)} == written
    assert second.client.client_id == first.client.client_id
    assert second.client.client_secret == first.client.client_secret
    assert second.jwks() == first.jwks()


def test_the_data_directory_is_created_when_missing(tmp_path: Path) -> None:
    """A fresh data directory (also nested) is created for the files."""
    issuer_in(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b" / KEY_FILE).is_file()


async def test_a_token_of_a_restarted_issuer_is_still_valid(tmp_path: Path) -> None:
    """Tokens minted before a restart verify against the keys after it."""
    token = issuer_in(tmp_path).mint().reveal()
    principal = await verify(issuer_in(tmp_path), token)
    assert principal.scopes == {"broker:write", "cld:read", "runtimes:read"}


def test_the_published_keys_are_public_only(issuer: LocalIssuer) -> None:
    """``/oauth2/certs`` must never carry the private parts of the signing key."""
    keys = issuer.jwks()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


def test_the_client_secret_never_shows_in_repr(issuer: LocalIssuer) -> None:
    """Logging the issuer or its client does not leak the secret."""
    secret = issuer.client.client_secret.reveal()
    assert secret not in repr(issuer)
    assert secret not in repr(issuer.client)


async def test_minted_tokens_verify_with_the_issuers_keys(issuer: LocalIssuer) -> None:
    """``mint`` makes a token the local verifier accepts, naming the client and the asked scopes."""
    principal = await verify(issuer, issuer.mint(("cld:read",)).reveal())
    assert principal.subject == issuer.client.client_id
    assert principal.scopes == {"cld:read"}


async def test_minted_tokens_carry_the_configured_audience(tmp_path: Path) -> None:
    """With APP_AUTH_AUDIENCE set the issuer's tokens pass the audience check."""
    issuer = issuer_in(tmp_path, audience="keb")
    principal = await verify(issuer, issuer.mint().reveal(), audience="keb")
    assert principal.subject == issuer.client.client_id


def test_minted_tokens_expire_after_an_hour(issuer: LocalIssuer) -> None:
    """The issuer's tokens are short-lived: ``exp`` is one hour after ``iat``."""
    decoded = token_claims(issuer, issuer.mint().reveal())
    assert decoded["exp"] - decoded["iat"] == 3600


async def test_the_token_endpoint_issues_a_token_for_the_asked_scope(issuer: LocalIssuer) -> None:
    """Client credentials with HTTP Basic and ``scope=broker:write`` give a bearer token of that scope."""
    response = ask(issuer, scope="broker:write")
    assert response.status == 200
    assert response.body["token_type"] == "Bearer"
    assert response.body["scope"] == "broker:write"
    principal = await verify(issuer, response.body["access_token"])
    assert principal.scopes == {"broker:write"}


def test_the_token_endpoint_limits_the_token_to_the_asked_scopes(issuer: LocalIssuer) -> None:
    """Asking for some scopes gives a token with exactly those, not all the client may have."""
    response = ask(issuer, scope="cld:read runtimes:read")
    assert response.status == 200
    granted = token_claims(issuer, response.body["access_token"])["scope"].split()
    assert sorted(granted) == ["cld:read", "runtimes:read"]


def test_the_token_endpoint_gives_all_scopes_when_none_is_asked(issuer: LocalIssuer) -> None:
    """Without ``scope`` the token has all of the broker's scopes (§4's default)."""
    response = ask(issuer)
    assert response.status == 200
    granted = token_claims(issuer, response.body["access_token"])["scope"].split()
    assert sorted(granted) == ["broker:write", "cld:read", "runtimes:read"]


def test_the_token_endpoint_refuses_a_wrong_secret(issuer: LocalIssuer) -> None:
    """A wrong client secret is 401 ``invalid_client`` with a Basic challenge, and no token."""
    response = ask(issuer, secret="not-the-secret", scope="broker:write")
    assert response.status == 401
    assert response.body["error"] == "invalid_client"
    assert "access_token" not in response.body
    assert dict(response.headers)["WWW-Authenticate"].startswith("Basic")


def test_the_token_endpoint_refuses_an_unknown_client(issuer: LocalIssuer) -> None:
    """A client id other than the local client's is 401 ``invalid_client``."""
    headers = basic("someone-else", issuer.client.client_secret.reveal())
    response = issuer.token_endpoint(TOKEN_URI, headers, {"grant_type": "client_credentials"})
    assert response.status == 401
    assert response.body["error"] == "invalid_client"


def test_the_token_endpoint_refuses_credentials_in_the_form(issuer: LocalIssuer) -> None:
    """Client authentication is HTTP Basic only (§4); id and secret in the body are not accepted."""
    form = {
        "grant_type": "client_credentials",
        "client_id": issuer.client.client_id,
        "client_secret": issuer.client.client_secret.reveal(),
    }
    response = issuer.token_endpoint(TOKEN_URI, {}, form)
    assert response.status == 401
    assert response.body["error"] == "invalid_client"


@pytest.mark.parametrize("scope", ["admin", "broker:write admin"])
def test_the_token_endpoint_refuses_an_unknown_scope(issuer: LocalIssuer, scope: str) -> None:
    """A scope the broker does not know is 400 ``invalid_scope``, even next to a known one."""
    response = ask(issuer, scope=scope)
    assert response.status == 400
    assert response.body["error"] == "invalid_scope"


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", ""])
def test_the_token_endpoint_refuses_other_grant_types(issuer: LocalIssuer, grant_type: str) -> None:
    """Only ``client_credentials`` is served; other grants are 400 ``unsupported_grant_type``."""
    response = ask(issuer, grant_type=grant_type, username="u", password="p", code="c")
    assert response.status == 400
    assert response.body["error"] == "unsupported_grant_type"


def test_the_token_endpoint_serves_plain_http_on_any_host(issuer: LocalIssuer) -> None:
    """TLS is the deployment's business (a gateway in front), so an http:// URI is served, not refused."""
    response = ask(issuer, uri="http://keb.kcp-system.svc:8080/oauth2/token")
    assert response.status == 200
    assert response.body["token_type"] == "Bearer"
