"""The whole broker as ``make run`` builds it: ``build_services`` with no cluster overrides starts the local
landscape in-process and talks to it through the real Kubernetes adapter, with the real clock and the
operation engine running. Waiting is bounded polling of the engine's tasks and KIM's thread."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs
import httpx
import pytest
import yaml

from keb_app.app import create_app
from keb_app.bootstrap import Services, build_services
from keb_app.landscape import FakeCluster, LocalLandscape
from keb_app.landscape.pools import CREDENTIALS_BINDINGS
from keb_app.settings import Settings
from keb_domain.model.plans import PLANS_BY_NAME
from tests.support import AWS, OSB, SERVICE, provision_body

from .support import RUNTIMES_PATH, calls, connections_closed, kubectl, namespaces_status

T = TypeVar("T")

INSTANCE = "inst-e2e"
INSTANCE_PATH = f"/oauth/cf-eu10/v2/service_instances/{INSTANCE}"
BINDING_PATH = f"{INSTANCE_PATH}/service_bindings/b-1"
FAILURE = "quota exceeded for machine type m6i.xlarge in eu-central-1"
#: kubectl's wording of a 401 ("must be logged in ... provide credentials") or of a 403.
KUBECTL_REFUSED = re.compile(r"provide credentials|Unauthorized|forbidden", re.IGNORECASE)
#: A generous bound for the polling below; a healthy run needs a fraction of it.
DEADLINE = 30.0


async def poll(read: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
    """Read until ``done`` holds, for at most DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = await read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {DEADLINE}s")
        await asyncio.sleep(0.05)


@attrs.define
class LiveBroker:
    client: httpx.AsyncClient
    services: Services

    @property
    def landscape(self) -> LocalLandscape:
        return self.services.landscape[0]

    @property
    def kcp(self) -> FakeCluster:
        return self.landscape.server.cluster("kcp")

    async def osb(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=OSB, **kwargs)

    async def last_operation(self, operation: str) -> tuple[str, str]:
        response = await self.osb("GET", f"{INSTANCE_PATH}/last_operation", params={"operation": operation})
        assert response.status_code == 200, response.text
        body = response.json()
        return str(body["state"]), str(body.get("description") or "")

    async def finished(self, operation: str) -> tuple[str, str]:
        """State and description of the operation once it is no longer in progress."""
        return await poll(lambda: self.last_operation(operation), lambda result: result[0] != "in progress")

    async def provision(self) -> str:
        """PUT the instance; the operation id."""
        response = await self.osb("PUT", INSTANCE_PATH, json=provision_body(AWS))
        assert response.status_code == 202, response.text
        return str(response.json()["operation"])

    async def provisioned(self) -> None:
        state, description = await self.finished(await self.provision())
        assert state == "succeeded", description

    async def deprovision(self) -> str:
        """DELETE the instance; the operation id."""
        response = await self.osb("DELETE", INSTANCE_PATH, params={"service_id": SERVICE, "plan_id": AWS})
        assert response.status_code == 202, response.text
        return str(response.json()["operation"])

    async def bind(self, parameters: Mapping[str, Any]) -> str:
        """A new binding's kubeconfig."""
        body = {"service_id": SERVICE, "plan_id": AWS, "parameters": dict(parameters)}
        response = await self.osb("PUT", BINDING_PATH, json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["credentials"]["kubeconfig"])

    async def unbind(self) -> None:
        response = await self.osb("DELETE", BINDING_PATH, params={"service_id": SERVICE, "plan_id": AWS})
        assert response.status_code == 200, response.text

    async def runtimes(self) -> list[dict[str, Any]]:
        return self.kcp.list("runtimes", "kcp-system")


@asynccontextmanager
async def live_broker(tmp_path: Path, env: Mapping[str, str] | None = None) -> AsyncIterator[LiveBroker]:
    """The embedded default (SQLite, local landscape, real adapter), tuned to run in about a second."""
    settings = Settings.from_env(
        {
            "APP_DATA_DIR": str(tmp_path / "keb"),
            "APP_DATABASE_SECRET_KEY": "0123456789abcdef0123456789abcdef",
            "APP_LOCAL_LANDSCAPE_READY_AFTER": "300ms",
            "APP_OPERATION_POLL_INTERVAL": "100ms",
            "APP_KUBERNETES_REQUEST_TIMEOUT": "1s",
            # OSB authentication has its own tests; these are about the clusters behind the broker.
            "APP_AUTH_MODE": "none",
            **(env or {}),
        }
    )
    assert settings.cluster_mode == "local"
    services = build_services(settings, landscape_in_process=True)  # the tests look inside the landscape
    await services.start()
    port = services.landscape[0].server.port
    try:
        # Litestar's precise ASGI callable types are narrower than the loose ones httpx declares.
        app = create_app(services, manage_services=False)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://keb.test") as client:
            yield LiveBroker(client, services)
    finally:
        await services.stop()
    # The broker closed its clients and the landscape: no connection may outlive them.
    await connections_closed(port)


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LiveBroker]:
    async with live_broker(tmp_path) as running:
        yield running


@pytest.fixture
async def provisioned(broker: LiveBroker) -> LiveBroker:
    await broker.provisioned()
    return broker


# --- provisioning ---------------------------------------------------------------------------------------


async def test_provisioning_survives_outages_and_timeouts_of_kcp(broker: LiveBroker) -> None:
    """With 503s, a dropped connection and timeouts injected on the KCP calls, provisioning still succeeds."""
    broker.kcp.inject_fault("GET", r"/runtimes/[^/]+$", "timeout", 1, delay=1.5)
    broker.kcp.inject_fault("POST", r"/runtimes$", 503, 2)
    broker.kcp.inject_fault("GET", r"/kymas/[^/]+$", 503, 1)
    broker.kcp.inject_fault("POST", r"/kymas$", "drop", 1)
    state, description = await broker.finished(await broker.provision())
    assert state == "succeeded", description
    hits = [
        (method, "runtimes" if path.startswith(RUNTIMES_PATH) else "kymas", status)
        for method, path, status in calls(broker.kcp)
        if status in (0, 503)
    ]
    assert hits == [
        ("GET", "runtimes", 0),
        ("POST", "runtimes", 503),
        ("POST", "runtimes", 503),
        ("GET", "kymas", 503),
        ("POST", "kymas", 0),
    ]
    [runtime] = await broker.runtimes()
    assert runtime["status"]["state"] == "Ready"
    assert len(broker.kcp.list("kymas", "kcp-system")) == 1


async def test_runtime_failed_by_kim_fails_provisioning_after_the_timeout(tmp_path: Path) -> None:
    """A Runtime KIM reports Failed fails provisioning once the create timeout passes, with KIM's message."""
    env = {"APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_CREATE": "3s"}
    async with live_broker(tmp_path, env) as broker:
        broker.landscape.kim.fail_when = lambda runtime: FAILURE
        operation = await broker.provision()
        await poll(broker.runtimes, lambda rs: bool(rs) and rs[0].get("status", {}).get("state") == "Failed")
        assert (await broker.last_operation(operation))[0] == "in progress"  # KEB waits: KIM may recover
        state, description = await broker.finished(operation)
    assert state == "failed"
    assert "Runtime resource in Failed state" in description
    assert FAILURE in description


async def test_runtime_failed_by_kim_is_deleted_when_provisioning_fails(tmp_path: Path) -> None:
    """After the failed provisioning the Runtime CR is deleted, and gone once KIM lifts its finalizer."""
    env = {"APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_CREATE": "2s"}
    async with live_broker(tmp_path, env) as broker:
        broker.landscape.kim.fail_when = lambda runtime: FAILURE
        state, _ = await broker.finished(await broker.provision())
        assert state == "failed"
        [runtime] = await broker.runtimes()
        assert runtime["metadata"].get("deletionTimestamp")
        await poll(broker.runtimes, lambda rs: rs == [])


@pytest.mark.parametrize(
    ("plan", "region", "provider"),
    [
        ("alicloud", "eu-central-1", "alicloud"),
        ("build-runtime-alicloud", "ap-southeast-1", "alicloud"),
        ("gdch", "us-west16", "gdch"),
    ],
)
async def test_each_new_plan_provisions_and_deprovisions_on_the_local_landscape(
    broker: LiveBroker, plan: str, region: str, provider: str
) -> None:
    """As ``make run`` is set up: the plan's pool gives a binding, KIM makes the Runtime Ready and creates
    the Shoot, and deprovisioning removes the Runtime and leaves the binding dirty."""
    plan_id = PLANS_BY_NAME[plan].id
    body = provision_body(plan_id, {"name": "my-cluster", "region": region})
    response = await broker.osb("PUT", INSTANCE_PATH, json=body)
    assert response.status_code == 202, response.text
    state, description = await broker.finished(str(response.json()["operation"]))
    assert state == "succeeded", description
    [runtime] = await broker.runtimes()
    assert runtime["status"]["state"] == "Ready"
    shoot = runtime["spec"]["shoot"]
    assert (shoot["provider"]["type"], shoot["region"]) == (provider, region)
    garden = broker.landscape.server.cluster("garden")
    [shoot_object] = garden.list("shoots", "garden-kyma-dev")
    assert shoot_object["metadata"]["name"] == shoot["name"]
    binding = garden.get(CREDENTIALS_BINDINGS, shoot["secretBindingName"], "garden-kyma-dev")
    assert binding is not None
    assert binding["metadata"]["labels"]["hyperscalerType"] == provider

    response = await broker.osb("DELETE", INSTANCE_PATH, params={"service_id": SERVICE, "plan_id": plan_id})
    assert response.status_code == 202, response.text
    state, description = await broker.finished(str(response.json()["operation"]))
    assert state == "succeeded", description
    assert await broker.runtimes() == []
    released = garden.get(CREDENTIALS_BINDINGS, shoot["secretBindingName"], "garden-kyma-dev")
    assert released is not None
    assert released["metadata"]["labels"]["dirty"] == "true"


# --- deprovisioning -------------------------------------------------------------------------------------


async def test_deprovisioning_removes_the_runtime_and_the_instance(provisioned: LiveBroker) -> None:
    """Deprovisioning waits until KIM lets the Runtime CR go, then removes the instance."""
    [runtime] = await provisioned.runtimes()
    name = runtime["metadata"]["name"]
    state, description = await provisioned.finished(await provisioned.deprovision())
    assert state == "succeeded", description
    assert await provisioned.runtimes() == []
    assert provisioned.kcp.list("kymas", "kcp-system") == []
    runtime_reads = [s for m, p, s in calls(provisioned.kcp, f"{RUNTIMES_PATH}/{name}") if m == "GET"]
    assert runtime_reads[-2:] == [200, 404]  # it lingered with its finalizer before it went
    assert (await provisioned.osb("GET", INSTANCE_PATH)).status_code == 404


# --- bindings -------------------------------------------------------------------------------------------


async def test_token_binding_kubeconfig_works_with_the_official_client(provisioned: LiveBroker) -> None:
    """A token binding's kubeconfig, named after the cluster name, lists namespaces with the sync client."""
    kubeconfig = yaml.safe_load(await provisioned.bind({"token_request": True}))
    assert kubeconfig["current-context"] == "my-cluster"
    assert "token" in kubeconfig["users"][0]["user"]
    assert await namespaces_status(kubeconfig) == 200


async def test_token_binding_kubeconfig_works_with_kubectl(tmp_path: Path, provisioned: LiveBroker) -> None:
    """``kubectl --kubeconfig <file> get namespaces`` works with a token binding's kubeconfig."""
    kubeconfig = await provisioned.bind({"token_request": True})
    result = await asyncio.to_thread(kubectl, tmp_path / "kubectl", kubeconfig, "get", "namespaces")
    assert result.returncode == 0, result.stderr
    assert "kyma-system" in result.stdout.split()


async def test_token_binding_kubeconfig_is_refused_after_unbind(
    tmp_path: Path, provisioned: LiveBroker
) -> None:
    """After unbinding, the same kubeconfig is refused (401 or 403) by the official client and by kubectl."""
    kubeconfig = await provisioned.bind({"token_request": True})
    assert await namespaces_status(yaml.safe_load(kubeconfig)) == 200
    await provisioned.unbind()
    assert await namespaces_status(yaml.safe_load(kubeconfig)) in (401, 403)
    result = await asyncio.to_thread(kubectl, tmp_path / "kubectl", kubeconfig, "get", "namespaces")
    assert result.returncode != 0
    assert KUBECTL_REFUSED.search(result.stderr), result.stderr


async def test_gardener_binding_certificate_kubeconfig_works(tmp_path: Path, provisioned: LiveBroker) -> None:
    """A default binding's Gardener kubeconfig authenticates with a certificate; both clients can use it."""
    text = await provisioned.bind({})
    kubeconfig = yaml.safe_load(text)
    assert "client-certificate-data" in kubeconfig["users"][0]["user"]
    assert await namespaces_status(kubeconfig) == 200
    result = await asyncio.to_thread(kubectl, tmp_path / "kubectl", text, "get", "namespaces")
    assert result.returncode == 0, result.stderr
    assert "kyma-system" in result.stdout.split()
