"""The one table from domain errors to HTTP status codes and OSB error bodies.

Anything a client caused is a 4xx with ``{"description": ...}``; only the broker's own failures are 5xx,
and their bodies never carry internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Send

from keb_adapters.http.wire import Empty, OsbError
from keb_domain import errors as e

log = logging.getLogger("keb.http")
AnyRequest = Request[Any, Any, Any]


class UnsupportedApiVersionError(e.KebError):
    """``X-Broker-API-Version`` is missing or not one this endpoint serves (412)."""


class RequestTooLargeError(e.KebError):
    """The request body is larger than the broker reads (413)."""


# Order matters: the first matching class wins, so subclasses come before their bases.
STATUS_BY_ERROR: tuple[tuple[type[e.KebError], int], ...] = (
    (e.InvalidRequestError, 400),
    (e.UnauthenticatedError, 401),
    (e.ForbiddenError, 403),
    (RequestTooLargeError, 413),
    (UnsupportedApiVersionError, 412),
    (e.AsyncRequiredError, 422),
    (e.UnprocessableError, 422),
    (e.PlatformRegionNotServedError, 404),
    (e.InstanceNotFoundError, 404),
    (e.BindingNotFoundError, 404),
    (e.BindingGoneError, 410),
    (e.BindingConflictError, 409),
    (e.BindingTimeoutError, 503),
    (e.OperationNotFoundError, 404),
    (e.InstanceGoneError, 410),
    (e.InstanceConflictError, 409),
    (e.StorageConflictError, 422),  # a concurrent request won the race: the client may retry
    (e.StorageUnavailableError, 503),  # with Retry-After: the database is down or locked
    (e.ClusterUnavailableError, 503),
    (e.ClusterError, 502),
)

# Statuses whose body is an empty object (OSB: 410 Gone on deprovision and unbind).
EMPTY_BODY = frozenset({410})

# Seconds a client should wait before retrying while the database is unavailable.
STORAGE_RETRY_AFTER = 5


def status_of(error: e.KebError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return HTTP_500_INTERNAL_SERVER_ERROR


def osb_error(
    status: int, description: str, key: str | None = None, headers: dict[str, str] | None = None
) -> Response[OsbError | Empty]:
    if status in EMPTY_BODY:
        return Response(Empty(), status_code=status, headers=headers)
    return Response(OsbError(description=description, error=key), status_code=status, headers=headers)


def _refusal(exc: e.KebError) -> tuple[int, str | None, dict[str, str]]:
    """Status, OSB error key and headers of a refused request, from the table."""
    status = status_of(exc)
    key = "ConcurrencyError" if isinstance(exc, e.StorageConflictError) else exc.error_key
    headers = {}
    if isinstance(exc, e.StorageUnavailableError):
        headers["Retry-After"] = str(STORAGE_RETRY_AFTER)
    if status >= 500:
        log.warning("request failed: %s", exc.description)
    return status, key, headers


def handle_keb_error(_: AnyRequest, exc: e.KebError) -> Response[OsbError | Empty]:
    status, key, headers = _refusal(exc)
    return osb_error(status, exc.description, key, headers or None)


async def send_error(send: Send, exc: e.KebError, headers: Mapping[str, str] | None = None) -> None:
    """Answer with the table's status and body from an ASGI middleware, before any handler runs.

    ``headers`` adds what the middleware's protocol asks for (``WWW-Authenticate`` on 401 and 403).
    """
    status, key, own = _refusal(exc)
    body = (
        b"{}"
        if status in EMPTY_BODY
        else msgspec.json.encode(OsbError(description=exc.description, error=key))
    )
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in {**own, **(headers or {})}.items()),
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)


def handle_validation(_: AnyRequest, exc: ValidationException) -> Response[OsbError | Empty]:
    """Body or query decoding failed: name each field and what is wrong with it."""
    problems = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key = item.get("key") or "body"
            problems.append(f"{key}: {item.get('message', 'invalid')}")
    detail = "; ".join(problems) or str(exc.detail)
    return osb_error(400, f"invalid request: {detail}")


def handle_http(_: AnyRequest, exc: HTTPException) -> Response[OsbError | Empty]:
    status = exc.status_code
    if status >= 500:
        log.error("internal error: %s", exc.detail, exc_info=exc.__cause__ or exc)
        return osb_error(status, "internal error")
    detail = str(exc.detail)
    if isinstance(exc.__cause__, SerializationException):  # Litestar could not decode the body
        detail = f"the request body is not valid JSON: {detail}"
    return osb_error(status, detail)


def handle_unexpected(_: AnyRequest, exc: Exception) -> Response[OsbError | Empty]:
    log.exception("unexpected error", exc_info=exc)
    return osb_error(HTTP_500_INTERNAL_SERVER_ERROR, "internal error")


EXCEPTION_HANDLERS = {
    e.KebError: handle_keb_error,
    ValidationException: handle_validation,
    HTTPException: handle_http,
    Exception: handle_unexpected,
}
