"""A simulator of KIM (infrastructure-manager) reacting to Runtime CRs in the landscape's KCP cluster.

Real KIM turns a Runtime CR (kubernetes-wire §1.5) into a Gardener Shoot, waits for it, and writes the
runtime's admin kubeconfig to Secret ``kcp-system/kubeconfig-{runtime}`` (§1.6). The simulator does the
same against the API double: the Shoot goes to the garden cluster, a fresh in-memory cluster stands in for
the runtime (SKR), and the kubeconfig comes from the Shoot's ``adminkubeconfig`` subresource, so it uses a
client certificate as production kubeconfigs do. Status changes go through the status rules, finalizer
and deletion are honoured, and time is an injected clock so tests drive it with :meth:`KimSimulator.step`.
"""

from __future__ import annotations

import base64
import calendar
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import attrs
import yaml

from keb_app.landscape._errors import ApiError
from keb_app.landscape._store import rfc3339
from keb_app.landscape.apiserver import KubeApiServer
from keb_app.landscape.cluster import FakeCluster

JsonObject = dict[str, Any]

_log = logging.getLogger(__name__)

RUNTIMES = "runtimes.infrastructuremanager.kyma-project.io"
SHOOTS = "shoots.core.gardener.cloud"
#: KIM's finalizer on Runtime CRs (infrastructure-manager api/v1/runtime_types.go).
FINALIZER = "runtime-controller.infrastructure-manager.kyma-project.io/deletion-hook"
#: KIM's annotation with the time the kubeconfig Secret was last written (gardener_cluster_controller.go).
LAST_SYNC_ANNOTATION = "operator.kyma-project.io/last-sync"
SKR_NAMESPACES = ("default", "kube-system", "kyma-system")
#: Lifetime KIM asks Gardener for; Gardener caps admin kubeconfigs at 24h anyway.
KUBECONFIG_EXPIRATION_SECONDS = 24 * 60 * 60
#: KIM rotates once this share of the lifetime has passed.
ROTATION_RATIO = 0.6


@attrs.define
class _Progress:
    generation: int
    since: float


def skr_cluster_name(runtime_name: str) -> str:
    """The landscape cluster standing in for a runtime's SKR."""
    return f"skr-{runtime_name}"[:63].rstrip("-")


class KimSimulator:
    """Reconciles Runtime CRs of ``namespace`` in cluster ``kcp`` like KIM, with a fake Gardener.

    Args:
        server: the landscape hosting the KCP and garden clusters.
        ready_after: seconds (of ``clock``) a Runtime stays ``Pending`` after a create or update.
        delete_after: seconds between seeing ``deletionTimestamp`` and removing the finalizer.
        clock: monotonic seconds; tests inject a fake and call :meth:`step`.
        fail_when: returns a failure message for a Runtime that should end ``Failed`` instead of
            ``Ready`` (evaluated when it would turn Ready), else None.
        interval: seconds between background reconciliations (:meth:`start`).
        resync: seconds (of ``clock``) after which a settled Runtime is reconciled again though it did
            not change (kubeconfig rotation, a Shoot or Secret someone removed), as a controller's
            periodic resync does.

    Like the real, watch-driven KIM, a pass reconciles only the Runtimes that changed since their last
    reconciliation (their ``resourceVersion`` moved) or that have something due: the end of their
    ``ready_after`` or ``delete_after`` wait, or their resync. A pass therefore costs what changed, not
    what exists, however many settled Runtimes the landscape holds.
    """

    def __init__(
        self,
        server: KubeApiServer,
        *,
        kcp: str = "kcp",
        garden: str = "garden",
        project: str = "kyma-dev",
        namespace: str = "kcp-system",
        ready_after: float = 3.0,
        delete_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        fail_when: Callable[[JsonObject], str | None] | None = None,
        interval: float = 0.2,
        resync: float = 60.0,
    ) -> None:
        self._server = server
        self.kcp = kcp
        self.garden = garden
        self.project = project
        self.namespace = namespace
        self.ready_after = ready_after
        self.delete_after = delete_after
        self._clock = clock
        self.fail_when = fail_when
        self._interval = interval
        self.resync = resync
        # name -> (resourceVersion when last reconciled, clock time it is due again regardless)
        self._watched: dict[str, tuple[str, float]] = {}
        self._lock = threading.RLock()
        self._progress: dict[str, _Progress] = {}
        self._deleting: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"KimSimulator(kcp={self.kcp!r}, garden={self.garden!r}, project={self.project!r})"

    @property
    def garden_namespace(self) -> str:
        return f"garden-{self.project}"

    # --- background thread -------------------------------------------------------------------------

    def start(self) -> KimSimulator:
        """Reconcile every ``interval`` seconds in a background thread until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError("the KIM simulator is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="keb-landscape-kim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> KimSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # a controller keeps reconciling whatever one pass hit
                _log.exception("KIM simulator reconciliation failed")
            self._stop.wait(self._interval)

    # --- reconciliation ----------------------------------------------------------------------------

    def step(self) -> None:
        """Reconcile every Runtime once, at the current time of the injected clock."""
        with self._lock:
            kcp = self._server.find_cluster(self.kcp)
            garden = self._server.find_cluster(self.garden)
            if kcp is None or garden is None:
                return
            now = self._clock()
            versions = kcp.resource_versions(RUNTIMES, self.namespace)
            for name, version in versions.items():
                watched = self._watched.get(name)
                if watched is not None and watched[0] == version and now < watched[1]:
                    continue  # unchanged and nothing due: a settled or waiting Runtime costs nothing
                runtime = kcp.get(RUNTIMES, name, self.namespace)
                if runtime is None:
                    continue
                try:
                    due = self._reconcile(kcp, garden, runtime, now)
                except ApiError as error:  # e.g. a concurrent write; the next pass retries
                    self._watched.pop(name, None)
                    _log.warning("KIM simulator: runtime %s: %s", name, error.message)
                    continue
                # The version seen before reconciling: the simulator's own writes move it, so the
                # next pass looks once more and finds nothing to do, and no concurrent change is missed.
                self._watched[name] = (version, due)
            for table in (self._progress, self._deleting, self._watched):
                for name in set(table) - versions.keys():
                    del table[name]

    def fail(self, runtime_name: str, message: str) -> None:
        """Turn a Runtime ``Failed`` now, with a condition carrying ``message``; an update retries it."""
        with self._lock:
            kcp = self._server.cluster(self.kcp)
            runtime = kcp.get(RUNTIMES, runtime_name, self.namespace)
            if runtime is None:
                raise KeyError(runtime_name)
            self._progress.pop(runtime_name, None)
            self._watched.pop(runtime_name, None)
            self._set_failed(kcp, runtime, message)

    def _reconcile(self, kcp: FakeCluster, garden: FakeCluster, runtime: JsonObject, now: float) -> float:
        """Bring one Runtime a step further; returns the clock time it is due again if it does not change."""
        meta = runtime["metadata"]
        name = meta["name"]
        if meta.get("deletionTimestamp"):
            return self._reconcile_deletion(kcp, garden, runtime, now)
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            runtime = kcp.patch(
                RUNTIMES, name, {"metadata": {"finalizers": [*finalizers, FINALIZER]}}, self.namespace
            )
        self._ensure_infrastructure(kcp, garden, runtime)
        generation = int(runtime["metadata"].get("generation", 1))
        status = runtime.get("status") or {}
        if status.get("observedGeneration") == generation and status.get("state") in ("Ready", "Failed"):
            self._progress.pop(name, None)
            return now + self.resync
        progress = self._progress.get(name)
        if progress is None or progress.generation != generation:
            progress = self._progress[name] = _Progress(generation, now)
            if status.get("state") != "Pending":
                self._set_pending(kcp, runtime)
            return progress.since + self.ready_after
        if now - progress.since < self.ready_after:
            return progress.since + self.ready_after
        del self._progress[name]
        message = self.fail_when(runtime) if self.fail_when is not None else None
        if message:
            self._set_failed(kcp, runtime, message)
        else:
            self._set_ready(kcp, runtime)
        return now + self.resync

    # --- status ------------------------------------------------------------------------------------

    def _condition(self, kind: str, status: str, reason: str, message: str) -> JsonObject:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": rfc3339(self._server.now()),
        }

    def _write_status(self, kcp: FakeCluster, runtime: JsonObject, status: JsonObject) -> None:
        kcp.set_status(RUNTIMES, runtime["metadata"]["name"], status, self.namespace)

    def _set_pending(self, kcp: FakeCluster, runtime: JsonObject) -> None:
        old = runtime.get("status") or {}
        updating = bool(old.get("provisioningCompleted"))
        status: JsonObject = {
            "state": "Pending",
            "provisioningCompleted": updating,
            "conditions": [
                self._condition(
                    "Provisioned",
                    "Unknown",
                    "Processing",
                    "Shoot update is in progress" if updating else "Shoot creation is in progress",
                )
            ],
        }
        if "observedGeneration" in old:
            status["observedGeneration"] = old["observedGeneration"]
        self._write_status(kcp, runtime, status)

    def _set_ready(self, kcp: FakeCluster, runtime: JsonObject) -> None:
        generation = int(runtime["metadata"].get("generation", 1))
        self._write_status(
            kcp,
            runtime,
            {
                "state": "Ready",
                "provisioningCompleted": True,
                "observedGeneration": generation,
                "conditions": [
                    self._condition("Provisioned", "True", "ShootCreationCompleted", "Shoot is ready"),
                    self._condition(
                        "KubeconfigReady", "True", "GardenerClusterCRReady", "Kubeconfig is ready"
                    ),
                    self._condition("Ready", "True", "ConfigurationCompleted", "Runtime is ready"),
                ],
            },
        )

    def _set_failed(self, kcp: FakeCluster, runtime: JsonObject, message: str) -> None:
        old = runtime.get("status") or {}
        self._write_status(
            kcp,
            runtime,
            {
                "state": "Failed",
                "provisioningCompleted": bool(old.get("provisioningCompleted")),
                "observedGeneration": int(runtime["metadata"].get("generation", 1)),
                "conditions": [self._condition("Provisioned", "False", "GardenerErr", message)],
            },
        )

    # --- infrastructure ----------------------------------------------------------------------------

    def _shoot_spec(self, runtime: JsonObject) -> JsonObject:
        shoot = runtime.get("spec", {}).get("shoot", {})
        networking = shoot.get("networking") or {}
        spec: JsonObject = {
            "purpose": shoot.get("purpose"),
            "region": shoot.get("region"),
            "secretBindingName": shoot.get("secretBindingName"),
            "provider": shoot.get("provider") or {},
            "networking": {
                "type": networking.get("type", "calico"),
                "nodes": networking.get("nodes"),
                "pods": networking.get("pods"),
                "services": networking.get("services"),
            },
            "kubernetes": {"version": (shoot.get("kubernetes") or {}).get("version")},
        }
        if shoot.get("controlPlane"):
            spec["controlPlane"] = shoot["controlPlane"]
        return spec

    def _ensure_infrastructure(self, kcp: FakeCluster, garden: FakeCluster, runtime: JsonObject) -> None:
        """Shoot, SKR cluster and kubeconfig Secret exist and follow the Runtime (idempotent)."""
        name = runtime["metadata"]["name"]
        shoot_name = runtime["spec"]["shoot"]["name"]
        labels = {
            k: v for k, v in (runtime["metadata"].get("labels") or {}).items() if "kyma-project.io/" in k
        }
        skr = skr_cluster_name(name)
        if self._server.find_cluster(skr) is None:
            self._server.add_cluster(skr, namespaces=SKR_NAMESPACES)
        garden.ensure_namespace(self.garden_namespace)
        shoot = garden.get(SHOOTS, shoot_name, self.garden_namespace)
        spec = self._shoot_spec(runtime)
        if shoot is None:
            garden.create(
                SHOOTS,
                {
                    "apiVersion": "core.gardener.cloud/v1beta1",
                    "kind": "Shoot",
                    "metadata": {"name": shoot_name, "namespace": self.garden_namespace, "labels": labels},
                    "spec": spec,
                },
            )
            garden.set_status(
                SHOOTS,
                shoot_name,
                {
                    "technicalID": f"shoot--{self.project}--{shoot_name}",
                    "advertisedAddresses": [{"name": "external", "url": self._server.cluster_url(skr)}],
                    "lastOperation": {
                        "type": "Create",
                        "state": "Succeeded",
                        "progress": 100,
                        "lastUpdateTime": rfc3339(self._server.now()),
                    },
                },
                self.garden_namespace,
            )
        elif shoot.get("spec") != spec:
            garden.patch(SHOOTS, shoot_name, {"spec": spec}, self.garden_namespace)
        self._ensure_kubeconfig_secret(kcp, garden, runtime, shoot_name, labels)

    def _ensure_kubeconfig_secret(
        self, kcp: FakeCluster, garden: FakeCluster, runtime: JsonObject, shoot_name: str, labels: JsonObject
    ) -> None:
        name = runtime["metadata"]["name"]
        secret_name = f"kubeconfig-{name}"
        existing = kcp.get("secrets", secret_name, self.namespace)
        now = self._server.now()
        if existing is not None:
            last_sync = (existing["metadata"].get("annotations") or {}).get(LAST_SYNC_ANNOTATION, "")
            if last_sync and now - _parse_time(last_sync) < ROTATION_RATIO * KUBECONFIG_EXPIRATION_SECONDS:
                return
        # As KIM does: ask Gardener for the Shoot's admin kubeconfig and store the decoded document.
        request = garden.create_subresource(
            SHOOTS,
            shoot_name,
            "adminkubeconfig",
            {
                "apiVersion": "authentication.gardener.cloud/v1alpha1",
                "kind": "AdminKubeconfigRequest",
                "spec": {"expirationSeconds": KUBECONFIG_EXPIRATION_SECONDS},
            },
            self.garden_namespace,
        )
        kubeconfig = base64.b64decode(request["status"]["kubeconfig"])
        secret: JsonObject = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": secret_name,
                "namespace": self.namespace,
                "labels": {
                    **labels,
                    "operator.kyma-project.io/managed-by": "infrastructure-manager",
                    "operator.kyma-project.io/cluster-name": name,
                },
                "annotations": {LAST_SYNC_ANNOTATION: rfc3339(now)},
            },
            "type": "Opaque",
            "data": {"config": base64.b64encode(kubeconfig).decode("ascii")},
        }
        if existing is None:
            kcp.create("secrets", secret)
        else:
            secret["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            kcp.replace("secrets", secret)

    def _reconcile_deletion(
        self, kcp: FakeCluster, garden: FakeCluster, runtime: JsonObject, now: float
    ) -> float:
        name = runtime["metadata"]["name"]
        if FINALIZER not in (runtime["metadata"].get("finalizers") or []):
            return now + self.resync  # someone else's finalizer holds it
        if name not in self._deleting:
            self._deleting[name] = now
            self._progress.pop(name, None)
            self._write_status(
                kcp,
                runtime,
                {
                    **(runtime.get("status") or {}),
                    "state": "Terminating",
                    "conditions": [
                        self._condition(
                            "Deprovisioned", "Unknown", "Processing", "Shoot deletion is in progress"
                        )
                    ],
                },
            )
            shoot_name = runtime.get("spec", {}).get("shoot", {}).get("name")
            if shoot_name and garden.get(SHOOTS, shoot_name, self.garden_namespace) is not None:
                garden.delete(SHOOTS, shoot_name, self.garden_namespace)
            self._server.remove_cluster(skr_cluster_name(name))
            if kcp.get("secrets", f"kubeconfig-{name}", self.namespace) is not None:
                kcp.delete("secrets", f"kubeconfig-{name}", self.namespace)
            return now + self.delete_after
        if now - self._deleting[name] >= self.delete_after:
            del self._deleting[name]
            kcp.remove_finalizers(RUNTIMES, name, self.namespace, [FINALIZER])
            return now + self.resync
        return self._deleting[name] + self.delete_after


def _parse_time(text: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return 0.0


def decode_kubeconfig_secret(secret: JsonObject) -> JsonObject:
    """The kubeconfig document in a ``kubeconfig-{runtime}`` Secret (key ``config``, base64 in JSON)."""
    document = yaml.safe_load(base64.b64decode(secret["data"]["config"]))
    if not isinstance(document, dict):
        raise ValueError("the Secret does not hold a kubeconfig document")
    return document
