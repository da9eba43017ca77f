"""Responses that are a pure function of the configuration: encoded once, served with an ``ETag``.

Platforms re-read the catalog often; it only changes when the broker's configuration does, so each
platform region's catalog is built and encoded once, and a request whose ``If-None-Match`` names the
current entity tag gets ``304 Not Modified`` without a body (RFC 9110 §13.1.2).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from litestar import Request, Response
from litestar.serialization import encode_json
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from keb_adapters.http.wire import catalog_body
from keb_domain.model.catalog import catalog_for
from keb_domain.usecases.config import BrokerConfig

JSON = "application/json"
# Caches may keep the document but must ask again before using it: the configuration can change with a
# restart, and the ETag makes asking cheap.
CACHE_CONTROL = "no-cache"
_ENTITY_TAG = re.compile(r'\s*(?:W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


@attrs.frozen
class Encoded:
    """A JSON document as the bytes sent and their strong entity tag."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Encoded:
        body = encode_json(document)
        return cls(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def none_match(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``etag``: ``*``, or a list of entity tags of which one
    matches by the weak comparison the RFC prescribes for this header (``W/"x"`` matches ``"x"``).

    Members that are not entity tags are skipped; a value that is not a list of them matches nothing.
    """
    if header is None:
        return False
    value = header.strip()
    if value == "*":
        return True
    opaque = etag.removeprefix("W/")
    position = 0
    while position < len(value):
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            return False
        if match.group(1) == opaque:
            return True
        position = match.end()
    return False


def conditional(request: Request[Any, Any, Any], encoded: Encoded) -> Response[bytes]:
    """200 with the document, or 304 when the client already holds this representation."""
    headers = {"ETag": encoded.etag, "Cache-Control": CACHE_CONTROL}
    values = request.headers.getall("if-none-match", None)
    if values and none_match(", ".join(values), encoded.etag):
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(encoded.body, status_code=HTTP_200_OK, media_type=JSON, headers=headers)


class EncodedCatalogs:
    """Each platform region's catalog, built on first use and kept encoded.

    Regions come from request paths, so at most ``limit`` are kept (least recently used go first); the
    configured ones are all a platform ever asks for.
    """

    def __init__(
        self,
        config: BrokerConfig,
        *,
        limit: int = 64,
        build: Callable[[BrokerConfig, str], Mapping[str, Any]] | None = None,
    ) -> None:
        self._config = config
        self._limit = limit
        self._build = build or (lambda c, region: catalog_body(catalog_for(c.policy, region, c.catalog)))
        self._encoded: OrderedDict[str, Encoded] = OrderedDict()

    @property
    def config(self) -> BrokerConfig:
        return self._config

    def get(self, platform_region: str) -> Encoded:
        found = self._encoded.get(platform_region)
        if found is not None:
            self._encoded.move_to_end(platform_region)
            return found
        encoded = Encoded.of(self._build(self._config, platform_region))
        self._encoded[platform_region] = encoded
        if len(self._encoded) > self._limit:
            self._encoded.popitem(last=False)
        return encoded
