"""The request-input boundary: malformed input becomes a 4xx OSB body before any handler reads state.

An ASGI middleware in front of every route. It refuses what the storages, the drivers or the decoder would
choke on, so that no client input ever reaches them as a 500:

* paths: strict UTF-8 after percent-decoding (``inv%FF`` is refused, not read as ``inv\\ufffd``, which
  would alias ``inv%FE``); path parameters without control characters and at most ``MAX_ID_LENGTH``
  characters (the ids live in varchar(255) columns);
* query strings: strict UTF-8, no NUL, at most ``MAX_QUERY_VALUES`` values;
* header values: no control characters but HTAB (a NUL in ``User-Agent`` would reach PostgreSQL);
* bodies: at most ``MAX_BODY_BYTES`` (413); on routes that read JSON: strict UTF-8, nesting at most
  ``MAX_JSON_DEPTH`` levels, no NUL and no lone surrogate in any key or string, integers within int64,
  finite numbers and no duplicate keys. Routes that read no body ignore it (after the size check).

The JSON body is decoded once, by ``BoundaryRequest.json`` when Litestar extracts a handler's ``data``
(after the OSB version check), with the same rules. Numbers: PostgreSQL's ``jsonb`` and the Kubernetes API
hold integers as 64 bits, so larger ones are refused rather than rounded or refused later.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPRequestEvent,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)
from litestar.types.empty import Empty
from litestar.utils.scope.state import ScopeState

from keb_adapters.http.errors import RequestTooLargeError, send_error
from keb_domain.errors import InvalidRequestError, KebError
from keb_domain.model.provisioning import MAX_ID_LENGTH

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: a provision body is well under 2 KiB
MAX_JSON_DEPTH = 32  # levels of objects and arrays, the body itself being level 1
MAX_QUERY_VALUES = 1000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# C0 controls and DEL, and C1 controls: never part of an id, a region or a query value we understand.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A lone surrogate can come from a JSON escape (\ud800); no database or YAML encoder stores it.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class Refused(Exception):
    """Input the boundary refuses: 400, or 413 for a body too large; carries the OSB description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def as_error(self) -> KebError:
        """The error the one table answers with."""
        if self.status == 413:
            return RequestTooLargeError(self.description)
        return InvalidRequestError(self.description)


# --- path, query, headers --------------------------------------------------------------------------


def _strict(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Refused(400, f"{what}: not valid UTF-8 at byte {error.start}") from None


def check_path(raw_path: bytes, params: Mapping[str, Any]) -> None:
    """The path must be UTF-8 once percent-decoded; each path parameter free of controls and storable."""
    _strict(urllib.parse.unquote_to_bytes(raw_path), "path")
    for name, value in params.items():
        if not isinstance(value, str):
            continue
        if _CONTROL.search(value):
            raise Refused(400, f"{name}: control characters (such as NUL) are not allowed")
        if len(value) > MAX_ID_LENGTH:
            raise Refused(400, f"{name}: must be at most {MAX_ID_LENGTH} characters")


def query_values(query_string: bytes) -> Iterator[tuple[str, str]]:
    """The query string's (name, value) pairs, strictly decoded; refuses NUL and too many values."""
    if not query_string:
        return
    pairs = query_string.split(b"&")
    if len(pairs) > MAX_QUERY_VALUES:
        raise Refused(400, f"query: at most {MAX_QUERY_VALUES} values are accepted")
    for pair in pairs:
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name = _strict(urllib.parse.unquote_to_bytes(raw_name.replace(b"+", b" ")), "query")
        value = _strict(urllib.parse.unquote_to_bytes(raw_value.replace(b"+", b" ")), f"query {name!r}")
        if "\x00" in name or "\x00" in value:
            raise Refused(400, "query: NUL characters are not allowed")
        yield name, value


def check_query(query_string: bytes) -> None:
    for _ in query_values(query_string):
        pass


def check_headers(headers: Iterable[tuple[bytes, bytes]]) -> None:
    for name, value in headers:
        if any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in value):
            raise Refused(400, f"header {name.decode('latin-1')}: control characters are not allowed")


# --- JSON bodies -----------------------------------------------------------------------------------


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise Refused(400, f"body: the key {duplicate!r} appears more than once in one object")
    return result


def _constant(name: str) -> Any:
    raise Refused(400, f"body: {name} is not a JSON number")


def _check_string(text: str, where: str) -> None:
    if "\x00" in text:
        raise Refused(400, f"{where}: NUL characters are not supported")
    if _SURROGATE.search(text):
        raise Refused(400, f"{where}: a lone UTF-16 surrogate is not a character")


def _check_tree(value: Any, escaped: bool) -> None:
    """Depth, numbers and (when the text has ``\\u`` escapes) strings of a decoded body, without recursion."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "body")]
    while stack:
        item, depth, where = stack.pop()
        kind = type(item)
        if kind is dict:
            if depth > MAX_JSON_DEPTH:
                raise Refused(400, f"body: nested deeper than {MAX_JSON_DEPTH} levels")
            for key, inner in item.items():
                path = f"{where}.{key}" if where != "body" else key
                if escaped:
                    _check_string(key, path)
                stack.append((inner, depth + 1, path))
        elif kind is list:
            if depth > MAX_JSON_DEPTH:
                raise Refused(400, f"body: nested deeper than {MAX_JSON_DEPTH} levels")
            stack.extend((inner, depth + 1, f"{where}.{index}") for index, inner in enumerate(item))
        elif kind is int:
            if not INT64_MIN <= item <= INT64_MAX:
                raise Refused(400, f"{where}: integers must fit in 64 bits")
        elif kind is float:
            if not math.isfinite(item):
                raise Refused(400, f"{where}: numbers must be finite")
        elif kind is str and escaped:
            _check_string(item, where)


# Digits to "0", everything else to ".": 19 zeros in a row then mark an integer that may not fit in 64 bits.
_DIGITS = bytes(ord("0") if chr(byte).isdigit() and byte < 128 else ord(".") for byte in range(256))
_LONG_NUMBER = b"0" * 19


def _exact(text: str) -> Any:
    """The slow, exact decode: the standard library reports duplicate keys and non-numbers as it parses."""
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except RecursionError:
        raise Refused(400, f"body: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError, and integers longer than Python converts
        raise Refused(400, f"the request body is not valid JSON: {error}") from None
    _check_tree(value, escaped=True)
    return value


def decode_json_body(body: bytes) -> Any:
    """The body decoded once, or ``Refused`` saying what is wrong with it.

    The common case costs one msgspec decode, one re-encode and a few byte scans at C speed: msgspec
    refuses invalid UTF-8, ``NaN`` and numbers past float range itself; a tree walk follows only when the
    bytes could hold too much nesting (more than 32 brackets) or a too-large integer (19 digits in a row).
    Duplicate keys: with whitespace deleted, every key in the text ends in ``":``, and every ``":`` of
    msgspec's re-encoding of the decoded value is also in the text (without ``\\u`` escapes a string
    re-encodes with the same quotes), so equal counts mean no key was dropped. Bodies with ``\\u``
    escapes (the only way JSON spells NUL or a lone surrogate) or with counts that differ go to the exact
    decoder of the standard library, which also names the repeated key.
    """
    text = _strict(body, "body")
    if b"\\u" in body:
        return _exact(text)
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        raise Refused(400, f"body: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except msgspec.DecodeError as error:
        raise Refused(400, f"the request body is not valid JSON: {error}") from None
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH or _LONG_NUMBER in body.translate(_DIGITS):
        _check_tree(value, escaped=False)
    if body.translate(None, b" \t\n\r").count(b'":') != msgspec.json.encode(value).count(b'":'):
        return _exact(text)  # the exact decoder names the repeated key
    return value


class BoundaryRequest(Request[Any, Any, Any]):
    """Litestar's request with the boundary's JSON decoding: one strict decode, cached for the handler.

    Decoding happens when Litestar extracts the handler's ``data``, so the OSB router's version check
    (a ``before_request`` hook) still comes first, as the OSB spec orders them.
    """

    async def json(self) -> Any:
        state = ScopeState.from_scope(self.scope)
        if state.json is Empty:
            try:
                state.json = decode_json_body(await self.body())
            except Refused as refused:
                raise refused.as_error() from None
        return state.json


async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
    """The whole body, at most ``MAX_BODY_BYTES``; None when the client went away."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise Refused(400, "Content-Length must be a number")
            if int(value) > MAX_BODY_BYTES:
                raise Refused(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if not isinstance(chunk, bytes):
            raise Refused(400, "the request body could not be read")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Refused(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class InputBoundaryMiddleware:
    """Checks path, query, headers and body of every HTTP request before the route handler runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        try:
            raw_path = scope.get("raw_path") or scope["path"].encode()
            check_path(raw_path.split(b"?", 1)[0], scope.get("path_params") or {})
            check_query(scope.get("query_string", b""))
            check_headers(scope["headers"])
            body = await _read_body(scope, receive)
            if body is None:
                return  # nobody is left to answer
        except Refused as refused:
            await send_error(send, refused.as_error())
            return
        ScopeState.from_scope(scope).body = body
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body out once, then waits for the disconnect."""
    sent = False

    async def replay() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            event: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
            return event
        return await receive()

    return replay
