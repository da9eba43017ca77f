"""Prometheus metrics with KEB's names (``kcp_keb_v2_*``) where KEB has the metric, ``keb_*`` where not.

Two kinds:

* event metrics (counters, histograms, the workers gauge) live in this process; with several HTTP worker
  processes they are written to files in ``PROMETHEUS_MULTIPROC_DIR`` and summed on every scrape
  (prometheus-client's multi-process mode), so any worker answers for all of them;
* state metrics (instances, operations in progress, queue depth, binding expiry, database pool) are read
  when ``/metrics`` is scraped, from the database every worker shares, as KEB's collectors poll it.

Every metric is documented in docs/metrics.md.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

import attrs
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.ports import BrokerStatistics
from keb_domain.usecases.jobs import JobName, JobReport

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "kcp_keb_v2_"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# KEB's words for operation types in metric names (internal/metrics/operations_stats.go).
TYPE_NAMES = {
    OperationType.PROVISION: "provisioning",
    OperationType.DEPROVISION: "deprovisioning",
    OperationType.UPDATE: "update",
}
STATE_NAMES = {
    OperationState.PENDING: "in progress",
    OperationState.IN_PROGRESS: "in progress",
    OperationState.SUCCEEDED: "succeeded",
    OperationState.FAILED: "failed",
}
QUEUE_NAME = "operations"
# KEB: step durations 1 ms doubling 20 times (~10 min); operation durations 6..120 min; bind 50..2850 ms.
STEP_BUCKETS = tuple(0.001 * 2**i for i in range(20))
DURATION_MINUTES_BUCKETS = tuple(float(6 + 2 * i) for i in range(58))
BIND_BUCKETS = tuple(float(50 + 200 * i) for i in range(15))
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RESULTS_KEPT = 1000  # operation_result series kept per process, newest last (KEB keeps them for a period)


def enable_multiprocess(directory: Path) -> None:
    """Switch prometheus-client to files in ``directory`` before any metric exists (several workers).

    The directory is emptied: values of processes of an earlier run would otherwise be summed in.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def multiprocess_directory() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


@attrs.frozen
class PoolStatus:
    """Connections of the database pool of the process that answers the scrape."""

    size: int
    checked_out: int
    overflow: int


class _Snapshot(Collector):
    """State metrics of one scrape, from a statistics snapshot."""

    def __init__(self, stats: BrokerStatistics | None, now: datetime, pool: PoolStatus | None) -> None:
        self._stats = stats
        self._now = now
        self._pool = pool

    def collect(self) -> Iterator[Metric]:
        if self._stats is not None:
            yield from self._state(self._stats)
        if self._pool is not None:
            pool = GaugeMetricFamily(
                "keb_database_pool_connections",
                "Connections of the database pool of the answering process, by state",
                labels=["state"],
            )
            pool.add_metric(["checked_out"], self._pool.checked_out)
            pool.add_metric(["idle"], max(0, self._pool.size - self._pool.checked_out))
            pool.add_metric(["overflow"], max(0, self._pool.overflow))
            yield pool

    def _state(self, stats: BrokerStatistics) -> Iterator[Metric]:
        total = GaugeMetricFamily(PREFIX + "instances_total", "The total number of instances")
        total.add_metric([], sum(stats.instances.values()))
        yield total
        per_ga = GaugeMetricFamily(
            PREFIX + "global_account_id_instances_total",
            "The total number of instances by Global Account ID",
            labels=["global_account_id"],
        )
        per_sa = GaugeMetricFamily(
            PREFIX + "sub_account_id_instances_total",
            "The total number of instances by SubAccount ID",
            labels=["sub_account_id"],
        )
        for family, index in ((per_ga, 0), (per_sa, 1)):
            counts: dict[str, int] = {}
            for key, count in stats.instances.items():
                counts[key[index]] = counts.get(key[index], 0) + count
            for name, count in sorted(counts.items()):
                family.add_metric([name], count)
            yield family
        for kind, name in TYPE_NAMES.items():
            gauge = GaugeMetricFamily(
                f"{PREFIX}operations_{name}_in_progress_total",
                f"Unfinished {name} operations by plan",
                labels=["plan_id"],
            )
            for (type_value, plan_id), count in sorted(stats.in_progress.items()):
                if type_value == kind.value:
                    gauge.add_metric([plan_id], count)
            yield gauge
        depth = GaugeMetricFamily(
            PREFIX + "queue_depth", "Number of items currently waiting in the queue", labels=["queue_name"]
        )
        depth.add_metric([QUEUE_NAME], stats.due_operations)
        yield depth
        expiry = GaugeMetricFamily(
            PREFIX + "minutes_since_earliest_binding_expiration",
            "Minutes since the earliest expiration of a stored binding; it should stay below the cleanup "
            "interval, else the cleanup does not run",
        )
        earliest = stats.earliest_binding_expiry
        expiry.add_metric([], (self._now - earliest).total_seconds() / 60 if earliest is not None else 0.0)
        yield expiry


class Metrics:
    """The broker's metrics; one object per process, recorded into by adapters and the observer."""

    def __init__(self) -> None:
        # ``_created`` samples double the output and no KEB dashboard reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        directory = multiprocess_directory()
        self.multiprocess = directory is not None
        # In multi-process mode values go to files and are collected from there, not from a registry.
        self._registry = CollectorRegistry()
        target: CollectorRegistry | None = None if self.multiprocess else self._registry
        if directory is not None:
            MultiProcessCollector(self._registry, str(directory))  # type: ignore[no-untyped-call]
        self.http_requests = Counter(
            "keb_http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=target,
        )
        self.http_duration = Histogram(
            "keb_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=target,
        )
        self.finished_counters: dict[tuple[OperationType, OperationState], Counter] = {}
        for kind, name in TYPE_NAMES.items():
            for state in (OperationState.SUCCEEDED, OperationState.FAILED):
                self.finished_counters[kind, state] = Counter(
                    f"{PREFIX}operations_{name}_{state.value}",
                    f"{name.capitalize()} operations that {state.value}, by plan",
                    ["plan_id"],
                    registry=target,
                )
        self.step_duration = {
            kind: Histogram(
                f"{PREFIX}{name}_step_duration_seconds",
                f"The time of the {name} step",
                ["plan_id", "step_name"],
                buckets=STEP_BUCKETS,
                registry=target,
            )
            for kind, name in TYPE_NAMES.items()
        }
        self.operation_duration = {
            kind: Histogram(
                f"{PREFIX}{TYPE_NAMES[kind]}_duration_minutes",
                f"The time of the {TYPE_NAMES[kind]} process",
                ["plan_id"],
                buckets=DURATION_MINUTES_BUCKETS,
                registry=target,
            )
            for kind in (OperationType.PROVISION, OperationType.DEPROVISION)
        }
        self.retries = Counter(
            "keb_operation_step_retries",
            "Steps that failed temporarily and are tried again, by operation type and step",
            ["type", "step_name"],
            registry=target,
        )
        self.result = Gauge(
            PREFIX + "operation_result",
            "Metrics of operations results: 1 for the operation's current state",
            ["operation_id", "instance_id", "runtime_id", "plan_id", "type", "state", "error"],
            multiprocess_mode="mostrecent",
            registry=target,
        )
        self._results: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self.binding_created = Counter(
            PREFIX + "binding_created",
            "Bindings created, by plan",
            ["plan_id"],
            registry=target,
        )
        self.bind_duration = Histogram(
            PREFIX + "bind_duration_millisecond",
            "The time of a bind request",
            buckets=BIND_BUCKETS,
            registry=target,
        )
        self.unbind_duration = Histogram(
            PREFIX + "unbind_duration_millisecond",
            "The time of an unbind request",
            buckets=BIND_BUCKETS,
            registry=target,
        )
        self.cluster_errors = Counter(
            "keb_cluster_call_errors",
            "Failed calls to KCP, Gardener or runtime clusters, by kind (404s callers expect included)",
            ["kind"],
            registry=target,
        )
        self.job_runs = Counter(
            "keb_job_runs",
            "Runs of the landscape jobs in this process (dry runs not counted), by job",
            ["job"],
            registry=target,
        )
        self.job_instances = Counter(
            "keb_job_instances",
            "Instances the landscape jobs acted on or could not handle, by job and outcome",
            ["job", "outcome"],
            registry=target,
        )
        for job in JobName:  # exposed from the start, so a rate() has a zero to start from
            self.job_runs.labels(job.value)
            for outcome in ("acted", "failed"):
                self.job_instances.labels(job.value, outcome)
        self.workers_in_use = Gauge(
            PREFIX + "queue_workers_in_use",
            "Number of queue workers currently processing items",
            ["queue_name"],
            multiprocess_mode="livesum",
            registry=target,
        )

    # --- recording ---------------------------------------------------------------------------------

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_duration.labels(method, route).observe(seconds)

    def cluster_error(self, kind: str) -> None:
        self.cluster_errors.labels(kind).inc()

    def job_ran(self, report: JobReport) -> None:
        """A landscape job finished a run; a dry run changed nothing and is not counted."""
        if report.dry_run:
            return
        job = report.job.value
        self.job_runs.labels(job).inc()
        self.job_instances.labels(job, "acted").inc(len(report.acted))
        self.job_instances.labels(job, "failed").inc(len(report.failed))

    def busy_workers(self, count: int) -> None:
        self.workers_in_use.labels(QUEUE_NAME).set(count)

    def bound(self, plan_id: str, milliseconds: float, created: bool) -> None:
        self.bind_duration.observe(milliseconds)
        if created:
            self.binding_created.labels(plan_id).inc()

    def unbound(self, milliseconds: float) -> None:
        self.unbind_duration.observe(milliseconds)

    def operation_state(self, operation: Operation) -> None:
        """``operation_result``: the operation's current state is 1, the state it left 0."""
        labels = (
            operation.id,
            operation.instance_id,
            operation.runtime_id,
            operation.plan_id,
            TYPE_NAMES[operation.type],
            STATE_NAMES[operation.state],
            operation.description if operation.state is OperationState.FAILED else "",
        )
        previous = self._results.pop(operation.id, None)
        if previous is not None and previous != labels:
            self.result.labels(*previous).set(0)
            if not self.multiprocess:
                self.result.remove(*previous)
        self.result.labels(*labels).set(1)
        self._results[operation.id] = labels
        while len(self._results) > RESULTS_KEPT:
            _, oldest = self._results.popitem(last=False)
            if not self.multiprocess:
                self.result.remove(*oldest)

    # --- the OperationObserver port ------------------------------------------------------------------

    def accepted(self, operation: Operation, why: str) -> None:
        self.operation_state(operation)

    def resumed(self, operation: Operation) -> None:
        self.operation_state(operation)

    def stage_finished(self, operation: Operation, stage: str, seconds: float) -> None:
        self.step_duration[operation.type].labels(operation.plan_id, stage).observe(seconds)

    def stage_retried(self, operation: Operation, stage: str, error: str, attempt: int) -> None:
        self.retries.labels(TYPE_NAMES[operation.type], stage).inc()

    def finished(self, operation: Operation) -> None:
        self.finished_counters[operation.type, operation.state].labels(operation.plan_id).inc()
        self.operation_state(operation)
        histogram = self.operation_duration.get(operation.type)
        if histogram is not None and operation.state is OperationState.SUCCEEDED and not operation.temporary:
            histogram.labels(operation.plan_id).observe(
                (operation.updated_at - operation.created_at).total_seconds() / 60
            )

    # --- exposition ----------------------------------------------------------------------------------

    def render(self, stats: BrokerStatistics | None, now: datetime, pool: PoolStatus | None = None) -> bytes:
        """The text exposition of all metrics, state metrics from ``stats`` (None: not available)."""
        scrape = CollectorRegistry()
        scrape.register(_Snapshot(stats, now, pool))
        return generate_latest(self._registry) + generate_latest(scrape)


def metric_names(text: str) -> set[str]:
    """The metric family names in an exposition (for tests and checks)."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
    return names


def samples(text: str) -> Mapping[str, float]:
    """``name{labels}`` -> value for every sample line of an exposition."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found
