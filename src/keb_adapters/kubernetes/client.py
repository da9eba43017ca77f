"""The official ``kubernetes`` client (36.0.3, ``kubernetes.aio``) behind domain errors.

Nothing of the client leaves this package: callers get dicts and ``keb_domain.errors``. Every call has a
timeout; 5xx, 429, timeouts and connection failures become the retryable ClusterUnavailableError.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from kubernetes.aio import client as k8s
from kubernetes.aio import config as k8s_config
from kubernetes.aio.client.exceptions import ApiException

from keb_domain.errors import (
    ClusterAlreadyExistsError,
    ClusterConflictError,
    ClusterError,
    ClusterForbiddenError,
    ClusterInvalidError,
    ClusterNotFoundError,
    ClusterUnavailableError,
)

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0


def _message(error: ApiException) -> tuple[str, str]:
    """``reason`` and ``message`` of the Status body, when there is one."""
    try:
        body = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        body = {}
    if not isinstance(body, Mapping):
        body = {}
    return str(body.get("reason", "")), str(body.get("message") or error.reason or f"HTTP {error.status}")


def translate(error: BaseException, what: str) -> ClusterError:
    """The domain error for a failed call; ``what`` says which call, for the description."""
    if isinstance(error, ApiException):
        reason, message = _message(error)
        text = f"{what}: {message}"
        status = int(error.status or 0)
        if status == 404:
            return ClusterNotFoundError(text)
        if status == 409:
            return (
                ClusterAlreadyExistsError(text) if reason == "AlreadyExists" else ClusterConflictError(text)
            )
        if status == 422:
            return ClusterInvalidError(text)
        if status in (401, 403):
            return ClusterForbiddenError(text)
        if status == 429 or status >= 500 or status == 0:
            return ClusterUnavailableError(text)
        return ClusterError(text)
    if isinstance(error, TimeoutError):
        return ClusterUnavailableError(f"{what}: timed out")
    return ClusterUnavailableError(f"{what}: {type(error).__name__}: {error}")


# The ``kind`` label of the cluster call error metric, per domain error.
ERROR_KINDS: dict[type[ClusterError], str] = {
    ClusterNotFoundError: "not_found",
    ClusterAlreadyExistsError: "already_exists",
    ClusterConflictError: "conflict",
    ClusterInvalidError: "invalid",
    ClusterForbiddenError: "forbidden",
    ClusterUnavailableError: "unavailable",
    ClusterError: "other",
}
_error_listeners: list[Callable[[str], None]] = []


def listen_for_errors(listener: Callable[[str], None]) -> Callable[[], None]:
    """Have ``listener`` told the kind of every failed call (for metrics); returns how to stop that."""
    _error_listeners.append(listener)

    def stop() -> None:
        if listener in _error_listeners:
            _error_listeners.remove(listener)

    return stop


async def call(what: str, request: Awaitable[T]) -> T:
    """Await a client call, translating its failures."""
    try:
        return await request
    except (ApiException, aiohttp.ClientError, OSError, TimeoutError) as error:
        translated = translate(error, what)
        for listener in list(_error_listeners):
            listener(ERROR_KINDS.get(type(translated), "other"))
        raise translated from None


def parse_time(value: Any) -> datetime:
    """An RFC 3339 timestamp from the API (or a datetime the client already parsed), as aware UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


class KubeClient:
    """One API server: an ``ApiClient`` and the typed APIs over it. Create it in an event loop; close it."""

    def __init__(self, api: k8s.ApiClient, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.api = api
        self.timeout = timeout
        self.core = k8s.CoreV1Api(api)
        self.rbac = k8s.RbacAuthorizationV1Api(api)
        self.custom = k8s.CustomObjectsApi(api)

    def __repr__(self) -> str:
        return f"KubeClient(host={self.api.configuration.host!r})"

    @classmethod
    async def from_kubeconfig(
        cls, kubeconfig: Mapping[str, Any], request_timeout: float = DEFAULT_TIMEOUT
    ) -> KubeClient:
        """Token, client-certificate and exec users alike (the client's own loader)."""
        try:
            api = await k8s_config.new_client_from_config_dict(dict(kubeconfig))
        except (k8s_config.ConfigException, KeyError, TypeError, ValueError) as error:
            raise ClusterError(f"the kubeconfig cannot be used: {error}") from None
        return cls(api, request_timeout)

    @classmethod
    def in_cluster(cls, timeout: float = DEFAULT_TIMEOUT) -> KubeClient:
        configuration = k8s.Configuration()
        k8s_config.load_incluster_config(client_configuration=configuration)
        return cls(k8s.ApiClient(configuration), timeout)

    async def close(self) -> None:
        await self.api.close()

    def plain(self, model: Any) -> dict[str, Any]:
        """A client model as the JSON dict the server sent."""
        result: dict[str, Any] = self.api.sanitize_for_serialization(model)
        return result

    async def post_subresource(self, path: str, body: Mapping[str, Any], what: str) -> dict[str, Any]:
        """POST to a subresource no typed API knows (Gardener's ``adminkubeconfig``).

        ``CustomObjectsApi`` cannot be used: it quotes the ``/`` of ``{name}/{subresource}``. This is the
        call shape of kubernetes 36 (kubernetes-wire §3.4); an upgrade to 37 changes only this method.
        """
        request = self.api.call_api(
            path,
            "POST",
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body=dict(body),
            response_types_map={201: "object", 200: "object"},
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _request_timeout=self.timeout,
        )
        result: dict[str, Any] = await call(what, request)
        return result


def decode_base64(value: str, what: str) -> str:
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        raise ClusterError(f"{what}: not base64-encoded text") from None


class LazyClient:
    """A KubeClient created on first use (configuration loading is asynchronous) and closed at shutdown."""

    def __init__(self, factory: Callable[[], Awaitable[KubeClient]]) -> None:
        self._factory = factory
        self._client: KubeClient | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> KubeClient:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await self._factory()
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
