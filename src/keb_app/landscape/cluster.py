"""One in-memory Kubernetes cluster: the facade over its store, authentication, routing and test hooks.

A :class:`FakeCluster` answers already-parsed HTTP requests (:meth:`FakeCluster.handle`) with the status
codes, bodies and metadata rules of kube-apiserver that the broker depends on (kubernetes-wire §1.1 and
§4.3). The HTTPS transport lives in :mod:`keb_app.landscape.apiserver`; KIM and tests use the Python
methods, which go through the same rules without authentication. The work is done by:

* :mod:`._store`: objects, resourceVersions, finalizers, namespace lifecycle, snapshots;
* :mod:`._objects` and :mod:`._validation`: the write verbs, defaulting and validation;
* :mod:`._auth` and :mod:`._rbac`: credentials, service-account tokens, authorization;
* :mod:`._routing`, :mod:`._discovery` and :mod:`._subresources`: from a request to an answer;
* :mod:`._faults`: injected failures and the request log.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from keb_app.landscape._auth import Authenticator
from keb_app.landscape._errors import ApiError
from keb_app.landscape._faults import Fault, FaultAction, Faults, RequestLog, RequestRecord
from keb_app.landscape._objects import ObjectWrites
from keb_app.landscape._patch import MERGE_PATCH
from keb_app.landscape._pki import TokenSigner
from keb_app.landscape._resources import ResourceRegistry, ResourceType
from keb_app.landscape._routing import ApiRequest, ApiResponse, Router
from keb_app.landscape._store import ObjectStore
from keb_app.landscape._subresources import KubeconfigIssuer, Subresources

JsonObject = dict[str, Any]

#: Who the Python hooks act as when they post to a subresource.
_LANDSCAPE_USER = "keb-landscape"


class ClusterHost(KubeconfigIssuer, Protocol):
    """What a cluster needs from the server hosting it."""

    def cluster_changed(self, cluster: FakeCluster) -> None:
        """Persist the cluster after a write (no-op without a state directory)."""


class FakeCluster:
    """A thread-safe, stateful stand-in for one cluster's kube-apiserver.

    Create clusters with :meth:`KubeApiServer.add_cluster`. The Python methods (``get``, ``put``,
    ``create``, ``set_status``...) are test and controller hooks that bypass authentication but obey the
    same metadata rules as HTTP requests; they take and return copies.
    """

    def __init__(
        self,
        name: str,
        *,
        registry: ResourceRegistry,
        host: ClusterHost,
        clock: Callable[[], float],
        admin_token: str | None = None,
        signer: TokenSigner | None = None,
        request_log_size: int = 10_000,
    ) -> None:
        self.name = name
        self.registry = registry
        self._host = host
        self._lock = threading.RLock()
        self._store = ObjectStore(registry, clock)
        self._auth = Authenticator(name, self._store, clock, admin_token=admin_token, signer=signer)
        self._writes = ObjectWrites(self._store)
        self._subresources = Subresources(self._store, self._auth, host, clock)
        self._router = Router(self._store, self._writes, self._subresources, clock)
        self._faults = Faults()
        self._requests = RequestLog(request_log_size)

    def __repr__(self) -> str:
        return f"FakeCluster(name={self.name!r})"

    # --- persistence -------------------------------------------------------------------------------

    @property
    def admin_token(self) -> str:
        """The bearer token with full access to this cluster (kept out of ``repr``)."""
        return self._auth.admin_token

    def snapshot(self) -> JsonObject:
        """Everything needed to rebuild this cluster: objects, resource version and its keys."""
        with self._lock:
            key = self._auth.signing_key_pem
            return {
                "name": self.name,
                "resourceVersion": self._store.resource_version,
                "adminToken": self._auth.admin_token,
                "serviceAccountKey": key.decode("ascii") if key is not None else None,
                "objects": self._store.snapshot(),
            }

    @classmethod
    def from_snapshot(
        cls,
        snapshot: Mapping[str, Any],
        *,
        registry: ResourceRegistry,
        host: ClusterHost,
        clock: Callable[[], float],
    ) -> FakeCluster:
        """Rebuild a cluster written by :meth:`snapshot`; objects of unknown resources are dropped."""
        key = snapshot.get("serviceAccountKey")
        cluster = cls(
            str(snapshot["name"]),
            registry=registry,
            host=host,
            clock=clock,
            admin_token=str(snapshot["adminToken"]),
            signer=TokenSigner.from_pem(str(key).encode("ascii")) if key else None,
        )
        cluster._store.load(snapshot.get("objects", []), int(snapshot.get("resourceVersion", 0)))
        return cluster

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            finally:
                if self._store.changed:
                    self._store.changed = False
                    self._host.cluster_changed(self)

    # --- HTTP ---------------------------------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request; errors become ``metav1.Status`` bodies."""
        with self._transaction():
            try:
                identity = self._auth.authenticate(request.credentials)
                status, body = self._router.answer(request, identity)
            except ApiError as error:
                status, body = error.code, error.to_status()
            # Encoded with the lock held: the body may hold the stored objects themselves.
            response = ApiResponse(status, json.dumps(body).encode("utf-8"))
        query = "&".join(f"{k}={v}" for k, v in request.query.items())
        self.record(request.method, request.path, response.status, query)
        return response

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first injected fault matching this request, consuming one of its uses."""
        return self._faults.take(method, path)

    def record(self, method: str, path: str, status: int, query: str = "") -> None:
        """Append to the request log (the HTTP layer records faults it answers itself)."""
        self._requests.record(method, path, status, query)

    # --- Python API: hooks for tests and in-process controllers --------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests served so far, oldest first."""
        return self._requests.records()

    def clear_requests(self) -> None:
        self._requests.clear()

    def inject_fault(
        self,
        method: str,
        path_regex: str,
        status: FaultAction = 503,
        times: int | None = 1,
        *,
        delay: float = 30.0,
    ) -> None:
        """Fail matching requests: an HTTP status, ``"timeout"`` (answer nothing for ``delay`` seconds,
        then close) or ``"drop"`` (close the connection at once); ``times=None`` means every time.

        ``path_regex`` is searched in the path relative to the cluster URL (``/api/v1/namespaces/...``).
        """
        self._faults.inject(method, path_regex, status, times, delay)

    def clear_faults(self) -> None:
        self._faults.clear()

    def _resource(self, resource: str | ResourceType) -> ResourceType:
        return resource if isinstance(resource, ResourceType) else self.registry.resolve(resource)

    def get(self, resource: str, name: str, namespace: str | None = None) -> JsonObject | None:
        """A copy of the stored object, or None."""
        with self._lock:
            stored = self._store.stored(self._resource(resource), namespace or "", name)
            return copy.deepcopy(stored) if stored is not None else None

    def list(
        self, resource: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[JsonObject]:
        """Copies of the stored objects, optionally in one namespace and matching a label selector."""
        with self._lock:
            selected = self._store.select(self._resource(resource), namespace or "", label_selector)
            return copy.deepcopy(selected)

    def resource_versions(self, resource: str, namespace: str | None = None) -> dict[str, str]:
        """Name -> ``resourceVersion`` of the objects of one type in one namespace, copying no object.

        What a controller's watch tells it: which objects changed since it last looked.
        """
        with self._lock:
            return self._store.resource_versions(self._resource(resource), namespace or "")

    def put(self, resource: str, obj: JsonObject) -> JsonObject:
        """Seed an object as given (status included), creating or overwriting it; metadata is filled.

        Raises:
            ApiError: the namespace does not exist or the object is invalid.
        """
        with self._transaction():
            return copy.deepcopy(self._writes.put(self._resource(resource), obj))

    def create(self, resource: str, obj: JsonObject, namespace: str | None = None) -> JsonObject:
        """Create as a POST would (status dropped for status-subresource kinds)."""
        ns = namespace or str((obj.get("metadata") or {}).get("namespace") or "")
        with self._transaction():
            return copy.deepcopy(self._writes.create(self._resource(resource), ns, obj))

    def replace(self, resource: str, obj: JsonObject) -> JsonObject:
        """Replace as a PUT would (resourceVersion checked when set, status kept for status kinds)."""
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        with self._transaction():
            return copy.deepcopy(self._writes.update(self._resource(resource), namespace, name, obj))

    def patch(self, resource: str, name: str, patch: JsonObject, namespace: str | None = None) -> JsonObject:
        """Apply a JSON merge patch to the main resource."""
        with self._transaction():
            rt = self._resource(resource)
            return copy.deepcopy(self._writes.patch(rt, namespace or "", name, MERGE_PATCH, patch))

    def delete(self, resource: str, name: str, namespace: str | None = None) -> JsonObject | None:
        """Delete as a DELETE would: the object while finalizers hold it, None once it is gone."""
        with self._transaction():
            obj, gone = self._store.delete(self._resource(resource), namespace or "", name, {})
            return None if gone else copy.deepcopy(obj)

    def set_status(
        self, resource: str, name: str, status: JsonObject, namespace: str | None = None
    ) -> JsonObject:
        """Replace ``.status`` through the status rules (what ``PUT .../status`` does)."""
        with self._transaction():
            rt = self._resource(resource)
            return copy.deepcopy(self._writes.set_status(rt, namespace or "", name, status))

    def remove_finalizers(
        self,
        resource: str,
        name: str,
        namespace: str | None = None,
        finalizers: Iterable[str] | None = None,
    ) -> JsonObject | None:
        """Drop the given finalizers (all when None); returns None when that lets the object go."""
        with self._transaction():
            rt = self._resource(resource)
            return copy.deepcopy(self._writes.remove_finalizers(rt, namespace or "", name, finalizers))

    def create_subresource(
        self, resource: str, name: str, subresource: str, body: JsonObject, namespace: str | None = None
    ) -> JsonObject:
        """POST to a subresource (``token``, ``adminkubeconfig``) as an in-process controller would."""
        self._resource(resource)  # an unknown resource is a KeyError, as for the other hooks
        with self._transaction():
            return self._subresources.create(subresource, namespace or "", name, body, _LANDSCAPE_USER)

    def ensure_namespace(self, name: str) -> JsonObject:
        """The namespace, created when missing."""
        with self._transaction():
            namespaces = self.registry.resolve("namespaces")
            existing = self._store.stored(namespaces, "", name)
            if existing is None:
                existing = self._writes.create(namespaces, "", {"metadata": {"name": name}})
            return copy.deepcopy(existing)
