"""Per-request observation around the whole ASGI app: correlation id, access log line, HTTP metrics.

It wraps Litestar's ASGI handler rather than sitting among its middleware, so it also sees requests that
match no route (404, 405) and those the bearer-token middleware refuses. The route *template*
(``/oauth/v2/service_instances/{instance_id:str}``) labels metrics, never the concrete path, so ids do not
multiply series.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

CORRELATION_HEADERS = (b"x-correlation-id", b"x-request-id")
RESPONSE_HEADER = b"x-correlation-id"
# Short and printable, so a client cannot forge log lines or flood them: letters, digits and . _ : - only.
_VALID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
UNMATCHED = "(unmatched)"

correlation_id: ContextVar[str | None] = ContextVar("keb_correlation_id", default=None)
access_log = logging.getLogger("keb.access")

RequestRecorder = Callable[[str, str, int, float], None]  # method, route template, status, seconds


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() in CORRELATION_HEADERS:
            text = value.decode("latin-1").strip()
            if _VALID.fullmatch(text):
                return text
    return None


def _template(scope: Scope) -> str:
    template = scope.get("path_template")
    return str(template) if template else UNMATCHED


class RequestObservation:
    """ASGI wrapper: one correlation id per request, on the response and on every log line it causes."""

    def __init__(self, app: ASGIApp, record: RequestRecorder | None = None) -> None:
        self.app = app
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope) or uuid.uuid4().hex
        token = correlation_id.set(request_id)
        started = time.perf_counter()
        status = 500  # what the server answers when the app raised before starting a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != RESPONSE_HEADER]
                headers.append((RESPONSE_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            method, route = str(scope.get("method", "")), _template(scope)
            access_log.info(
                "%s %s %d %.1fms",
                method,
                route,
                status,
                seconds * 1000,
                extra={"method": method, "route": route, "status": status, "duration_ms": seconds * 1000},
            )
            if self.record is not None:
                self.record(method, route, status, seconds)
            correlation_id.reset(token)
