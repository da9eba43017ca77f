"""Discovery and OpenAPI documents (and which one a path names) and ``kubectl get`` tables, so kubectl
can talk to the double.

kubectl resolves resource names through legacy discovery (``/api``, ``/apis``, ``/apis/{g}/{v}``) when the
server does not offer aggregated discovery, and asks list/get calls for ``meta.k8s.io/v1`` Tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from keb_app.landscape._errors import unknown_resource
from keb_app.landscape._resources import RESOURCE_VERBS, ResourceRegistry, ResourceType

JsonObject = dict[str, Any]

#: The Kubernetes release the double claims to be (KEB's envtest uses 1.31).
SERVER_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0",
    "gitCommit": "keb-local-landscape",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server_address: str) -> JsonObject:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(registry: ResourceRegistry, name: str) -> JsonObject:
    versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in registry.groups()[name]]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(registry: ResourceRegistry) -> JsonObject:
    groups = [_group(registry, name) for name in registry.groups() if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: ResourceRegistry, name: str) -> JsonObject | None:
    if not name or name not in registry.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(registry, name)}


def api_resource_list(registry: ResourceRegistry, group: str, version: str) -> JsonObject | None:
    resources = registry.in_group_version(group, version)
    if not resources:
        return None
    entries: list[JsonObject] = []
    for resource in resources:
        entry: JsonObject = {
            "name": resource.plural,
            "singularName": resource.singular_name,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": list(RESOURCE_VERBS),
        }
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        entries.append(entry)
        if resource.status_subresource:
            entries.append(
                {
                    "name": f"{resource.plural}/status",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "kind": resource.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        entries.extend(
            {
                "name": f"{resource.plural}/{sub.name}",
                "singularName": "",
                "namespaced": resource.namespaced,
                "group": sub.group,
                "version": sub.version,
                "kind": sub.kind,
                "verbs": ["create"],
            }
            for sub in resource.subresources
        )
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }


def root_paths(registry: ResourceRegistry) -> JsonObject:
    paths = ["/api", "/api/v1", "/apis", "/version"]
    for group, versions in registry.groups().items():
        if group:
            paths.append(f"/apis/{group}")
            paths.extend(f"/apis/{group}/{v}" for v in versions)
    return {"paths": sorted(paths)}


def human_duration(seconds: float) -> str:
    """kubectl's short age format (``k8s.io/apimachinery/pkg/util/duration.HumanDuration``)."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _json_path(obj: JsonObject, path: str) -> Any:
    node: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _age(obj: JsonObject, now: float) -> str:
    created = obj.get("metadata", {}).get("creationTimestamp")
    if not isinstance(created, str):
        return "<unknown>"
    try:
        then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return "<unknown>"
    return human_duration(now - then)


def table(resource: ResourceType, objects: list[JsonObject], resource_version: str, now: float) -> JsonObject:
    """A ``meta.k8s.io/v1`` Table of name, the resource's printer columns and age."""
    columns: list[JsonObject] = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name of the object",
            "priority": 0,
        }
    ]
    columns += [
        {"name": c.name, "type": c.type, "format": "", "description": c.json_path, "priority": 0}
        for c in resource.printer_columns
    ]
    columns.append({"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0})
    rows = []
    for obj in objects:
        cells: list[Any] = [obj.get("metadata", {}).get("name", "")]
        for column in resource.printer_columns:
            value = _json_path(obj, column.json_path)
            cells.append(value if isinstance(value, str | int | float | bool) else None)
        cells.append(_age(obj, now))
        rows.append(
            {
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata", {}),
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }


# --- OpenAPI v3, as little as kubectl apply needs --------------------------------------------------
#
# kubectl apply asks /openapi/v3 whether a kind's PATCH accepts the ``fieldValidation`` query parameter
# (k8s.io/cli-runtime QueryParamVerifierV3); without an answer it refuses to apply unless --validate=false.
# The documents below carry paths and operations only, no schemas: kubectl then sends fieldValidation
# (which the double ignores) and builds its patches from its compiled-in types, as for a CRD without
# a published schema.


def _group_version_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_root(registry: ResourceRegistry, path_prefix: str) -> JsonObject:
    """The index of per-group-version documents; URLs are server-relative, so they carry the prefix."""
    paths = {}
    for group, versions in registry.groups().items():
        for version in versions:
            name = _group_version_path(group, version)
            paths[name] = {
                "serverRelativeURL": f"{path_prefix}/openapi/v3/{name}?hash=keb-{SERVER_VERSION['minor']}"
            }
    return {"paths": paths}


def _operation(resource: ResourceType, action: str, query: tuple[str, ...]) -> JsonObject:
    operation: JsonObject = {
        "operationId": f"{action}{resource.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": resource.group,
            "version": resource.version,
            "kind": resource.kind,
        },
        "parameters": [{"name": name, "in": "query", "schema": {"type": "string"}} for name in query],
        "responses": {"200": {"description": "OK"}},
    }
    if action == "patch":
        # No strategic-merge content type: kubectl then does not look for a schema of the kind.
        operation["requestBody"] = {
            "content": {"application/merge-patch+json": {}, "application/json-patch+json": {}}
        }
    return operation


def openapi_v3_group_version(registry: ResourceRegistry, group: str, version: str) -> JsonObject | None:
    """Paths and operations of one group version, with the query parameters the double accepts."""
    resources = registry.in_group_version(group, version)
    if not resources:
        return None
    write_query = ("dryRun", "fieldManager", "fieldValidation")
    paths: JsonObject = {}
    for resource in resources:
        base = "/" + _group_version_path(group, version)
        scope = f"{base}/namespaces/{{namespace}}" if resource.namespaced else base
        paths[f"{scope}/{resource.plural}"] = {
            "get": _operation(resource, "list", ("labelSelector", "fieldSelector", "limit")),
            "post": _operation(resource, "post", write_query),
        }
        paths[f"{scope}/{resource.plural}/{{name}}"] = {
            "get": _operation(resource, "get", ()),
            "put": _operation(resource, "put", write_query),
            "patch": _operation(resource, "patch", (*write_query, "force")),
            "delete": _operation(resource, "delete", ("dryRun",)),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


# --- which document a path asks for ----------------------------------------------------------------


def _found(document: JsonObject | None) -> JsonObject:
    if document is None:
        raise unknown_resource()
    return document


def document(
    registry: ResourceRegistry, parts: list[str], server_address: str, path_prefix: str
) -> JsonObject | None:
    """The discovery or OpenAPI document a path (split at ``/``) names, or None when it names resources.

    Raises:
        ApiError: 404 for a path that is neither a document nor under ``/api`` or ``/apis``.
    """
    if not parts:
        return root_paths(registry)
    if parts == ["version"]:
        return dict(SERVER_VERSION)
    if parts == ["api"]:
        return api_versions(server_address)
    if parts == ["apis"]:
        return api_group_list(registry)
    if parts[0] == "apis" and len(parts) == 2:
        return _found(api_group(registry, parts[1]))
    if parts[0] == "api" and len(parts) == 2:
        return _found(api_resource_list(registry, "", parts[1]))
    if parts[0] == "apis" and len(parts) == 3:
        return _found(api_resource_list(registry, parts[1], parts[2]))
    if parts[:2] == ["openapi", "v3"]:
        return _openapi(registry, parts[2:], path_prefix)
    if parts[0] not in ("api", "apis"):
        raise unknown_resource()
    return None


def _openapi(registry: ResourceRegistry, parts: list[str], path_prefix: str) -> JsonObject:
    if not parts:
        return openapi_v3_root(registry, path_prefix)
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        raise unknown_resource()
    return _found(openapi_v3_group_version(registry, group, version))
