"""The embedded OAuth2 issuer (``APP_AUTH_MODE=local``): a client-credentials token endpoint and its keys.

The signing key and one client (id and secret) are generated once into the data directory, readable by
the owner only. Tokens are RFC 9068 JWT access tokens made by authlib's authorization server; the broker
verifies them with the same code as tokens of an external issuer.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet, RSAKey

from keb_adapters.files import create_once
from keb_domain.auth import ALL_SCOPES
from keb_domain.secrets import Secret

TOKEN_LIFETIME = 3600
KEY_FILE = "local-signing-key.json"
CLIENT_FILE = "local-client.json"


def _load_or_create(path: Path, create: Callable[[], Any]) -> Any:
    return json.loads(create_once(path, lambda: json.dumps(create())))


@attrs.frozen
class LocalClient(ClientMixin):  # type: ignore[misc]  # authlib is untyped
    """The one client of the local issuer; it may ask for any of the broker's scopes."""

    client_id: str
    client_secret: Secret
    scopes: tuple[str, ...] = ALL_SCOPES

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret.encode(), self.client_secret.reveal().encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic" and endpoint == "token"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have; all of them when none is requested."""
        if not scope:
            return " ".join(self.scopes)
        return " ".join(s for s in scope.split() if s in self.scopes)

    def get_default_redirect_uri(self) -> str:
        return ""


class _TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]  # authlib is untyped
    def __init__(self, issuer: str, keys: KeySet, audience: str | None) -> None:
        super().__init__(issuer, alg="RS256", expires_generator=lambda client, grant_type: TOKEN_LIFETIME)
        self._keys = keys
        self._audience = audience

    def get_jwks(self) -> KeySet:
        return self._keys

    def get_audiences(self, client: LocalClient, user: object, scope: str) -> str:
        return self._audience or client.get_client_id()


class _Server(AuthorizationServer):  # type: ignore[misc]  # authlib is untyped
    """authlib's authorization server, spoken to through plain values instead of a web framework."""

    def __init__(self, client: LocalClient, generator: _TokenGenerator) -> None:
        super().__init__(scopes_supported=list(client.scopes))
        self._client = client
        self.register_grant(ClientCredentialsGrant)
        self.register_token_generator("default", generator)

    def query_client(self, client_id: str) -> LocalClient | None:
        return self._client if client_id == self._client.client_id else None

    def save_token(self, token: Mapping[str, Any], request: OAuth2Request) -> None:
        """JWT access tokens are self-contained: nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)


class _TokenRequest(OAuth2Request):  # type: ignore[misc]  # authlib is untyped
    """A token request as authlib sees it, without authlib's transport check.

    authlib raises InsecureTransportError for an ``http://`` URI unless the host is loopback. The broker
    serves plain HTTP and cannot see whether TLS ended at a gateway in front of it (the bearer tokens it
    checks travel the same way), so that check would only turn every token request reaching it by name
    (another container, a Kubernetes Service, a TLS-terminating ingress) into a 500.
    """

    def __init__(self, uri: str, headers: Mapping[str, str]) -> None:
        super().__init__("POST", "https://localhost/oauth2/token", headers=headers)
        self.uri = uri  # authlib reads the URI only for the transport check


@attrs.frozen
class TokenResponse:
    status: int
    body: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...]


class LocalIssuer:
    """Keys, client and token endpoint of the embedded issuer."""

    def __init__(self, data_dir: Path, issuer: str, audience: str | None = None) -> None:
        key_document = _load_or_create(
            data_dir / KEY_FILE,
            lambda: RSAKey.generate_key(
                2048, parameters={"kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"}, private=True
            ).as_dict(private=True),
        )
        client_document = _load_or_create(
            data_dir / CLIENT_FILE,
            lambda: {
                "client_id": f"keb-local-{secrets.token_hex(4)}",
                "client_secret": secrets.token_urlsafe(32),
            },
        )
        self._private = KeySet([RSAKey.import_key(key_document)])
        self.issuer = issuer
        self.client = LocalClient(client_document["client_id"], Secret(client_document["client_secret"]))
        self._generator = _TokenGenerator(issuer, self._private, audience)
        self._server = _Server(self.client, self._generator)

    def __repr__(self) -> str:
        return f"LocalIssuer(issuer={self.issuer!r}, client_id={self.client.client_id!r})"

    def jwks(self) -> dict[str, Any]:
        """The public keys, as ``/oauth2/certs`` serves them."""
        return dict(self._private.as_dict(private=False))

    def mint(self, scopes: tuple[str, ...] = ALL_SCOPES) -> Secret:
        """A token for the local client (``keb token``)."""
        scope = self.client.get_allowed_scope(" ".join(scopes))
        token = self._generator.generate(
            grant_type="client_credentials",
            client=self.client,
            user=None,
            scope=scope,
            include_refresh_token=False,
        )
        return Secret(str(token["access_token"]))

    def token_endpoint(self, uri: str, headers: Mapping[str, str], form: Mapping[str, str]) -> TokenResponse:
        """``POST /oauth2/token``: RFC 6749 client credentials with HTTP Basic client authentication."""
        request = _TokenRequest(uri, headers)
        request.payload = BasicOAuth2Payload(dict(form))
        status, body, response_headers = self._server.create_token_response(request)
        return TokenResponse(status, body if isinstance(body, Mapping) else {}, tuple(response_headers))
