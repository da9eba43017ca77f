"""``/metrics``: every metric is exposed from the start and moves with what it counts (docs/metrics.md)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.kubernetes.client import call
from keb_adapters.metrics import Metrics, metric_names, samples
from keb_adapters.sql.storage import SqlStorage
from keb_domain.errors import ClusterError, ClusterUnavailableError
from keb_domain.usecases.jobs import JobName, JobReport
from tests.integration.bindings.conftest import BindingBroker, bind_body, binding_path, make_binding_broker
from tests.support import AWS, SERVICE, provision_body

DOCS = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"
STATE_METRICS = {
    "kcp_keb_v2_instances_total",
    "kcp_keb_v2_global_account_id_instances_total",
    "kcp_keb_v2_sub_account_id_instances_total",
    "kcp_keb_v2_operations_provisioning_in_progress_total",
    "kcp_keb_v2_operations_deprovisioning_in_progress_total",
    "kcp_keb_v2_operations_update_in_progress_total",
    "kcp_keb_v2_queue_depth",
    "kcp_keb_v2_minutes_since_earliest_binding_expiration",
}
EVENT_METRICS = {
    "keb_http_requests_total",
    "keb_http_request_duration_seconds",
    "kcp_keb_v2_operations_provisioning_succeeded_total",
    "kcp_keb_v2_operations_provisioning_failed_total",
    "kcp_keb_v2_operations_deprovisioning_succeeded_total",
    "kcp_keb_v2_operations_deprovisioning_failed_total",
    "kcp_keb_v2_operations_update_succeeded_total",
    "kcp_keb_v2_operations_update_failed_total",
    "kcp_keb_v2_provisioning_step_duration_seconds",
    "kcp_keb_v2_update_step_duration_seconds",
    "kcp_keb_v2_deprovisioning_step_duration_seconds",
    "kcp_keb_v2_provisioning_duration_minutes",
    "kcp_keb_v2_deprovisioning_duration_minutes",
    "keb_operation_step_retries_total",
    "kcp_keb_v2_operation_result",
    "kcp_keb_v2_binding_created_total",
    "kcp_keb_v2_bind_duration_millisecond",
    "kcp_keb_v2_unbind_duration_millisecond",
    "keb_cluster_call_errors_total",
    "kcp_keb_v2_queue_workers_in_use",
    "keb_job_runs_total",
    "keb_job_instances_total",
}
SQL_ONLY = {"keb_database_pool_connections"}
INSTANCE = "/oauth/v2/service_instances/{instance_id}"


@pytest.fixture
async def sql_broker(sql_engine: AsyncEngine) -> AsyncIterator[BindingBroker]:
    """A broker over SQLite and PostgreSQL storage, so the state metrics come from SQL."""
    async for value in make_binding_broker(storage=SqlStorage(sql_engine)):
        yield value


async def scrape(broker: BindingBroker) -> dict[str, float]:
    response = await broker.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return dict(samples(response.text))


def value(found: dict[str, float], name: str, **labels: str) -> float:
    """The sample ``name`` whose labels include ``labels`` (0 when there is none)."""
    total = 0.0
    for key, number in found.items():
        metric, _, rest = key.partition("{")
        if metric != name:
            continue
        if all(f'{label}="{wanted}"' in rest for label, wanted in labels.items()):
            total += number
    return total


async def test_every_metric_is_exposed_and_documented(sql_broker: BindingBroker) -> None:
    """Before anything happened each metric family is already exposed, and docs/metrics.md names each."""
    response = await sql_broker.client.get("/metrics")
    exposed = metric_names(response.text)
    assert exposed >= STATE_METRICS | EVENT_METRICS | SQL_ONLY
    documented = DOCS.read_text(encoding="utf-8")
    missing = [name for name in exposed if f"`{name}" not in documented]
    assert missing == []


async def test_metrics_move_with_the_operations_they_count(sql_broker: BindingBroker) -> None:
    """Provision, bind, unbind, update, deprovision and a failure each move their own metrics."""
    broker = sql_broker
    before = await scrape(broker)
    assert value(before, "kcp_keb_v2_instances_total") == 0

    operation = await broker.provision("inst-1", provision_body(ga="ga-7", sa="sa-7"))
    accepted = await scrape(broker)
    assert value(accepted, "kcp_keb_v2_instances_total") == 1
    assert value(accepted, "kcp_keb_v2_global_account_id_instances_total", global_account_id="ga-7") == 1
    assert value(accepted, "kcp_keb_v2_sub_account_id_instances_total", sub_account_id="sa-7") == 1
    assert value(accepted, "kcp_keb_v2_operations_provisioning_in_progress_total", plan_id=AWS) == 1
    assert value(accepted, "kcp_keb_v2_queue_depth", queue_name="operations") == 1
    assert value(accepted, "kcp_keb_v2_operation_result", operation_id=operation, state="in progress") == 1
    assert value(accepted, "keb_http_requests_total", method="PUT", route=INSTANCE, status="202") == 1

    await broker.settle()
    done = await scrape(broker)
    assert value(done, "kcp_keb_v2_operations_provisioning_in_progress_total", plan_id=AWS) == 0
    assert value(done, "kcp_keb_v2_queue_depth") == 0
    assert value(done, "kcp_keb_v2_operations_provisioning_succeeded_total", plan_id=AWS) == 1
    assert value(done, "kcp_keb_v2_operation_result", operation_id=operation, state="succeeded") == 1
    assert value(done, "kcp_keb_v2_operation_result", operation_id=operation, state="in progress") == 0
    steps = "kcp_keb_v2_provisioning_step_duration_seconds_count"
    for step in (
        "create_runtime_id",
        "create_runtime_resource",
        "check_runtime_resource",
        "apply_kyma_resource",
    ):
        assert value(done, steps, plan_id=AWS, step_name=step) == 1
    assert value(done, "kcp_keb_v2_provisioning_duration_minutes_count", plan_id=AWS) == 1

    created = await broker.osb("PUT", binding_path("inst-1", "b-1"), json=bind_body())
    assert created.status_code == 201
    bound = await scrape(broker)
    assert value(bound, "kcp_keb_v2_binding_created_total", plan_id=AWS) == 1
    assert value(bound, "kcp_keb_v2_bind_duration_millisecond_count") == 1
    broker.clock.advance(600 + 30 * 60)  # the binding expired half an hour ago
    expired = await scrape(broker)
    assert value(expired, "kcp_keb_v2_minutes_since_earliest_binding_expiration") == pytest.approx(30)
    assert (await broker.unbind("inst-1", "b-1")).status_code == 200
    assert value(await scrape(broker), "kcp_keb_v2_unbind_duration_millisecond_count") == 1

    broker.kcp.fail_next("replace_runtime", ClusterUnavailableError("KCP is restarting"))
    assert (
        await broker.patch("inst-1", {"service_id": SERVICE, "parameters": {"autoScalerMax": 25}})
    ).status_code == 202
    await broker.settle()
    updated = await scrape(broker)
    assert value(updated, "kcp_keb_v2_operations_update_succeeded_total", plan_id=AWS) == 1
    assert (
        value(updated, "kcp_keb_v2_update_step_duration_seconds_count", step_name="update_runtime_resource")
        == 1
    )
    assert (
        value(updated, "keb_operation_step_retries_total", type="update", step_name="update_runtime_resource")
        == 1
    )

    assert (await broker.deprovision("inst-1")).status_code == 202
    await broker.settle()
    gone = await scrape(broker)
    assert value(gone, "kcp_keb_v2_instances_total") == 0
    assert value(gone, "kcp_keb_v2_operations_deprovisioning_succeeded_total", plan_id=AWS) == 1
    assert (
        value(gone, "kcp_keb_v2_deprovisioning_step_duration_seconds_count", step_name="delete_kyma_resource")
        == 1
    )
    assert value(gone, "kcp_keb_v2_deprovisioning_duration_minutes_count", plan_id=AWS) == 1

    broker.kcp.fail_next("create_runtime", ClusterError("quota exceeded"))
    failed_operation = await broker.provision("inst-2")
    await broker.settle()
    failed = await scrape(broker)
    assert value(failed, "kcp_keb_v2_operations_provisioning_failed_total", plan_id=AWS) == 1
    assert value(failed, "kcp_keb_v2_operation_result", operation_id=failed_operation, state="failed") == 1
    assert value(failed, "keb_database_pool_connections", state="idle") >= 0


async def test_http_metrics_label_routes_by_template_never_by_id(sql_broker: BindingBroker) -> None:
    """Requests to many instances add no series: the route label is the template; unknown paths share one."""
    for number in range(3):
        await sql_broker.osb("GET", f"/oauth/v2/service_instances/inst-x{number}")
    await sql_broker.client.get("/no/such/path/abc")
    found = await scrape(sql_broker)
    routes = {key for key in found if key.startswith("keb_http_requests_total")}
    assert not any("inst-x" in key or "abc" in key for key in routes)
    assert value(found, "keb_http_requests_total", method="GET", route=INSTANCE, status="404") == 3
    assert value(found, "keb_http_requests_total", route="(unmatched)", status="404") == 1


async def test_failed_cluster_calls_are_counted_by_kind() -> None:
    """A timed-out Kubernetes call counts as ``unavailable`` on the broker's metrics."""
    async for broker in make_binding_broker():

        async def times_out() -> None:
            raise TimeoutError

        with pytest.raises(ClusterUnavailableError):
            await call("get runtime", times_out())
        found = await scrape(broker)
        assert value(found, "keb_cluster_call_errors_total", kind="unavailable") == 1


def test_the_workers_gauge_follows_what_it_is_told() -> None:
    """``queue_workers_in_use`` shows the count the engine reports."""
    metrics = Metrics()
    metrics.busy_workers(3)
    text = metrics.render(None, __import__("datetime").datetime.now()).decode()
    assert 'kcp_keb_v2_queue_workers_in_use{queue_name="operations"} 3.0' in text
    assert not re.search(r"^kcp_keb_v2_instances_total ", text, re.MULTILINE)  # no statistics: left out


def test_job_runs_count_what_they_did_and_dry_runs_count_nothing() -> None:
    """A job report adds one run and its acted and failed instances; a dry run leaves the counters alone."""
    metrics = Metrics()
    metrics.job_ran(JobReport(JobName.FREE_CLEANUP, dry_run=True, candidates=("a", "b")))
    metrics.job_ran(
        JobReport(
            JobName.FREE_CLEANUP,
            dry_run=False,
            candidates=("a", "b", "c"),
            acted=(("a", "op-a"), ("b", "op-b")),
            failed=(("c", "gone"),),
        )
    )
    found = dict(samples(metrics.render(None, __import__("datetime").datetime.now()).decode()))
    assert value(found, "keb_job_runs_total", job="free-cleanup") == 1
    assert value(found, "keb_job_instances_total", job="free-cleanup", outcome="acted") == 2
    assert value(found, "keb_job_instances_total", job="free-cleanup", outcome="failed") == 1
    assert value(found, "keb_job_runs_total", job="trial-expiration") == 0
