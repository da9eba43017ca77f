"""One in-memory Kubernetes cluster: object store, API semantics, auth, subresources and test hooks.

A :class:`FakeCluster` answers already-parsed HTTP requests (:meth:`FakeCluster.handle`) with the status
codes, bodies and metadata rules of kube-apiserver that the broker depends on (kubernetes-wire §1.1 and
§4.3). The HTTPS transport lives in :mod:`keb_app.landscape.apiserver`; KIM and tests use the Python
methods, which go through the same rules without authentication.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, Protocol
from urllib.parse import unquote

import attrs
import yaml

from keb_app.landscape import _discovery
from keb_app.landscape._errors import (
    STALE_OBJECT,
    ApiError,
    FieldError,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    invalid,
    method_not_allowed,
    not_found,
    unauthorized,
    unknown_resource,
    unsupported_media_type,
)
from keb_app.landscape._patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    json_patch,
    merge_patch,
)
from keb_app.landscape._pki import InvalidTokenError, TokenSigner, new_bearer_token
from keb_app.landscape._rbac import Identity, ResourceAttributes, authorize, service_account_identity
from keb_app.landscape._resources import ResourceRegistry, ResourceType
from keb_app.landscape._selectors import parse_field_selector, parse_label_selector

JsonObject = dict[str, Any]

#: ``--service-account-issuer`` and the default ``--api-audiences`` of a kube-apiserver.
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCE = SERVICE_ACCOUNT_ISSUER

#: Metadata only the server writes; client values are ignored (create) or replaced by the stored ones.
_SERVER_OWNED_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SUBDOMAIN_HELP = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_HELP = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
# Gardener accepts these advertised-address names as kube-apiserver endpoints (kubeconfig.go).
_KUBE_APISERVER_ADDRESSES = ("external", "internal", "wildcard-tls-seed-bound", "unmanaged")
_ADMIN_KUBECONFIG_MAX_SECONDS = 24 * 60 * 60  # --shoot-admin-kubeconfig-max-expiration default
_MIN_EXPIRATION_SECONDS = 600
_GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def rfc3339(epoch: float) -> str:
    """A ``metav1.Time`` as JSON carries it: whole seconds, UTC, ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@attrs.frozen
class RequestRecord:
    """One request as the cluster saw it, for assertions in tests."""

    method: str
    path: str
    status: int
    query: str = ""


@attrs.frozen
class PresentedCertificate:
    """A verified client certificate and what the landscape recorded when issuing it."""

    cluster: str
    user: str
    groups: tuple[str, ...]
    not_before: float
    not_after: float


@attrs.frozen
class Credentials:
    """What a request authenticates with; the token never appears in ``repr``."""

    bearer_token: str | None = attrs.field(default=None, repr=False)
    certificate: PresentedCertificate | None = None


@attrs.frozen
class ApiRequest:
    """An HTTP request routed to one cluster; ``path`` is relative to the cluster's server URL."""

    method: str
    path: str
    query: Mapping[str, str] = attrs.field(factory=dict)
    content_type: str | None = None
    accept: str = "application/json"
    body: bytes = attrs.field(default=b"", repr=False)  # may carry Secret data
    credentials: Credentials = attrs.field(factory=Credentials)
    server_address: str = ""
    path_prefix: str = ""  # where the cluster is served, e.g. ``/clusters/kcp``


@attrs.frozen
class ApiResponse:
    """Status code and JSON body to send back."""

    status: int
    body: JsonObject = attrs.field(repr=False)  # may carry tokens or kubeconfigs


FaultAction = int | Literal["timeout", "drop"]


@attrs.define
class Fault:
    """A scripted failure for requests whose method and path match (see :meth:`FakeCluster.inject_fault`)."""

    method: str
    path_pattern: re.Pattern[str]
    action: FaultAction
    remaining: int | None
    delay: float

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and self.path_pattern.search(path) is not None


class ClusterHost(Protocol):
    """What a cluster needs from the server hosting it."""

    def cluster_changed(self, cluster: FakeCluster) -> None:
        """Persist the cluster after a write (no-op without a state directory)."""

    def shoot_admin_kubeconfig(
        self,
        addresses: list[tuple[str, str]],
        common_name: str,
        organizations: tuple[str, ...],
        not_before: float,
        not_after: float,
    ) -> JsonObject:
        """A client-certificate kubeconfig for the cluster behind the first ``(context name, URL)``."""
        ...


@attrs.frozen
class _Route:
    resource: ResourceType
    namespace: str  # storage namespace ("" for cluster-scoped resources and all-namespace lists)
    name: str
    subresource: str
    rbac_namespace: str


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _labels(obj: JsonObject) -> dict[str, str]:
    labels = obj.get("metadata", {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _nodes(obj: Any, path: str) -> list[Any]:
    """Every node at a dotted path, where ``x[]`` steps into each item of list ``x``."""
    nodes = [obj]
    for part in path.split(".") if path else []:
        each = part.endswith("[]")
        key = part[:-2] if each else part
        found: list[Any] = []
        for node in nodes:
            if isinstance(node, dict) and node.get(key) is not None:
                child = node[key]
                if each:
                    found.extend(child if isinstance(child, list) else [])
                else:
                    found.append(child)
        nodes = found
    return nodes


def _required_errors(required: Mapping[str, tuple[str, ...]], obj: JsonObject) -> list[FieldError]:
    errors: list[FieldError] = []
    for parent_path, keys in required.items():
        for parent in _nodes(obj, parent_path):
            if not isinstance(parent, dict):
                continue
            for key in keys:
                if parent.get(key) is None:
                    field = f"{parent_path.replace('[]', '[*]')}.{key}" if parent_path else key
                    errors.append(FieldError(field, "Required value"))
    return errors


def _requested_expiration(spec: JsonObject, *, zero_is_default: bool) -> tuple[int, list[FieldError]]:
    """``spec.expirationSeconds`` of a token or admin kubeconfig request (missing: an hour), with the
    error both APIs give below ten minutes; the caller adds its own upper bound."""
    raw = spec.get("expirationSeconds")
    expiration = 3600 if raw is None or (zero_is_default and raw == 0) else raw
    if isinstance(expiration, bool) or not isinstance(expiration, int):
        raise bad_request(f"spec.expirationSeconds: expected an integer, got {raw!r}")
    errors = []
    if expiration < _MIN_EXPIRATION_SECONDS:
        errors.append(
            FieldError(
                "spec.expirationSeconds",
                "Invalid value",
                expiration,
                "may not specify a duration less than 10 minutes",
            )
        )
    return expiration, errors


class FakeCluster:
    """A thread-safe, stateful stand-in for one cluster's kube-apiserver.

    Create clusters with :meth:`KubeApiServer.add_cluster`. The Python methods (``get``, ``put``,
    ``create``, ``set_status``...) are test and controller hooks that bypass authentication but obey the
    same metadata rules as HTTP requests.
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
        self._clock = clock
        self._admin_token = admin_token or new_bearer_token()
        # Generated on the first TokenRequest: RSA key generation is the slowest part of a new cluster.
        self._signer = signer
        self._lock = threading.RLock()
        self._objects: dict[tuple[str, str], dict[tuple[str, str], JsonObject]] = {}
        self._resource_version = 0
        self._dirty = False
        self._requests: deque[RequestRecord] = deque(maxlen=request_log_size)
        self._faults: list[Fault] = []

    def __repr__(self) -> str:
        return f"FakeCluster(name={self.name!r})"

    # --- persistence -------------------------------------------------------------------------------

    @property
    def admin_token(self) -> str:
        """The bearer token with full access to this cluster (kept out of ``repr``)."""
        return self._admin_token

    def snapshot(self) -> JsonObject:
        """Everything needed to rebuild this cluster: objects, resource version and its keys."""
        with self._lock:
            return {
                "name": self.name,
                "resourceVersion": self._resource_version,
                "adminToken": self._admin_token,
                "serviceAccountKey": self._signer.key_pem.decode("ascii") if self._signer else None,
                "objects": [copy.deepcopy(o) for bucket in self._objects.values() for o in bucket.values()],
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
        cluster = cls(
            str(snapshot["name"]),
            registry=registry,
            host=host,
            clock=clock,
            admin_token=str(snapshot["adminToken"]),
            signer=TokenSigner.from_pem(str(key).encode("ascii"))
            if (key := snapshot.get("serviceAccountKey"))
            else None,
        )
        cluster._resource_version = int(snapshot.get("resourceVersion", 0))
        for obj in snapshot.get("objects", []):
            group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
            resource = next(
                (
                    r
                    for r in registry.all()
                    if r.group == group and r.version == version and r.kind == obj.get("kind")
                ),
                None,
            )
            if resource is not None:
                meta = obj.get("metadata", {})
                cluster._bucket(resource)[(meta.get("namespace", ""), meta["name"])] = obj
        return cluster

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            finally:
                if self._dirty:
                    self._dirty = False
                    self._host.cluster_changed(self)

    # --- store primitives (lock held) ---------------------------------------------------------------

    def _bucket(self, resource: ResourceType) -> dict[tuple[str, str], JsonObject]:
        return self._objects.setdefault((resource.group, resource.plural), {})

    def _key(self, resource: ResourceType, namespace: str, name: str) -> tuple[str, str]:
        return (namespace if resource.namespaced else "", name)

    def _stored(self, resource: ResourceType, namespace: str, name: str) -> JsonObject | None:
        return self._bucket(resource).get(self._key(resource, namespace, name))

    def _next_resource_version(self) -> str:
        self._resource_version += 1
        return str(self._resource_version)

    def _now(self) -> str:
        return rfc3339(self._clock())

    def _store(self, resource: ResourceType, obj: JsonObject) -> None:
        meta = obj["metadata"]
        self._bucket(resource)[self._key(resource, meta.get("namespace", ""), meta["name"])] = obj
        self._dirty = True

    def _remove(self, resource: ResourceType, obj: JsonObject) -> None:
        meta = obj["metadata"]
        self._bucket(resource).pop(self._key(resource, meta.get("namespace", ""), meta["name"]), None)
        self._dirty = True
        if resource.namespaced:
            self._finalize_namespace(meta.get("namespace", ""))

    def _lookup(self, group: str, plural: str, namespace: str, name: str) -> JsonObject | None:
        return self._objects.get((group, plural), {}).get((namespace, name))

    def _list_raw(self, group: str, plural: str, namespace: str) -> list[JsonObject]:
        bucket = self._objects.get((group, plural), {})
        return [o for (ns, _), o in bucket.items() if ns == namespace]

    def _resource(self, resource: str | ResourceType) -> ResourceType:
        return resource if isinstance(resource, ResourceType) else self.registry.resolve(resource)

    # --- semantics shared by HTTP and Python callers ------------------------------------------------

    def _check_kind(self, resource: ResourceType, body: Any) -> JsonObject:
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request is not a {resource.kind} object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != resource.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({resource.api_version})"
            )
        if kind and kind != resource.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
            )
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise bad_request("metadata must be an object")
        return body

    def _validate_name(self, resource: ResourceType, name: str) -> None:
        problem = ""
        if resource.name_rule == "label" and (len(name) > 63 or not _DNS_LABEL.match(name)):
            problem = _LABEL_HELP if len(name) <= 63 else "must be no more than 63 characters"
        elif resource.name_rule == "subdomain" and (len(name) > 253 or not _DNS_SUBDOMAIN.match(name)):
            problem = _SUBDOMAIN_HELP if len(name) <= 253 else "must be no more than 253 characters"
        elif resource.name_rule == "path" and (name in (".", "..") or "/" in name or "%" in name):
            problem = "may not contain '/' or '%' and may not be '.' or '..'"
        if problem:
            raise invalid(
                resource.kind,
                resource.group,
                name,
                [FieldError("metadata.name", "Invalid value", name, problem)],
            )

    def _default(self, resource: ResourceType, obj: JsonObject) -> None:
        """Server-side defaulting of the built-in kinds the landscape serves."""
        if resource.group == "" and resource.plural == "secrets":
            obj.setdefault("type", "Opaque")
            data = obj.get("data") or {}
            string_data = obj.pop("stringData", None) or {}
            if not isinstance(data, dict) or not isinstance(string_data, dict):
                raise bad_request('Secret in version "v1" cannot be handled as a Secret: data must be a map')
            for key, value in data.items():
                try:
                    base64.b64decode(str(value), validate=True)
                except (binascii.Error, ValueError) as error:
                    raise bad_request(
                        'Secret in version "v1" cannot be handled as a Secret: '
                        f"illegal base64 data for key {key}"
                    ) from error
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode("ascii")
            if data:
                obj["data"] = data
        elif resource.group == "" and resource.plural == "namespaces":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])

    def _validate(self, resource: ResourceType, obj: JsonObject, *, spec: bool, status: bool) -> None:
        """CRD-style ``required`` checks on the parts a write may change."""
        errors = _required_errors(resource.required, obj) if spec else []
        if status:
            errors += _required_errors(resource.status_required, obj)
        if errors:
            raise invalid(resource.kind, resource.group, obj["metadata"]["name"], errors)

    def _spec_part(self, resource: ResourceType, obj: JsonObject) -> JsonObject:
        skipped = {"metadata", "status"} if resource.status_subresource else {"metadata"}
        return {k: v for k, v in obj.items() if k not in skipped}

    def _namespace_for_create(self, resource: ResourceType, namespace: str, name: str) -> None:
        namespace_obj = self._lookup("", "namespaces", "", namespace)
        if namespace_obj is None:
            raise not_found("namespaces", "", namespace)
        if namespace_obj["metadata"].get("deletionTimestamp"):
            raise forbidden(
                resource.plural,
                resource.group,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    def _create(
        self,
        resource: ResourceType,
        namespace: str,
        body: Any,
        *,
        dry_run: bool = False,
        keep_status: bool = False,
    ) -> JsonObject:
        obj = copy.deepcopy(self._check_kind(resource, body))
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            if not namespace:
                namespace = str(meta.get("namespace") or "")
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise ApiError(
                500,
                "InternalError",
                "Internal error occurred: resourceVersion should not be set on objects to be created",
            )
        name = str(meta.get("name") or "")
        if not name:
            prefix = meta.get("generateName")
            if not prefix:
                raise invalid(
                    resource.kind,
                    resource.group,
                    "",
                    [
                        FieldError(
                            "metadata.name", "Required value", detail="name or generateName is required"
                        )
                    ],
                )
            name = str(prefix) + "".join(secrets.choice(_GENERATE_NAME_ALPHABET) for _ in range(5))
        self._validate_name(resource, name)
        if resource.namespaced:
            self._namespace_for_create(resource, namespace, name)
        if self._stored(resource, namespace, name) is not None:
            raise already_exists(resource.plural, resource.group, name)
        for field in _SERVER_OWNED_METADATA:
            meta.pop(field, None)
        meta["name"] = name
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self._now()
        if resource.generation:
            meta["generation"] = 1
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        if resource.status_subresource and not keep_status:
            obj.pop("status", None)
        if resource.group == "" and resource.plural == "namespaces":
            obj["status"] = {"phase": "Active"}
        self._default(resource, obj)
        self._validate(resource, obj, spec=True, status=keep_status or not resource.status_subresource)
        meta["resourceVersion"] = self._next_resource_version()
        if not dry_run:
            self._store(resource, obj)
        return copy.deepcopy(obj)

    def _merge_update(
        self, resource: ResourceType, existing: JsonObject, body: JsonObject, *, status_only: bool
    ) -> JsonObject:
        """The object an update would store: server-owned metadata and, per subresource, status kept."""
        if status_only:
            new = copy.deepcopy(existing)
            if body.get("status") is not None:
                new["status"] = copy.deepcopy(body["status"])
            else:
                new.pop("status", None)
            return new
        new = copy.deepcopy(body)
        new["apiVersion"], new["kind"] = resource.api_version, resource.kind
        meta = new.setdefault("metadata", {})
        old_meta = existing["metadata"]
        for field in (*_SERVER_OWNED_METADATA, "name", "namespace"):
            if field in old_meta:
                meta[field] = copy.deepcopy(old_meta[field])
            else:
                meta.pop(field, None)
        if resource.status_subresource:
            if "status" in existing:
                new["status"] = copy.deepcopy(existing["status"])
            else:
                new.pop("status", None)
        self._default(resource, new)
        if old_meta.get("deletionTimestamp"):
            added = [f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
            if added:
                raise invalid(
                    resource.kind,
                    resource.group,
                    old_meta["name"],
                    [
                        FieldError(
                            "metadata.finalizers",
                            "Forbidden",
                            detail=f"no new finalizers can be added if the object is being deleted, "
                            f"found new finalizers {json.dumps(added)}",
                        )
                    ],
                )
        return new

    def _commit_update(
        self,
        resource: ResourceType,
        existing: JsonObject,
        new: JsonObject,
        *,
        spec: bool,
        status: bool,
        dry_run: bool = False,
    ) -> JsonObject:
        self._validate(resource, new, spec=spec, status=status)
        if new == existing:
            return copy.deepcopy(existing)  # a no-op update does not bump resourceVersion
        meta = new["metadata"]
        if resource.generation and self._spec_part(resource, new) != self._spec_part(resource, existing):
            meta["generation"] = int(meta.get("generation", 0)) + 1
        meta["resourceVersion"] = self._next_resource_version()
        if dry_run:
            return copy.deepcopy(new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(resource, new)
        else:
            self._store(resource, new)
        return copy.deepcopy(new)

    def _validation_scope(self, resource: ResourceType, status_only: bool) -> dict[str, bool]:
        if status_only:
            return {"spec": False, "status": True}
        return {"spec": True, "status": not resource.status_subresource}

    def _existing(self, resource: ResourceType, namespace: str, name: str) -> JsonObject:
        existing = self._stored(resource, namespace, name)
        if existing is None:
            raise not_found(resource.plural, resource.group, name)
        return existing

    def _check_resource_version(self, resource: ResourceType, existing: JsonObject, wanted: Any) -> None:
        if wanted and str(wanted) != existing["metadata"]["resourceVersion"]:
            raise conflict(resource.plural, resource.group, existing["metadata"]["name"], STALE_OBJECT)

    def _update(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        status_only: bool = False,
        dry_run: bool = False,
    ) -> JsonObject:
        body = self._check_kind(resource, body)
        existing = self._existing(resource, namespace, name)
        meta = body.get("metadata") or {}
        if meta.get("name") != name:
            raise bad_request(
                f"the name of the object ({meta.get('name') or ''}) "
                f"does not match the name on the URL ({name})"
            )
        if resource.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        self._check_resource_version(resource, existing, meta.get("resourceVersion"))
        new = self._merge_update(resource, existing, body, status_only=status_only)
        return self._commit_update(
            resource, existing, new, **self._validation_scope(resource, status_only), dry_run=dry_run
        )

    def _patch(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        patch: Any,
        *,
        status_only: bool = False,
        dry_run: bool = False,
    ) -> JsonObject:
        accepted = (
            [JSON_PATCH, MERGE_PATCH] if resource.custom else [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH]
        )
        if content_type not in accepted:
            # Custom resources do not support strategic merge patch, as with a real CRD.
            raise unsupported_media_type(accepted)
        existing = self._existing(resource, namespace, name)
        if content_type == JSON_PATCH:
            patched = json_patch(existing, patch)
        else:
            if not isinstance(patch, dict):
                raise bad_request("the patch body must be a JSON object")
            patched = merge_patch(existing, patch, strategic=content_type == STRATEGIC_MERGE_PATCH)
        if not isinstance(patched, dict):
            raise bad_request("the patched document is not an object")
        patched_meta = patched.setdefault("metadata", {})
        if not isinstance(patched_meta, dict):
            raise bad_request("metadata must be an object")
        self._check_resource_version(resource, existing, patched_meta.get("resourceVersion"))
        new = self._merge_update(resource, existing, patched, status_only=status_only)
        return self._commit_update(
            resource, existing, new, **self._validation_scope(resource, status_only), dry_run=dry_run
        )

    def _delete(
        self, resource: ResourceType, namespace: str, name: str, options: JsonObject, *, dry_run: bool = False
    ) -> tuple[JsonObject, bool]:
        """Delete or mark for deletion; returns the object and whether it is gone."""
        existing = self._existing(resource, namespace, name)
        meta = existing["metadata"]
        preconditions = options.get("preconditions") or {}
        if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
            raise conflict(
                resource.plural,
                resource.group,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {meta['uid']}",
            )
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != meta["resourceVersion"]
        ):
            raise conflict(
                resource.plural,
                resource.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}",
            )
        obj = copy.deepcopy(existing)
        if dry_run:
            return obj, not obj["metadata"].get("finalizers")
        if resource.group == "" and resource.plural == "namespaces":
            return self._delete_namespace(obj), False
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = self._now()
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                obj["metadata"]["resourceVersion"] = self._next_resource_version()
                self._store(resource, obj)
            return copy.deepcopy(obj), False
        obj["metadata"]["resourceVersion"] = self._next_resource_version()
        self._remove(resource, obj)
        return obj, True

    def _delete_namespace(self, namespace_obj: JsonObject) -> JsonObject:
        """Mark a namespace Terminating and delete its content; it goes once nothing is left in it."""
        meta = namespace_obj["metadata"]
        namespace = meta["name"]
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = self._now()
            meta["deletionGracePeriodSeconds"] = 0
            namespace_obj["status"] = {"phase": "Terminating"}
            meta["resourceVersion"] = self._next_resource_version()
            self._store(self.registry.resolve("namespaces"), namespace_obj)
        for resource in self.registry.all():
            if not resource.namespaced:
                continue
            for obj in list(self._list_raw(resource.group, resource.plural, namespace)):
                self._delete(resource, namespace, obj["metadata"]["name"], {})
        self._finalize_namespace(namespace)
        return copy.deepcopy(namespace_obj)

    def _finalize_namespace(self, namespace: str) -> None:
        namespace_obj = self._lookup("", "namespaces", "", namespace)
        if namespace_obj is None or not namespace_obj["metadata"].get("deletionTimestamp"):
            return
        if namespace_obj["metadata"].get("finalizers"):
            return
        for resource in self.registry.all():
            if resource.namespaced and self._list_raw(resource.group, resource.plural, namespace):
                return
        self._objects.get(("", "namespaces"), {}).pop(("", namespace), None)
        self._dirty = True

    def _list(
        self,
        resource: ResourceType,
        namespace: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[JsonObject]:
        labels_match = parse_label_selector(label_selector)
        fields_match = parse_field_selector(field_selector)
        items = [
            o
            for (ns, _), o in sorted(self._bucket(resource).items())
            if (not namespace or ns == namespace) and labels_match(_labels(o)) and fields_match(o)
        ]
        return [copy.deepcopy(o) for o in items]

    # --- subresources -------------------------------------------------------------------------------

    def _create_token(self, namespace: str, name: str, body: Any) -> JsonObject:
        """``POST serviceaccounts/{name}/token``: a TokenRequest with an RS256 JWT (kubernetes-wire §1.3)."""
        service_accounts = self.registry.resolve("serviceaccounts")
        account = self._existing(service_accounts, namespace, name)
        if not isinstance(body, dict):
            raise bad_request("the body of the request is not a TokenRequest object")
        spec = body.get("spec") or {}
        # SetDefaults_TokenRequestSpec: a missing expiration is an hour.
        expiration, errors = _requested_expiration(spec, zero_is_default=False)
        if expiration > 1 << 32:
            errors.append(
                FieldError(
                    "spec.expirationSeconds",
                    "Invalid value",
                    expiration,
                    "may not specify a duration larger than 2^32 seconds",
                )
            )
        if errors:
            # kube-apiserver reports TokenRequest validation errors with an empty name
            # (pkg/registry/core/serviceaccount/storage/token.go).
            raise invalid("TokenRequest", "authentication.k8s.io", "", errors)
        audiences = list(spec.get("audiences") or [API_AUDIENCE])
        now = int(self._clock())
        uid = account["metadata"]["uid"]
        if self._signer is None:
            self._signer = TokenSigner.generate()
            self._dirty = True  # the key must be persisted, or tokens die with a restart
        token = self._signer.sign(
            {
                "aud": audiences,
                "exp": now + expiration,
                "iat": now,
                "nbf": now,
                "iss": SERVICE_ACCOUNT_ISSUER,
                "jti": str(uuid.uuid4()),
                "sub": f"system:serviceaccount:{namespace}:{name}",
                "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
            }
        )
        metadata = dict(body.get("metadata") or {})
        metadata.update({"name": name, "namespace": namespace, "uid": uid, "creationTimestamp": rfc3339(now)})
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": metadata,
            "spec": {
                "audiences": audiences,
                "expirationSeconds": expiration,
                "boundObjectRef": spec.get("boundObjectRef"),
            },
            "status": {"token": token, "expirationTimestamp": rfc3339(now + expiration)},
        }

    def _create_admin_kubeconfig(self, namespace: str, name: str, body: Any, user: str) -> JsonObject:
        """``POST shoots/{name}/adminkubeconfig`` as Gardener answers it (kubernetes-wire §1.2)."""
        if not isinstance(body, dict):
            raise bad_request("the body of the request is not an AdminKubeconfigRequest object")
        spec = body.get("spec") or {}
        # Gardener defaults a missing or zero expiration to one hour (defaults_adminkubeconfigrequest.go).
        expiration, errors = _requested_expiration(spec, zero_is_default=True)
        if expiration > 0xFFFFFFFF:
            errors.append(
                FieldError("spec.expirationSeconds", "Too long", detail="must have at most 4294967295 bytes")
            )
        if errors:
            raise invalid("AdminKubeconfigRequest", "authentication.gardener.cloud", "", errors)
        shoot = self._existing(self.registry.resolve("shoots.core.gardener.cloud"), namespace, name)
        advertised = (shoot.get("status") or {}).get("advertisedAddresses") or []
        addresses = [
            a
            for a in advertised
            if isinstance(a, dict) and a.get("name") in _KUBE_APISERVER_ADDRESSES and a.get("url")
        ]
        if not addresses:
            raise invalid(
                "AdminKubeconfigRequest",
                "authentication.gardener.cloud",
                name,
                [
                    FieldError(
                        "status.status",
                        "Invalid value",
                        json.dumps(advertised),
                        "no suitable advertised address for kube-apiserver found in "
                        ".status.advertisedAddresses",
                    )
                ],
            )
        expiration = min(expiration, _ADMIN_KUBECONFIG_MAX_SECONDS)
        now = int(self._clock())
        kubeconfig = self._host.shoot_admin_kubeconfig(
            [(f"{namespace}--{name}-{a['name']}", str(a["url"])) for a in addresses],
            common_name=f"gardener.cloud:admin:{user}",
            organizations=("gardener.cloud:system:admins",),
            not_before=now,
            not_after=now + expiration,
        )
        document = yaml.safe_dump(kubeconfig, default_flow_style=False, sort_keys=False)
        return {
            "kind": "AdminKubeconfigRequest",
            "apiVersion": "authentication.gardener.cloud/v1alpha1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {"expirationSeconds": expiration},
            "status": {
                "kubeconfig": base64.b64encode(document.encode()).decode("ascii"),
                "expirationTimestamp": rfc3339(now + expiration),
            },
        }

    def _create_subresource(self, route: _Route, body: Any, identity: Identity) -> JsonObject:
        if route.subresource == "token":
            return self._create_token(route.namespace, route.name, body)
        if route.subresource == "adminkubeconfig":
            return self._create_admin_kubeconfig(route.namespace, route.name, body, identity.user)
        raise method_not_allowed()

    # --- authentication -----------------------------------------------------------------------------

    def authenticate(self, credentials: Credentials) -> Identity:
        """Who is calling: a certificate issued for this cluster, the admin token, or a live SA token.

        Raises:
            ApiError: 401 when no credential is accepted (like kube-apiserver's union authenticator).
        """
        now = self._clock()
        cert = credentials.certificate
        if cert is not None and cert.cluster == self.name and cert.not_before <= now < cert.not_after:
            return Identity(user=cert.user, groups=(*cert.groups, "system:authenticated"), admin=True)
        token = credentials.bearer_token
        if token:
            if hmac.compare_digest(token.encode(), self._admin_token.encode()):
                return Identity(
                    user="kubernetes-admin", groups=("system:masters", "system:authenticated"), admin=True
                )
            identity = self._service_account(token, now)
            if identity is not None:
                return identity
        raise unauthorized()

    def _service_account(self, token: str, now: float) -> Identity | None:
        try:
            if self._signer is None:
                return None  # no token was ever issued here
            claims = self._signer.verify(token)
        except InvalidTokenError:
            return None
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int | float) or now >= expires:
            return None
        if not isinstance(not_before, int | float) or now < not_before:
            return None
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences or []
        if claims.get("iss") != SERVICE_ACCOUNT_ISSUER or API_AUDIENCE not in audiences:
            return None
        private = claims.get("kubernetes.io") or {}
        account_claim = private.get("serviceaccount") or {} if isinstance(private, dict) else {}
        namespace, name = private.get("namespace"), account_claim.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            return None
        # The token is bound to the ServiceAccount's uid: a deleted (or re-created) account invalidates it.
        account = self._lookup("", "serviceaccounts", namespace, name)
        if account is None or account["metadata"]["uid"] != account_claim.get("uid"):
            return None
        return service_account_identity(namespace, name)

    # --- HTTP ---------------------------------------------------------------------------------------

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first injected fault matching this request, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return copy.copy(fault)
            return None

    def record(self, method: str, path: str, status: int, query: str = "") -> None:
        """Append to the request log (the HTTP layer records faults it answers itself)."""
        with self._lock:
            self._requests.append(RequestRecord(method.upper(), path, status, query))

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one API request; errors become ``metav1.Status`` bodies."""
        with self._transaction():
            try:
                status, body = self._handle(request)
                response = ApiResponse(status, body)
            except ApiError as error:
                response = ApiResponse(error.code, error.to_status())
            query = "&".join(f"{k}={v}" for k, v in request.query.items())
            self.record(request.method, request.path, response.status, query)
            return response

    def _parse_route(self, parts: list[str], group: str, version: str) -> _Route:
        namespace = ""
        if parts[0] == "namespaces" and len(parts) >= 3 and parts[2] not in ("status", "finalize"):
            namespace, parts = parts[1], parts[2:]
        if len(parts) > 3:
            raise unknown_resource()
        resource = self.registry.lookup(group, version, parts[0])
        if resource is None or (namespace and not resource.namespaced):
            raise unknown_resource()
        name = parts[1] if len(parts) > 1 else ""
        subresource = parts[2] if len(parts) > 2 else ""
        if subresource and not (
            (subresource == "status" and resource.status_subresource) or resource.subresource(subresource)
        ):
            raise unknown_resource()
        rbac_namespace = name if (resource.group == "" and resource.plural == "namespaces") else namespace
        return _Route(resource, namespace, name, subresource, rbac_namespace)

    def _discovery(self, parts: list[str], request: ApiRequest) -> JsonObject | None:
        """A discovery document for non-resource paths, or None when the path names resources."""
        if not parts:
            return _discovery.root_paths(self.registry)
        if parts == ["version"]:
            return dict(_discovery.SERVER_VERSION)
        if parts == ["api"]:
            return _discovery.api_versions(request.server_address)
        if parts == ["apis"]:
            return _discovery.api_group_list(self.registry)
        if parts[0] == "apis" and len(parts) == 2:
            return _discovery.api_group(self.registry, parts[1]) or _raise(unknown_resource())
        if parts[0] == "api" and len(parts) == 2:
            return _discovery.api_resource_list(self.registry, "", parts[1]) or _raise(unknown_resource())
        if parts[0] == "apis" and len(parts) == 3:
            return _discovery.api_resource_list(self.registry, parts[1], parts[2]) or _raise(
                unknown_resource()
            )
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:], request.path_prefix)
        if parts[0] not in ("api", "apis"):
            raise unknown_resource()
        return None

    def _openapi(self, parts: list[str], path_prefix: str) -> JsonObject:
        if not parts:
            return _discovery.openapi_v3_root(self.registry, path_prefix)
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            raise unknown_resource()
        return _discovery.openapi_v3_group_version(self.registry, group, version) or _raise(
            unknown_resource()
        )

    def _handle(self, request: ApiRequest) -> tuple[int, JsonObject]:
        identity = self.authenticate(request.credentials)
        stripped = request.path.strip("/")
        parts = [unquote(p) for p in stripped.split("/")] if stripped else []
        document = self._discovery(parts, request)
        if document is not None:
            if request.method != "GET":
                raise method_not_allowed()
            return 200, document
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        route = self._parse_route(rest, group, version)
        verb = self._verb(request, route)
        authorize(
            identity,
            ResourceAttributes(
                verb=verb,
                group=route.resource.group,
                resource=route.resource.plural,
                subresource=route.subresource,
                name=route.name,
                namespace=route.rbac_namespace,
            ),
            self._lookup,
            self._list_raw,
        )
        return self._dispatch(request, route, verb, identity)

    def _verb(self, request: ApiRequest, route: _Route) -> str:
        method = request.method.upper()
        if method == "GET":
            if route.subresource and route.subresource != "status":
                raise method_not_allowed()
            if route.name:
                return "get"
            return "watch" if request.query.get("watch") in ("true", "1") else "list"
        if method == "POST":
            if (route.name and not route.subresource) or route.subresource == "status":
                raise method_not_allowed()
            if not route.name and route.resource.namespaced and not route.namespace:
                raise method_not_allowed()
            return "create"
        if method in ("PUT", "PATCH"):
            if not route.name or (route.subresource and route.subresource != "status"):
                raise method_not_allowed()
            return "update" if method == "PUT" else "patch"
        if method == "DELETE":
            if route.subresource:
                raise method_not_allowed()
            return "delete" if route.name else "deletecollection"
        raise method_not_allowed()

    def _body(self, request: ApiRequest, *, patch: bool = False) -> Any:
        media_type = _media_type(request.content_type)
        if patch:
            if media_type == "application/apply-patch+yaml":
                raise unsupported_media_type([JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH])
        elif media_type not in ("", "application/json", "application/yaml", "*/*"):
            # kube-apiserver treats a missing Content-Type as JSON (the Python client sends none on POST/PUT).
            raise unsupported_media_type(["application/json", "application/yaml"])
        if not request.body.strip():
            if request.method.upper() == "DELETE":
                return {}
            raise bad_request("the body of the request was empty")
        try:
            if media_type == "application/yaml":
                return yaml.safe_load(request.body)
            return json.loads(request.body)
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(f"the body of the request could not be decoded: {error}") from error

    def _dispatch(
        self, request: ApiRequest, route: _Route, verb: str, identity: Identity
    ) -> tuple[int, JsonObject]:
        resource, namespace, name = route.resource, route.namespace, route.name
        dry_run = request.query.get("dryRun") == "All"
        if verb == "get":
            obj = copy.deepcopy(self._existing(resource, namespace, name))
            return 200, self._maybe_table(request, resource, [obj], single=obj)
        if verb == "list":
            items = self._list(
                resource, namespace, request.query.get("labelSelector"), request.query.get("fieldSelector")
            )
            return 200, self._maybe_table(request, resource, items, single=None)
        if verb == "watch":
            raise bad_request("watch is not supported by the local landscape's API double")
        if verb == "create":
            body = self._body(request)
            if route.subresource:
                return 201, self._create_subresource(route, body, identity)
            return 201, self._create(resource, namespace, body, dry_run=dry_run)
        if verb == "update":
            body = self._body(request)
            return 200, self._update(
                resource, namespace, name, body, status_only=route.subresource == "status", dry_run=dry_run
            )
        if verb == "patch":
            body = self._body(request, patch=True)
            return 200, self._patch(
                resource,
                namespace,
                name,
                _media_type(request.content_type),
                body,
                status_only=route.subresource == "status",
                dry_run=dry_run,
            )
        if verb == "delete":
            options = self._body(request) if request.body.strip() else {}
            if not isinstance(options, dict):
                raise bad_request("DeleteOptions must be an object")
            dry_run = dry_run or options.get("dryRun") == ["All"]
            obj, gone = self._delete(resource, namespace, name, options, dry_run=dry_run)
            if gone and not resource.delete_returns_object:
                return 200, self._deleted_status(resource, obj)
            return 200, obj
        # deletecollection
        items = self._list(
            resource, namespace, request.query.get("labelSelector"), request.query.get("fieldSelector")
        )
        deleted = [
            self._delete(resource, o["metadata"].get("namespace", ""), o["metadata"]["name"], {})[0]
            for o in items
        ]
        return 200, self._list_body(resource, deleted)

    def _deleted_status(self, resource: ResourceType, obj: JsonObject) -> JsonObject:
        details: JsonObject = {
            "name": obj["metadata"]["name"],
            "kind": resource.plural,
            "uid": obj["metadata"]["uid"],
        }
        if resource.group:
            details["group"] = resource.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _list_body(self, resource: ResourceType, items: list[JsonObject]) -> JsonObject:
        if not resource.custom:
            # Built-in list items carry no kind/apiVersion on the wire; CRD lists do.
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        return {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self._resource_version)},
            "items": items,
        }

    def _maybe_table(
        self, request: ApiRequest, resource: ResourceType, items: list[JsonObject], single: JsonObject | None
    ) -> JsonObject:
        if "as=Table" in request.accept:
            return _discovery.table(resource, items, str(self._resource_version), self._clock())
        return single if single is not None else self._list_body(resource, items)

    # --- Python API: hooks for tests and in-process controllers --------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """The requests served so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
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
        with self._lock:
            self._faults.append(Fault(method.upper(), re.compile(path_regex), status, times, delay))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def get(self, resource: str, name: str, namespace: str | None = None) -> JsonObject | None:
        """A copy of the stored object, or None."""
        with self._lock:
            stored = self._stored(self._resource(resource), namespace or "", name)
            return copy.deepcopy(stored) if stored is not None else None

    def list(
        self, resource: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[JsonObject]:
        """Copies of the stored objects, optionally in one namespace and matching a label selector."""
        with self._lock:
            return self._list(self._resource(resource), namespace or "", label_selector)

    def resource_versions(self, resource: str, namespace: str | None = None) -> dict[str, str]:
        """Name -> ``resourceVersion`` of the objects of one type in one namespace, copying no object.

        What a controller's watch tells it: which objects changed since it last looked.
        """
        with self._lock:
            bucket = self._bucket(self._resource(resource))
            wanted = namespace or ""
            return {
                name: str(obj["metadata"].get("resourceVersion", ""))
                for (ns, name), obj in bucket.items()
                if ns == wanted
            }

    def put(self, resource: str, obj: JsonObject) -> JsonObject:
        """Seed an object as given (status included), creating or overwriting it; metadata is filled.

        Raises:
            ApiError: the namespace does not exist or the object is invalid.
        """
        rt = self._resource(resource)
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        with self._transaction():
            existing = self._stored(rt, namespace, name)
            if existing is None:
                body = copy.deepcopy(obj)
                body.get("metadata", {}).pop("resourceVersion", None)
                return self._create(rt, namespace, body, keep_status=True)
            new = copy.deepcopy(obj)
            new["apiVersion"], new["kind"] = rt.api_version, rt.kind
            new_meta = new.setdefault("metadata", {})
            for field in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "resourceVersion"):
                if field in existing["metadata"] and field not in new_meta:
                    new_meta[field] = existing["metadata"][field]
            new_meta["resourceVersion"] = existing["metadata"]["resourceVersion"]
            self._default(rt, new)
            return self._commit_update(rt, existing, new, spec=True, status=True)

    def create(self, resource: str, obj: JsonObject, namespace: str | None = None) -> JsonObject:
        """Create as a POST would (status dropped for status-subresource kinds)."""
        with self._transaction():
            rt = self._resource(resource)
            ns = namespace or str((obj.get("metadata") or {}).get("namespace") or "")
            return self._create(rt, ns, obj)

    def replace(self, resource: str, obj: JsonObject) -> JsonObject:
        """Replace as a PUT would (resourceVersion checked when set, status kept for status kinds)."""
        meta = obj.get("metadata") or {}
        with self._transaction():
            rt = self._resource(resource)
            return self._update(rt, str(meta.get("namespace") or ""), str(meta.get("name") or ""), obj)

    def patch(self, resource: str, name: str, patch: JsonObject, namespace: str | None = None) -> JsonObject:
        """Apply a JSON merge patch to the main resource."""
        with self._transaction():
            return self._patch(self._resource(resource), namespace or "", name, MERGE_PATCH, patch)

    def delete(self, resource: str, name: str, namespace: str | None = None) -> JsonObject | None:
        """Delete as a DELETE would: the object while finalizers hold it, None once it is gone."""
        with self._transaction():
            obj, gone = self._delete(self._resource(resource), namespace or "", name, {})
            return None if gone else obj

    def set_status(
        self, resource: str, name: str, status: JsonObject, namespace: str | None = None
    ) -> JsonObject:
        """Replace ``.status`` through the status rules (what ``PUT .../status`` does)."""
        with self._transaction():
            rt = self._resource(resource)
            existing = self._existing(rt, namespace or "", name)
            new = self._merge_update(rt, existing, {"status": status}, status_only=True)
            return self._commit_update(rt, existing, new, spec=False, status=True)

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
            existing = self._existing(rt, namespace or "", name)
            drop = None if finalizers is None else set(finalizers)
            new = copy.deepcopy(existing)
            kept = [f for f in new["metadata"].get("finalizers") or [] if drop is not None and f not in drop]
            if kept:
                new["metadata"]["finalizers"] = kept
            else:
                new["metadata"].pop("finalizers", None)
            result = self._commit_update(rt, existing, new, spec=False, status=False)
            return None if self._stored(rt, namespace or "", name) is None else result

    def create_subresource(
        self, resource: str, name: str, subresource: str, body: JsonObject, namespace: str | None = None
    ) -> JsonObject:
        """POST to a subresource (``token``, ``adminkubeconfig``) as an in-process controller would."""
        with self._transaction():
            rt = self._resource(resource)
            route = _Route(rt, namespace or "", name, subresource, namespace or "")
            identity = Identity(user="keb-landscape", admin=True)
            return self._create_subresource(route, body, identity)

    def ensure_namespace(self, name: str) -> JsonObject:
        """The namespace, created when missing."""
        with self._transaction():
            namespaces = self.registry.resolve("namespaces")
            existing = self._stored(namespaces, "", name)
            if existing is not None:
                return copy.deepcopy(existing)
            return self._create(namespaces, "", {"metadata": {"name": name}})


def _raise(error: ApiError) -> JsonObject:
    raise error
