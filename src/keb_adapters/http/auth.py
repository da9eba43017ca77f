"""Bearer-token checks in front of every route, and the local issuer's endpoints.

The middleware runs before routing to handlers, so no handler ever sees an unauthenticated request to a
protected path. 401 and 403 carry a JSON ``description`` and ``WWW-Authenticate: Bearer ...`` (RFC 6750).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Headers
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType, ScopeType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from keb_adapters.auth.local import LocalIssuer
from keb_domain.auth import Access, TokenVerifier, allows, required_access
from keb_domain.errors import UnauthenticatedError

REALM = "keb"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


async def _refuse(send: Send, status: int, description: str, challenge: str) -> None:
    body = json.dumps({"description": description}).encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", challenge.encode()),
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


class BearerAuthMiddleware:
    """Applies ``keb_domain.auth.required_access`` to each request; ``verifier`` None turns checks off."""

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
            await _refuse(send, 401, "this endpoint needs a bearer token", f'Bearer realm="{REALM}"')
            return
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await _refuse(
                send,
                401,
                "the Authorization header must be 'Bearer <token>'",
                f'Bearer realm="{REALM}", error="invalid_request"',
            )
            return
        try:
            principal = await self.verifier.verify(token.strip())
        except UnauthenticatedError as error:
            challenge = f'Bearer realm="{REALM}", error="invalid_token"'
            await _refuse(
                send, 401, error.description, f'{challenge}, error_description="{_quote(error.description)}"'
            )
            return
        if not allows(principal, access):
            needed = access.requirement
            description = f"the token lacks scope {needed}"
            if access is Access.RUNTIMES_READ:
                description += " or a runtimeAdmin, runtimeOperator or runtimeViewer group"
            await _refuse(
                send,
                403,
                description,
                f'Bearer realm="{REALM}", error="insufficient_scope", scope="{needed}"',
            )
            return
        await self.app(scope, receive, send)


Issuer = NamedDependency[LocalIssuer]
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

    @get("/certs", summary="The issuer's public keys (JWKS)")
    async def certs(self, *, issuer: Issuer) -> dict[str, Any]:
        return issuer.jwks()
