"""PUT binding over HTTP: every answer of the status-code matrix (keb-reference §4.2, decisions.md §3)."""

from __future__ import annotations

import asyncio
import urllib.parse
from datetime import timedelta
from typing import Any

import pytest
import yaml

from keb_adapters.http.wire import format_expires_at
from keb_adapters.memory.storage import MemoryStorage
from keb_domain.errors import ClusterUnavailableError
from keb_domain.model.binding import binding_resource_name
from tests.integration.bindings.conftest import (
    BindingBroker,
    bind_body,
    binding_path,
    make_binding_broker,
    token_of,
)
from tests.support import AWS, TRIAL, provision_body


def expiry(broker: BindingBroker, seconds: int = 600) -> str:
    return format_expires_at(broker.clock.now() + timedelta(seconds=seconds))


# --- 201 and 200 ----------------------------------------------------------------------------------


async def test_a_new_binding_is_201_with_a_kubeconfig_and_its_expiry(broker: BindingBroker) -> None:
    """A first PUT creates a Gardener admin kubeconfig that expires after the default 600 s."""
    expected = expiry(broker)
    response = await broker.bind("inst-1", "b-1")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["metadata"] == {"expires_at": expected}
    kubeconfig = yaml.safe_load(body["credentials"]["kubeconfig"])
    assert "client-certificate-data" in kubeconfig["users"][0]["user"]


async def test_a_token_binding_is_a_working_token_kubeconfig_named_after_the_cluster(
    broker: BindingBroker,
) -> None:
    """``token_request: true`` gives a kubeconfig named after the instance whose token the runtime takes."""
    response = await broker.bind("inst-1", "b-1", bind_body(token_request=True, expiration_seconds=1200))
    assert response.status_code == 201, response.text
    kubeconfig = response.json()["credentials"]["kubeconfig"]
    config = yaml.safe_load(kubeconfig)
    assert config["current-context"] == "my-cluster"
    assert config["clusters"][0]["name"] == "my-cluster"
    assert await broker.token_works("inst-1", kubeconfig)
    assert response.json()["metadata"]["expires_at"] == expiry(broker, 1200)


async def test_the_binding_answers_under_a_platform_region_too(broker: BindingBroker) -> None:
    """``/oauth/{region}/v2/...`` serves the same binding as ``/oauth/v2/...``."""
    created = await broker.osb("PUT", binding_path("inst-1", "b-1", "cf-eu10"), json=bind_body())
    assert created.status_code == 201
    fetched = await broker.get_binding("inst-1", "b-1")
    assert fetched.json()["credentials"] == created.json()["credentials"]


async def test_an_identical_repeat_is_200_with_the_same_credentials(broker: BindingBroker) -> None:
    """A repeat with the same parameters returns the stored kubeconfig and expiry, even a minute later."""
    body = bind_body(token_request=True, expiration_seconds=7200)
    first = await broker.bind("inst-1", "b-1", body)
    broker.clock.advance(60)
    again = await broker.bind("inst-1", "b-1", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


async def test_the_default_expiration_and_an_explicit_600_are_the_same_request(broker: BindingBroker) -> None:
    """Leaving ``expiration_seconds`` out means 600, so sending 600 afterwards is an identical repeat."""
    first = await broker.bind("inst-1", "b-1", bind_body())
    again = await broker.bind("inst-1", "b-1", bind_body(expiration_seconds=600, token_request=False))
    assert again.status_code == 200
    assert again.json() == first.json()


# --- 409 and 422 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "different",
    [bind_body(expiration_seconds=1200), bind_body(token_request=True), bind_body(service_account=True)],
)
async def test_a_repeat_with_different_parameters_is_409(
    broker: BindingBroker, different: dict[str, Any]
) -> None:
    """Another expiration or another credential strategy for an existing binding id is a conflict."""
    assert (await broker.bind("inst-1", "b-1")).status_code == 201
    response = await broker.bind("inst-1", "b-1", different)
    assert response.status_code == 409
    assert response.json()["description"] == "binding already exists but with different parameters"


async def test_a_repeat_while_the_credentials_are_being_created_is_422(broker: BindingBroker) -> None:
    """While the first request waits for Gardener, a second one is told the creation is in progress."""
    broker.gardener.gate.close()
    first = asyncio.create_task(broker.bind("inst-1", "b-1"))
    await broker.gardener.gate.arrived.wait()
    second = await broker.bind("inst-1", "b-1")
    assert second.status_code == 422
    assert second.json()["description"] == "binding creation already in progress"
    broker.gardener.gate.open()
    assert (await first).status_code == 201


async def test_an_unbindable_plan_is_422_binding_not_supported() -> None:
    """An instance whose plan is not in APP_BROKER_BINDING_BINDABLE_PLANS gets KEB's 422."""
    async for broker in make_binding_broker({"APP_BROKER_BINDING_BINDABLE_PLANS": "azure,trial"}):
        await broker.provisioned("inst-1")
        response = await broker.bind("inst-1", "b-1")
        assert response.status_code == 422
        assert response.json() == {"error": "BindingNotSupported", "description": "binding is not supported"}


# --- 400 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expiration", "description"),
    [
        (599, "expiration_seconds cannot be less than 600"),
        (7201, "expiration_seconds cannot be greater than 7200"),
        ("600", "parameters.expiration_seconds: expected an integer, got str"),
    ],
)
async def test_an_expiration_outside_the_range_is_400(
    broker: BindingBroker, expiration: Any, description: str
) -> None:
    """Out-of-range or non-integer ``expiration_seconds`` is refused before anything is created."""
    response = await broker.bind("inst-1", "b-1", bind_body(expiration_seconds=expiration))
    assert response.status_code == 400
    assert response.json()["description"] == description
    assert await broker.stored("inst-1", "b-1") is None


async def test_configured_expiration_bounds_apply() -> None:
    """APP_BROKER_BINDING_MAX_EXPIRATION_SECONDS narrows what a bind may ask for."""
    async for broker in make_binding_broker({"APP_BROKER_BINDING_MAX_EXPIRATION_SECONDS": "1200"}):
        await broker.provisioned("inst-1")
        refused = await broker.bind("inst-1", "b-1", bind_body(expiration_seconds=1800))
        assert refused.status_code == 400
        assert refused.json()["description"] == "expiration_seconds cannot be greater than 1200"


async def test_disagreeing_strategy_flags_are_400(broker: BindingBroker) -> None:
    """``token_request`` and ``service_account`` saying different things is a client error."""
    response = await broker.bind("inst-1", "b-1", bind_body(token_request=True, service_account=False))
    assert response.status_code == 400
    assert "disagree" in response.json()["description"]


async def test_reaching_the_limit_of_unexpired_bindings_is_400() -> None:
    """With APP_BROKER_BINDING_MAX_BINDINGS_COUNT=2 a third live binding is refused and not stored."""
    async for broker in make_binding_broker({"APP_BROKER_BINDING_MAX_BINDINGS_COUNT": "2"}):
        await broker.provisioned("inst-1")
        assert (await broker.bind("inst-1", "b-1")).status_code == 201
        assert (await broker.bind("inst-1", "b-2", bind_body(token_request=True))).status_code == 201
        response = await broker.bind("inst-1", "b-3")
        assert response.status_code == 400
        assert response.json()["description"] == "maximum number of non expired bindings reached: 2"
        assert await broker.stored("inst-1", "b-3") is None


async def test_expired_bindings_do_not_count_against_the_limit() -> None:
    """Once a binding expired, another one fits under the limit again."""
    async for broker in make_binding_broker({"APP_BROKER_BINDING_MAX_BINDINGS_COUNT": "1"}):
        await broker.provisioned("inst-1")
        assert (await broker.bind("inst-1", "b-1")).status_code == 201
        assert (await broker.bind("inst-1", "b-2")).status_code == 400
        broker.clock.advance(600)
        assert (await broker.bind("inst-1", "b-2")).status_code == 201


async def test_the_limit_is_per_instance() -> None:
    """Bindings of another instance do not count."""
    async for broker in make_binding_broker({"APP_BROKER_BINDING_MAX_BINDINGS_COUNT": "1"}):
        await broker.provisioned("inst-1")
        await broker.provisioned("inst-2", provision_body(sa="sa-2"))
        assert (await broker.bind("inst-1", "b-1")).status_code == 201
        assert (await broker.bind("inst-2", "b-1")).status_code == 201


async def test_an_expired_binding_blocks_its_id_until_the_cleanup_removed_it(broker: BindingBroker) -> None:
    """Repeating an expired binding is 400 (as KEB's insert fails); after the cleanup the id is free."""
    assert (await broker.bind("inst-1", "b-1")).status_code == 201
    broker.clock.advance(600)
    blocked = await broker.bind("inst-1", "b-1")
    assert blocked.status_code == 400
    assert "expired" in blocked.json()["description"]
    await broker.services.clean_bindings()
    again = await broker.bind("inst-1", "b-1")
    assert again.status_code == 201
    assert again.json()["metadata"]["expires_at"] == expiry(broker)


async def test_binding_an_instance_that_is_still_provisioning_is_400() -> None:
    """While the runtime is being created the bind is refused with KEB's message."""
    async for broker in make_binding_broker():
        await broker.provision("inst-1")
        await broker.step()
        response = await broker.bind("inst-1", "b-1")
        assert response.status_code == 400
        assert response.json()["description"] == "instance inst-1 creation is in progress"


async def test_binding_an_instance_whose_provisioning_failed_is_400() -> None:
    """A runtime that never became Ready leaves an instance that cannot be bound."""
    env = {"APP_STEP_TIMEOUTS_CHECK_RUNTIME_RESOURCE_CREATE": "5s"}
    async for broker in make_binding_broker(env, ready_after=3600):
        operation = await broker.provision("inst-1")
        await broker.settle()
        assert await broker.last_operation("inst-1", operation) == "failed"
        response = await broker.bind("inst-1", "b-1")
        assert response.status_code == 400
        assert response.json()["description"] == "instance inst-1 creation failed"


async def test_binding_a_suspended_trial_is_400() -> None:
    """A suspended trial has no runtime to issue credentials for."""
    async for broker in make_binding_broker():
        await broker.provisioned("inst-1", provision_body(TRIAL, {"name": "trial-cluster"}))
        suspended = await broker.patch(
            "inst-1", {"service_id": provision_body()["service_id"], "context": {"active": False}}
        )
        assert suspended.status_code == 200, suspended.text
        await broker.settle()
        response = await broker.bind("inst-1", "b-1", bind_body(TRIAL))
        assert response.status_code == 400
        assert await broker.stored("inst-1", "b-1") is None


async def test_an_unknown_service_id_is_400(broker: BindingBroker) -> None:
    """A bind for another service than kymaruntime is refused."""
    response = await broker.bind("inst-1", "b-1", {"service_id": "other", "plan_id": AWS})
    assert response.status_code == 400
    assert "service_id" in response.json()["description"]


# --- 404 ------------------------------------------------------------------------------------------


async def test_binding_an_unknown_instance_is_404(broker: BindingBroker) -> None:
    """An instance that does not exist is 404 with KEB's description."""
    response = await broker.bind("inst-unknown", "b-1")
    assert response.status_code == 404
    assert response.json()["description"] == "instance does not exist"


# --- 503 and failures -----------------------------------------------------------------------------


async def test_a_slow_creation_is_503_and_finishes_in_the_background() -> None:
    """Past APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT the answer is a JSON 503; a repeat later gets 200."""
    async for broker in make_binding_broker({"APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT": "200ms"}):
        await broker.provisioned("inst-1")
        broker.gardener.gate.close()
        timed_out = await broker.bind("inst-1", "b-1")
        assert timed_out.status_code == 503
        assert "0.2s" in timed_out.json()["description"]
        assert "kubeconfig" not in timed_out.text
        assert (await broker.bind("inst-1", "b-1")).status_code == 422  # still being created
        broker.gardener.gate.open()
        await broker.services.binding_requests.drain()
        repeated = await broker.bind("inst-1", "b-1")
        assert repeated.status_code == 200
        fetched = await broker.get_binding("inst-1", "b-1")
        assert fetched.json()["credentials"] == repeated.json()["credentials"]


async def test_a_failed_creation_leaves_nothing_behind_and_a_retry_succeeds(broker: BindingBroker) -> None:
    """When Gardener fails, the error names no credentials, no placeholder stays, and a retry is 201."""
    broker.gardener.failures.append(ClusterUnavailableError("gardener is down"))
    failed = await broker.bind("inst-1", "b-1")
    assert failed.status_code == 503
    assert failed.json()["description"] == "gardener is down"
    assert await broker.stored("inst-1", "b-1") is None
    assert (await broker.get_binding("inst-1", "b-1")).json()["description"] == "Binding not found"
    assert (await broker.bind("inst-1", "b-1")).status_code == 201


async def test_a_failed_token_request_removes_the_identity_it_created(broker: BindingBroker) -> None:
    """The ServiceAccount and RBAC made before the TokenRequest failed are deleted again."""
    broker.clusters.token_failures.append(ClusterUnavailableError("token request timed out"))
    failed = await broker.bind("inst-1", "b-1", bind_body(token_request=True))
    assert failed.status_code == 503
    cluster = broker.clusters.inner.clusters[(await broker.runtime_id("inst-1")).lower()]
    name = binding_resource_name("b-1")
    assert name not in cluster.service_accounts
    assert name not in cluster.cluster_role_bindings
    assert await broker.stored("inst-1", "b-1") is None
    retried = await broker.bind("inst-1", "b-1", bind_body(token_request=True))
    assert retried.status_code == 201
    assert await broker.token_works("inst-1", retried.json()["credentials"]["kubeconfig"])


async def test_the_stored_credentials_are_encrypted(broker: BindingBroker) -> None:
    """The binding row holds neither the kubeconfig nor its token in clear."""
    response = await broker.bind("inst-1", "b-1", bind_body(token_request=True))
    kubeconfig = response.json()["credentials"]["kubeconfig"]
    stored = await broker.stored("inst-1", "b-1")
    assert stored is not None
    assert stored.credentials
    assert kubeconfig not in stored.credentials
    assert token_of(kubeconfig) not in stored.credentials


async def test_a_creation_that_fails_after_the_503_leaves_the_id_free() -> None:
    """A background creation that fails removes its placeholder, so the platform's retry creates it."""
    async for broker in make_binding_broker({"APP_BROKER_BINDING_CREATE_BINDING_TIMEOUT": "200ms"}):
        await broker.provisioned("inst-1")
        broker.gardener.gate.close()
        broker.gardener.failures.append(ClusterUnavailableError("gardener is down"))
        assert (await broker.bind("inst-1", "b-1")).status_code == 503
        broker.gardener.gate.open()
        await broker.services.binding_requests.drain()
        assert await broker.stored("inst-1", "b-1") is None
        assert (await broker.bind("inst-1", "b-1")).status_code == 201


async def test_a_binding_deleted_while_being_created_hands_out_no_working_token(
    broker: BindingBroker,
) -> None:
    """An unbind while the token is on its way wins: the PUT returns 410 without credentials, and the token is
    revoked."""
    broker.clusters.gate.close()
    creating = asyncio.create_task(broker.bind("inst-1", "b-1", bind_body(token_request=True)))
    await broker.clusters.gate.arrived.wait()
    assert (await broker.unbind("inst-1", "b-1")).status_code == 200
    broker.clusters.gate.open()
    response = await creating
    assert response.status_code == 410
    assert "kubeconfig" not in response.text
    assert await broker.stored("inst-1", "b-1") is None
    runtime_id = await broker.runtime_id("inst-1")
    cluster = broker.clusters.inner.clusters[runtime_id.lower()]
    assert binding_resource_name("b-1") not in cluster.service_accounts
    assert not any(broker.clusters.inner.token_works(runtime_id, token) for token in cluster.tokens)


async def test_a_binding_deleted_before_its_identity_exists_leaves_none_behind(broker: BindingBroker) -> None:
    """An unbind before the ServiceAccount was made: the creation that goes on afterwards removes it again."""
    broker.clusters.identity_gate.close()
    creating = asyncio.create_task(broker.bind("inst-1", "b-1", bind_body(token_request=True)))
    await broker.clusters.identity_gate.arrived.wait()
    assert (await broker.unbind("inst-1", "b-1")).status_code == 200
    broker.clusters.identity_gate.open()
    response = await creating
    assert response.status_code == 410
    runtime_id = await broker.runtime_id("inst-1")
    cluster = broker.clusters.inner.clusters[runtime_id.lower()]
    assert binding_resource_name("b-1") not in cluster.service_accounts
    assert binding_resource_name("b-1") not in cluster.cluster_role_bindings
    assert not any(broker.clusters.inner.token_works(runtime_id, token) for token in cluster.tokens)


async def test_the_creator_is_recorded_from_the_context(broker: BindingBroker) -> None:
    """``created_by`` is the context's email, else its origin (KEB)."""
    with_email = {**bind_body(), "context": {"email": "jane@example.com", "origin": "btp"}}
    with_origin = {**bind_body(), "context": {"origin": "btp"}}
    assert (await broker.bind("inst-1", "b-1", with_email)).status_code == 201
    assert (await broker.bind("inst-1", "b-2", with_origin)).status_code == 201
    first, second = await broker.stored("inst-1", "b-1"), await broker.stored("inst-1", "b-2")
    assert first is not None
    assert second is not None
    assert (first.created_by, second.created_by) == ("jane@example.com", "btp")


async def test_binding_an_instance_being_deprovisioned_is_400(broker: BindingBroker) -> None:
    """Once deprovisioning started there is no runtime to hand out credentials for."""
    await broker.deprovision("inst-1")
    await broker.step()
    response = await broker.bind("inst-1", "b-1")
    assert response.status_code == 400
    assert await broker.stored("inst-1", "b-1") is None


async def test_with_bindings_disabled_existing_ones_can_still_be_read_and_removed() -> None:
    """APP_BROKER_BINDING_ENABLED=false refuses new bindings; GET and DELETE keep working (KEB)."""
    storage = MemoryStorage()
    async for broker in make_binding_broker(storage=storage):
        await broker.provisioned("inst-1")
        assert (await broker.bind("inst-1", "b-1")).status_code == 201
    async for broker in make_binding_broker({"APP_BROKER_BINDING_ENABLED": "false"}, storage=storage):
        refused = await broker.bind("inst-1", "b-2")
        assert refused.status_code == 422
        assert refused.json()["error"] == "BindingNotSupported"
        assert (await broker.get_binding("inst-1", "b-1")).status_code == 200
        assert (await broker.unbind("inst-1", "b-1")).status_code == 200


# --- ids Kubernetes cannot name ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_id", ["B_Upper", "%2E", "%2E%2E", "a" * 250, "%3Cscript%3E", "a-", "a.", "a..b"]
)
async def test_a_token_binding_id_kubernetes_cannot_name_is_400_and_stores_nothing(
    broker: BindingBroker, raw_id: str
) -> None:
    """The ServiceAccount is named after the id; an id that is no DNS-1123 name is refused before storing."""
    response = await broker.osb("PUT", binding_path("inst-1", raw_id), json=bind_body(token_request=True))
    assert response.status_code == 400, response.text
    assert "Kubernetes" in response.json()["description"]
    assert await broker.stored("inst-1", urllib.parse.unquote(raw_id)) is None
    assert not any(cluster.service_accounts for cluster in broker.clusters.inner.clusters.values())


async def test_an_admin_kubeconfig_binding_takes_any_storable_id(broker: BindingBroker) -> None:
    """Admin kubeconfigs create nothing named after the id, so ``B_Upper`` is a valid binding id there."""
    response = await broker.osb("PUT", binding_path("inst-1", "B_Upper"), json=bind_body())
    assert response.status_code == 201, response.text
