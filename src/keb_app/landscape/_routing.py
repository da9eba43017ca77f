"""From an authenticated request to an answer: path parsing, verbs, RBAC, bodies, lists and tables.

The answers of reads are the stored objects themselves, not copies: the cluster encodes them to JSON
before it releases its lock (a list of a thousand objects used to be deep-copied first, then encoded).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import attrs
import yaml

from keb_app.landscape import _discovery
from keb_app.landscape._auth import Credentials
from keb_app.landscape._errors import (
    bad_request,
    method_not_allowed,
    unknown_resource,
    unsupported_media_type,
)
from keb_app.landscape._objects import ObjectWrites
from keb_app.landscape._patch import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from keb_app.landscape._rbac import Identity, ResourceAttributes, authorize
from keb_app.landscape._resources import ResourceRegistry, ResourceType
from keb_app.landscape._store import ObjectStore, is_namespace
from keb_app.landscape._subresources import Subresources

JsonObject = dict[str, Any]


def _without_type(item: JsonObject) -> JsonObject:
    """A shallow copy without ``kind`` and ``apiVersion``."""
    stripped = item.copy()
    stripped.pop("kind", None)
    stripped.pop("apiVersion", None)
    return stripped


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
    """Status code and the JSON body to send back, already encoded."""

    status: int
    body: bytes = attrs.field(repr=False)  # may carry tokens or kubeconfigs

    def json(self) -> Any:
        """The body, decoded."""
        return json.loads(self.body)


@attrs.frozen
class Route:
    """What a resource path names."""

    resource: ResourceType
    namespace: str  # storage namespace ("" for cluster-scoped resources and all-namespace lists)
    name: str
    subresource: str
    rbac_namespace: str


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _parse_route(registry: ResourceRegistry, parts: list[str], group: str, version: str) -> Route:
    """The resource, namespace, name and subresource a path below ``/api/v1`` or ``/apis/{g}/{v}`` names."""
    namespace = ""
    if parts[0] == "namespaces" and len(parts) >= 3 and parts[2] not in ("status", "finalize"):
        namespace, parts = parts[1], parts[2:]
    if len(parts) > 3:
        raise unknown_resource()
    resource = registry.lookup(group, version, parts[0])
    if resource is None or (namespace and not resource.namespaced):
        raise unknown_resource()
    name = parts[1] if len(parts) > 1 else ""
    subresource = parts[2] if len(parts) > 2 else ""
    if subresource and not (
        (subresource == "status" and resource.status_subresource) or resource.subresource(subresource)
    ):
        raise unknown_resource()
    rbac_namespace = name if is_namespace(resource) else namespace
    return Route(resource, namespace, name, subresource, rbac_namespace)


def _verb(request: ApiRequest, route: Route) -> str:
    """The RBAC verb of a request, or 405 for a method the route does not take."""
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


def _decoded_body(request: ApiRequest, *, patch: bool = False) -> Any:
    """The JSON or YAML body; an empty one is 400 except for DELETE."""
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


class Router:
    """Answers the requests of one cluster once they are authenticated (the cluster's lock held)."""

    def __init__(
        self,
        store: ObjectStore,
        writes: ObjectWrites,
        subresources: Subresources,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._writes = writes
        self._subresources = subresources
        self._clock = clock

    def answer(self, request: ApiRequest, identity: Identity) -> tuple[int, JsonObject]:
        """Status and body for ``request`` by ``identity``.

        Raises:
            ApiError: as kube-apiserver would answer (404 unknown path, 405, 403 by RBAC, ...).
        """
        registry = self._store.registry
        stripped = request.path.strip("/")
        parts = [unquote(p) for p in stripped.split("/")] if stripped else []
        document = _discovery.document(registry, parts, request.server_address, request.path_prefix)
        if document is not None:
            if request.method != "GET":
                raise method_not_allowed()
            return 200, document
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        route = _parse_route(registry, rest, group, version)
        verb = _verb(request, route)
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
            self._store.lookup,
            self._store.in_namespace,
        )
        return self._dispatch(request, route, verb, identity)

    def _selected(self, request: ApiRequest, route: Route) -> list[JsonObject]:
        return self._store.select(
            route.resource,
            route.namespace,
            request.query.get("labelSelector"),
            request.query.get("fieldSelector"),
        )

    def _dispatch(
        self, request: ApiRequest, route: Route, verb: str, identity: Identity
    ) -> tuple[int, JsonObject]:
        resource, namespace, name = route.resource, route.namespace, route.name
        dry_run = request.query.get("dryRun") == "All"
        if verb == "get":
            obj = self._store.existing(resource, namespace, name)
            return 200, self._maybe_table(request, resource, [obj], single=obj)
        if verb == "list":
            items = self._selected(request, route)
            return 200, self._maybe_table(request, resource, items, single=None)
        if verb == "watch":
            raise bad_request("watch is not supported by the local landscape's API double")
        if verb == "create":
            body = _decoded_body(request)
            if route.subresource:
                return 201, self._subresources.create(route.subresource, namespace, name, body, identity.user)
            return 201, self._writes.create(resource, namespace, body, dry_run=dry_run)
        if verb == "update":
            body = _decoded_body(request)
            return 200, self._writes.update(
                resource, namespace, name, body, status_only=route.subresource == "status", dry_run=dry_run
            )
        if verb == "patch":
            body = _decoded_body(request, patch=True)
            return 200, self._writes.patch(
                resource,
                namespace,
                name,
                _media_type(request.content_type),
                body,
                status_only=route.subresource == "status",
                dry_run=dry_run,
            )
        if verb == "delete":
            options = _decoded_body(request) if request.body.strip() else {}
            if not isinstance(options, dict):
                raise bad_request("DeleteOptions must be an object")
            dry_run = dry_run or options.get("dryRun") == ["All"]
            obj, gone = self._store.delete(resource, namespace, name, options, dry_run=dry_run)
            if gone and not resource.delete_returns_object:
                return 200, self._deleted_status(resource, obj)
            return 200, obj
        # deletecollection
        items = self._selected(request, route)
        deleted = [
            self._store.delete(resource, o["metadata"].get("namespace", ""), o["metadata"]["name"], {})[0]
            for o in items
        ]
        return 200, self._list_body(resource, deleted)

    @staticmethod
    def _deleted_status(resource: ResourceType, obj: JsonObject) -> JsonObject:
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
            # Built-in list items carry no kind/apiVersion on the wire; CRD lists do. The items are the
            # stored objects: leave them as they are and encode shallow copies.
            items = [_without_type(item) for item in items]
        return {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self._store.resource_version)},
            "items": items,
        }

    def _maybe_table(
        self, request: ApiRequest, resource: ResourceType, items: list[JsonObject], single: JsonObject | None
    ) -> JsonObject:
        if "as=Table" in request.accept:
            return _discovery.table(resource, items, str(self._store.resource_version), self._clock())
        return single if single is not None else self._list_body(resource, items)
