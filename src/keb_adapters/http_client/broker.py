"""The broker's OSB API as Python calls: one method per request, errors as ``BrokerError``.

It speaks OSB 2.14 (``X-Broker-API-Version: 2.14``) under ``/oauth/v2`` or ``/oauth/{platform region}/v2``
and KEB's ``/runtimes``. The bearer token is held as a ``Secret`` and only ever put in the
``Authorization`` header, never in an error message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import httpx

from keb_domain.model.plans import KYMA_SERVICE_ID
from keb_domain.secrets import Secret

OSB_VERSION = "2.14"
TERMINAL_STATES = frozenset({"succeeded", "failed"})


class BrokerError(Exception):
    """The broker answered with an error status, or the answer could not be read."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status}: {description}" if status else description)
        self.status = status
        self.description = description


class BrokerUnreachableError(BrokerError):
    """No answer at all: connection refused, DNS, TLS or a timeout."""

    def __init__(self, url: str, error: Exception) -> None:
        super().__init__(0, f"cannot reach the broker at {url}: {type(error).__name__}: {error}")


@attrs.frozen
class Operation:
    """An OSB ``last_operation`` answer."""

    state: str
    description: str

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES


def _description(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("description", "error_description", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
        if response.status_code == 410:
            return "it does not exist"
    return response.reason_phrase


async def client_credentials_token(
    http: httpx.AsyncClient, token_url: str, client_id: str, client_secret: Secret, scopes: Sequence[str]
) -> Secret:
    """A bearer token from an OAuth2 token endpoint (client credentials, HTTP Basic client authentication)."""
    form = {"grant_type": "client_credentials"}
    if scopes:
        form["scope"] = " ".join(scopes)
    try:
        response = await http.post(token_url, data=form, auth=(client_id, client_secret.reveal()))
    except httpx.HTTPError as error:
        raise BrokerUnreachableError(token_url, error) from None
    if response.status_code != 200:
        raise BrokerError(response.status_code, f"token endpoint {token_url}: {_description(response)}")
    token = response.json().get("access_token")
    if not isinstance(token, str) or not token:
        raise BrokerError(response.status_code, f"token endpoint {token_url} answered without access_token")
    return Secret(token)


class BrokerClient:
    """Calls one broker; ``platform_region`` selects ``/oauth/{region}/v2`` (else ``/oauth/v2``)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        token: Secret | None = None,
        platform_region: str | None = None,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._osb = (
            f"{self.base_url}/oauth/{platform_region}/v2" if platform_region else f"{self.base_url}/oauth/v2"
        )

    def __repr__(self) -> str:
        return f"BrokerClient({self.base_url!r})"

    async def _request(
        self,
        method: str,
        url: str,
        *,
        ok: Sequence[int],
        osb: bool = True,
        params: Mapping[str, str] | httpx.QueryParams | None = None,
        json: Any = None,
    ) -> httpx.Response:
        headers = {"X-Broker-API-Version": OSB_VERSION} if osb else {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        try:
            response = await self._http.request(method, url, headers=headers, params=params, json=json)
        except httpx.HTTPError as error:
            raise BrokerUnreachableError(self.base_url, error) from None
        if response.status_code not in ok:
            raise BrokerError(response.status_code, _description(response))
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise BrokerError(response.status_code, "the answer is not JSON") from None
        if not isinstance(body, dict):
            raise BrokerError(response.status_code, "the answer is not a JSON object")
        return body

    def _instance(self, instance_id: str) -> str:
        return f"{self._osb}/service_instances/{instance_id}"

    async def catalog(self) -> dict[str, Any]:
        return self._json(await self._request("GET", f"{self._osb}/catalog", ok=(200,)))

    async def plans(self) -> list[dict[str, Any]]:
        """The plans of the kymaruntime service in this platform region's catalog."""
        for service in (await self.catalog()).get("services", []):
            if service.get("id") == KYMA_SERVICE_ID:
                return list(service.get("plans", []))
        return []

    async def provision(
        self, instance_id: str, plan_id: str, context: Mapping[str, Any], parameters: Mapping[str, Any]
    ) -> str | None:
        """PUT the instance; the operation id (None when an identical instance is already provisioned)."""
        body = {
            "service_id": KYMA_SERVICE_ID,
            "plan_id": plan_id,
            "context": dict(context),
            "parameters": dict(parameters),
        }
        response = await self._request(
            "PUT",
            self._instance(instance_id),
            ok=(200, 201, 202),
            params={"accepts_incomplete": "true"},
            json=body,
        )
        operation = self._json(response).get("operation")
        return str(operation) if operation else None

    async def instance(self, instance_id: str) -> dict[str, Any]:
        return self._json(await self._request("GET", self._instance(instance_id), ok=(200,)))

    async def last_operation(self, instance_id: str, operation: str | None = None) -> Operation:
        params = {"operation": operation} if operation else None
        response = await self._request(
            "GET", f"{self._instance(instance_id)}/last_operation", ok=(200,), params=params
        )
        body = self._json(response)
        return Operation(str(body.get("state", "")), str(body.get("description") or ""))

    async def wait(
        self, instance_id: str, operation: str | None, *, poll_interval: float, give_up_after: float
    ) -> Operation:
        """Poll ``last_operation`` until it is succeeded or failed; a timeout is reported as failed."""
        deadline = time.monotonic() + give_up_after
        while True:
            state = await self.last_operation(instance_id, operation)
            if state.finished:
                return state
            if time.monotonic() >= deadline:
                return Operation(
                    "failed", f"still {state.state} after {give_up_after:g}s: {state.description}"
                )
            await asyncio.sleep(poll_interval)

    async def update(
        self,
        instance_id: str,
        *,
        plan_id: str | None,
        parameters: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
    ) -> str | None:
        """PATCH the instance; the operation id when the update runs asynchronously, else None."""
        body: dict[str, Any] = {"service_id": KYMA_SERVICE_ID, "parameters": dict(parameters)}
        if plan_id:
            body["plan_id"] = plan_id
        if context:
            body["context"] = dict(context)
        response = await self._request(
            "PATCH",
            self._instance(instance_id),
            ok=(200, 202),
            params={"accepts_incomplete": "true"},
            json=body,
        )
        operation = self._json(response).get("operation")
        return str(operation) if response.status_code == 202 and operation else None

    async def deprovision(self, instance_id: str, plan_id: str) -> str | None:
        params = {"service_id": KYMA_SERVICE_ID, "plan_id": plan_id, "accepts_incomplete": "true"}
        response = await self._request("DELETE", self._instance(instance_id), ok=(200, 202), params=params)
        operation = self._json(response).get("operation")
        return str(operation) if operation else None

    async def bind(
        self, instance_id: str, binding_id: str, plan_id: str, parameters: Mapping[str, Any]
    ) -> tuple[Secret, str | None]:
        """PUT a binding; its kubeconfig and ``expires_at``."""
        body = {"service_id": KYMA_SERVICE_ID, "plan_id": plan_id, "parameters": dict(parameters)}
        response = await self._request(
            "PUT", f"{self._instance(instance_id)}/service_bindings/{binding_id}", ok=(200, 201), json=body
        )
        answer = self._json(response)
        kubeconfig = answer.get("credentials", {}).get("kubeconfig")
        if not isinstance(kubeconfig, str):
            raise BrokerError(response.status_code, "the binding holds no kubeconfig")
        expires_at = answer.get("metadata", {}).get("expires_at")
        return Secret(kubeconfig), str(expires_at) if expires_at else None

    async def unbind(self, instance_id: str, binding_id: str, plan_id: str) -> None:
        params = {"service_id": KYMA_SERVICE_ID, "plan_id": plan_id}
        await self._request(
            "DELETE", f"{self._instance(instance_id)}/service_bindings/{binding_id}", ok=(200,), params=params
        )

    async def runtimes(self, filters: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """KEB's ``GET /runtimes`` (needs scope runtimes:read or a runtime group)."""
        params = httpx.QueryParams([(key, value) for key, values in filters.items() for value in values])
        response = await self._request(
            "GET", f"{self.base_url}/runtimes", ok=(200,), osb=False, params=params
        )
        return self._json(response)

    async def plan_of(self, instance_id: str) -> str:
        """The plan id of an instance: from the instance, or from /runtimes while it cannot be fetched."""
        try:
            return str((await self.instance(instance_id))["plan_id"])
        except BrokerError as error:
            if error.status != 404:
                raise
        page = await self.runtimes({"instance_id": [instance_id], "state": ["all"]})
        for runtime in page.get("data", []):
            if runtime.get("instanceID") == instance_id:
                return str(runtime["servicePlanID"])
        raise BrokerError(404, f"instance {instance_id} is not known to the broker")
