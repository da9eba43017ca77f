"""Log lines: one access line per request, the correlation id on every line a request causes, operation
lifecycle lines with instance and operation ids, text or JSON, never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from keb_app.bootstrap import build_services
from keb_app.logs import CorrelationFilter, JsonFormatter, TextFormatter
from keb_domain.errors import ClusterError, ClusterUnavailableError
from tests.integration.bindings.conftest import BindingBroker, bind_body, binding_path, make_binding_broker
from tests.support import SequentialIds, provision_body, settings_for_tests


class Captured:
    """Everything logged at DEBUG and above, through the broker's own filter and a formatter."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.addFilter(CorrelationFilter())
        self.handler.setFormatter(formatter)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]


@pytest.fixture
def logged() -> Iterator[Captured]:
    """JSON lines of everything the broker logs during the test."""
    captured = Captured(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(captured.handler)
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(captured.handler)
        root.setLevel(level)


@pytest.fixture
async def broker() -> AsyncIterator[BindingBroker]:
    async for value in make_binding_broker():
        yield value


async def test_one_access_line_per_request_with_the_given_correlation_id(
    broker: BindingBroker, logged: Captured
) -> None:
    """X-Correlation-ID comes back on the response and is on the access line and the lines it caused."""
    response = await broker.osb(
        "PUT",
        "/oauth/v2/service_instances/inst-1",
        json=provision_body(),
        headers={"X-Correlation-ID": "req-42.a"},
    )
    assert response.headers["x-correlation-id"] == "req-42.a"
    mine = [entry for entry in logged.entries() if entry.get("correlation_id") == "req-42.a"]
    access = [entry for entry in mine if entry["logger"] == "keb.access"]
    assert len(access) == 1
    assert access[0]["method"] == "PUT"
    assert access[0]["route"] == "/oauth/v2/service_instances/{instance_id}"
    assert access[0]["status"] == 202
    assert access[0]["duration_ms"] >= 0
    assert {"time", "level", "msg"} <= set(access[0])
    accepted = [entry for entry in mine if entry["msg"].startswith("operation accepted")]
    assert accepted[0]["instance_id"] == "inst-1"
    assert accepted[0]["operation_id"] == response.json()["operation"]


async def test_x_request_id_is_taken_too(broker: BindingBroker, logged: Captured) -> None:
    """X-Request-ID serves as the correlation id when X-Correlation-ID is absent."""
    response = await broker.client.get("/healthz", headers={"X-Request-ID": "abc-1"})
    assert response.headers["x-correlation-id"] == "abc-1"


@pytest.mark.parametrize("given", ["has space", "x" * 65, "line\tbreak", "<script>"])
async def test_an_unusable_correlation_id_is_replaced(
    broker: BindingBroker, logged: Captured, given: str
) -> None:
    """Ids that are long or not plain printable words are not echoed: a fresh one is generated."""
    response = await broker.client.get("/healthz", headers={"X-Correlation-ID": given})
    returned = response.headers["x-correlation-id"]
    assert returned != given
    assert len(returned) == 32
    assert given not in logged.text


async def test_requests_without_an_id_get_distinct_ones(broker: BindingBroker, logged: Captured) -> None:
    """Each request without an id gets its own, and refused and unmatched requests get access lines too."""
    first = await broker.client.get("/healthz")
    second = await broker.client.get("/no/such/route")
    assert first.headers["x-correlation-id"] != second.headers["x-correlation-id"]
    routes = [entry["route"] for entry in logged.entries() if entry["logger"] == "keb.access"]
    assert routes == ["/healthz", "(unmatched)"]


async def test_operation_lifecycle_lines(broker: BindingBroker, logged: Captured) -> None:
    """Accepted, each step done, a retried step, succeeded, and failed with its reason: each with both ids."""
    broker.kcp.fail_next("get_runtime", ClusterUnavailableError("KCP is restarting"))
    operation = await broker.provision("inst-1")
    await broker.settle()
    broker.kcp.fail_next("create_runtime", ClusterError("quota exceeded"))
    failed = await broker.provision("inst-2")
    await broker.settle()

    lines = [entry for entry in logged.entries() if entry["logger"] == "keb.operations"]
    first = [entry for entry in lines if entry.get("operation_id") == operation]
    assert all(entry["instance_id"] == "inst-1" for entry in first)
    messages = [entry["msg"] for entry in first]
    assert messages[0] == "operation accepted: Provisioning requested"
    assert any(m.startswith("step create_runtime_id done") for m in messages)
    assert any(m.startswith("step apply_kyma_resource done") for m in messages)
    retried = [entry for entry in first if "retried later" in entry["msg"]]
    assert retried
    assert retried[0]["level"] == "warning"
    assert "KCP is restarting" in retried[0]["msg"]
    assert messages[-1] == "operation succeeded"
    last = [entry for entry in lines if entry.get("operation_id") == failed][-1]
    assert last["msg"].startswith("operation failed: ")
    assert "quota exceeded" in last["msg"]
    assert (last["instance_id"], last["state"]) == ("inst-2", "failed")


async def test_a_restarted_broker_says_it_resumed_an_operation(
    broker: BindingBroker, logged: Captured
) -> None:
    """An operation in progress when the process stopped is logged as resumed by the next one."""
    operation = await broker.provision("inst-1")
    await broker.step()  # started; waits for the runtime to become Ready
    broker.clock.advance(60)
    again = build_services(
        settings_for_tests(),
        storage=broker.services.storage,
        control_plane=broker.kcp,
        clock=broker.clock,
        ids=SequentialIds(),
        gardener=broker.gardener,
        runtime_clusters=broker.clusters,
        run_engine=False,
    )
    await again.engine.run_once()
    resumed = [entry for entry in logged.entries() if entry["msg"].startswith("operation resumed")]
    assert [(entry["operation_id"], entry["instance_id"]) for entry in resumed] == [(operation, "inst-1")]


async def test_text_lines_carry_the_ids(broker: BindingBroker) -> None:
    """In text format the ids follow the message as key=value pairs."""
    captured = Captured(TextFormatter())
    root = logging.getLogger()
    root.addHandler(captured.handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        await broker.osb(
            "PUT",
            "/oauth/v2/service_instances/inst-1",
            json=provision_body(),
            headers={"X-Request-ID": "t-1"},
        )
    finally:
        root.removeHandler(captured.handler)
        root.setLevel(level)
    accepted = next(line for line in captured.text.splitlines() if "operation accepted" in line)
    assert "instance_id=inst-1" in accepted
    assert "operation_id=" in accepted
    assert "correlation_id=t-1" in accepted
    assert not captured.text.lstrip().startswith("{")


async def test_no_log_line_carries_a_credential(broker: BindingBroker, logged: Captured) -> None:
    """Through provisioning, binding (both kinds) and unbinding at DEBUG no kubeconfig or token is logged."""
    await broker.provisioned("inst-1")
    secrets: list[str] = []
    for binding_id, token_request in (("b-1", False), ("b-2", True)):
        response = await broker.osb(
            "PUT", binding_path("inst-1", binding_id), json=bind_body(token_request=token_request)
        )
        assert response.status_code == 201, response.text
        kubeconfig = response.json()["credentials"]["kubeconfig"]
        secrets.append(kubeconfig)
        secrets.extend(line.split(":", 1)[1].strip() for line in kubeconfig.splitlines() if "token:" in line)
        secrets.extend(
            line.split(":", 1)[1].strip() for line in kubeconfig.splitlines() if "client-key-data:" in line
        )
        assert (await broker.unbind("inst-1", binding_id)).status_code == 200
    assert len(secrets) >= 3
    assert logged.text
    for secret in secrets:
        assert secret not in logged.text


async def test_a_provisioning_cancelled_by_a_deprovisioning_is_logged_as_failed(
    broker: BindingBroker, logged: Captured
) -> None:
    """A DELETE during provisioning cancels it; the provisioning's last line says failed and why."""
    operation = await broker.provision("inst-1")
    assert (await broker.deprovision("inst-1")).status_code == 202
    await broker.settle()
    lines = [entry for entry in logged.entries() if entry.get("operation_id") == operation]
    assert lines[-1]["msg"].startswith("operation failed: Cancelled")
