"""Bearer-token checks in front of every route, and the local issuer's endpoints.

The middleware runs before routing to handlers, so no handler ever sees an unauthenticated request to a
protected path. 401 and 403 come from the one error table, with ``WWW-Authenticate: Bearer ...`` (RFC 6750).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Headers
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType, ScopeType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body
from litestar.types import ASGIApp, Receive, Scope, Send

from keb_adapters.auth.local import LocalIssuer
from keb_adapters.http.cached import JSON, Encoded, conditional
from keb_adapters.http.errors import send_error
from keb_domain.auth import Access, TokenVerifier, allows, refusal
from keb_domain.errors import UnauthenticatedError

REALM = "keb"


# Open without a token: health, metrics, KEB's kubeconfig passthrough, the API document, the local issuer.
OPEN_PATHS = frozenset({"/", "/healthz", "/readyz", "/metrics", "/oauth2/token", "/oauth2/certs"})
OPEN_PREFIXES = ("/kubeconfig/", "/schema")


def required_access(path: str) -> Access:
    """The access a request path needs (the gateway's AuthorizationPolicies, KEB's chart)."""
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return Access.OPEN
    if path == "/oauth" or path.startswith("/oauth/"):
        return Access.BROKER_WRITE
    if path == "/info/runtimes":
        return Access.CLD_READ
    if path in ("/runtimes", "/events") or path.startswith(("/runtimes/", "/events/")):
        return Access.RUNTIMES_READ
    if path.startswith("/expire/"):
        return Access.BROKER_WRITE  # KEB's cleanup jobs call it from inside the cluster
    return Access.AUTHENTICATED


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


class BearerAuthMiddleware:
    """Applies ``required_access`` to each request; ``verifier`` None turns checks off.

    Refusals are answered through the one error table (``keb_adapters.http.errors``), with the RFC 6750
    challenge each one calls for."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier | None) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or self.verifier is None:
            await self.app(scope, receive, send)
            return
        access = required_access(scope["path"])
        if access is Access.OPEN:
            await self.app(scope, receive, send)
            return
        header = Headers.from_scope(scope).get("authorization")
        if not header:
            refused = UnauthenticatedError("this endpoint needs a bearer token")
            await send_error(send, refused, {"WWW-Authenticate": f'Bearer realm="{REALM}"'})
            return
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            refused = UnauthenticatedError("the Authorization header must be 'Bearer <token>'")
            challenge = f'Bearer realm="{REALM}", error="invalid_request"'
            await send_error(send, refused, {"WWW-Authenticate": challenge})
            return
        try:
            principal = await self.verifier.verify(token.strip())
        except UnauthenticatedError as error:
            challenge = f'Bearer realm="{REALM}", error="invalid_token"'
            challenge += f', error_description="{_quote(error.description)}"'
            await send_error(send, error, {"WWW-Authenticate": challenge})
            return
        if not allows(principal, access):
            challenge = f'Bearer realm="{REALM}", error="insufficient_scope", scope="{access.requirement}"'
            await send_error(send, refusal(access), {"WWW-Authenticate": challenge})
            return
        await self.app(scope, receive, send)


Issuer = NamedDependency[LocalIssuer]
Jwks = NamedDependency[Encoded]  # the issuer's public keys, encoded once
TokenForm = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


class LocalIssuerController(Controller):
    """The embedded issuer of ``APP_AUTH_MODE=local``: ``POST /oauth2/token`` and ``GET /oauth2/certs``."""

    path = "/oauth2"
    tags = ("Authorization",)

    @post(
        "/token",
        summary="OAuth2 client-credentials token",
        description="HTTP Basic client authentication with the client id and secret in "
        "`{APP_DATA_DIR}/local-client.json`; `grant_type=client_credentials`, optional `scope` among "
        "broker:write, cld:read, runtimes:read (default: all).",
        status_code=200,
        responses={
            400: ResponseSpec(data_container=dict[str, str], description="Unsupported grant type or scope"),
            401: ResponseSpec(data_container=dict[str, str], description="Unknown client or wrong secret"),
        },
    )
    async def token(
        self, *, request: Request[Any, Any, Any], issuer: Issuer, data: TokenForm
    ) -> Response[Mapping[str, Any]]:
        result = issuer.token_endpoint(str(request.url), request.headers, data)
        return Response(dict(result.body), status_code=result.status, headers=dict(result.headers))

    @get(
        "/certs",
        summary="The issuer's public keys (JWKS)",
        description="Carries an `ETag`; a request with `If-None-Match` naming it gets 304 without a body.",
        media_type=JSON,
        responses={
            200: ResponseSpec(data_container=dict[str, Any], description="JWKS", generate_examples=False),
            304: ResponseSpec(data_container=None, description="The keys named by If-None-Match are current"),
        },
    )
    async def certs(self, *, request: Request[Any, Any, Any], jwks: Jwks) -> Response[bytes]:
        return conditional(request, jwks)
