"""What a write may store: kind and name checks, server-side defaulting and CRD-style required fields.

Pure functions over a resource type and an object; the cluster decides when each applies.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from keb_app.landscape._errors import FieldError, bad_request, invalid
from keb_app.landscape._resources import ResourceType

JsonObject = dict[str, Any]

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


def check_kind(resource: ResourceType, body: Any) -> JsonObject:
    """The body as an object of ``resource``: apiVersion and kind, when given, must name it.

    Raises:
        ApiError: 400 for another kind or a body that is not an object.
    """
    if not isinstance(body, dict):
        raise bad_request(f"the body of the request is not a {resource.kind} object")
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if api_version and api_version != resource.api_version:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({resource.api_version})"
        )
    if kind and kind != resource.kind:
        raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise bad_request("metadata must be an object")
    return body


def validate_name(resource: ResourceType, name: str) -> None:
    """``metadata.name`` by the rule of the resource (RFC 1123 subdomain or label, or a path segment)."""
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


def apply_defaults(resource: ResourceType, obj: JsonObject) -> None:
    """Server-side defaulting of the built-in kinds the landscape serves."""
    if (resource.group, resource.plural) == ("", "secrets"):
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
                    f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data for key {key}'
                ) from error
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode("ascii")
        if data:
            obj["data"] = data
    elif (resource.group, resource.plural) == ("", "namespaces"):
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])


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


def validate_required(resource: ResourceType, obj: JsonObject, *, spec: bool, status: bool) -> None:
    """CRD-style ``required`` checks on the parts a write may change.

    Raises:
        ApiError: 422 naming every missing field.
    """
    errors = _required_errors(resource.required, obj) if spec else []
    if status:
        errors += _required_errors(resource.status_required, obj)
    if errors:
        raise invalid(resource.kind, resource.group, obj["metadata"]["name"], errors)


def check_no_new_finalizers(resource: ResourceType, existing: JsonObject, new: JsonObject) -> None:
    """An object being deleted may lose finalizers but gain none.

    Raises:
        ApiError: 422 naming the added finalizers.
    """
    old_meta = existing["metadata"]
    if not old_meta.get("deletionTimestamp"):
        return
    old = old_meta.get("finalizers") or []
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in old]
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
