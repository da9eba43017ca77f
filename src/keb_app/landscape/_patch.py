"""PATCH bodies: JSON patch (RFC 6902, with ``jsonpatch``), JSON merge patch (RFC 7386) and strategic merge.

RFC 7386 is the ten-line algorithm of its section 2, kept here as one function: no maintained library does
more, and the strategic variant below needs the same walk. kube-apiserver's strategic merge patch merges
some lists by key; no Python library implements it, so the double treats it as a merge patch for maps
that replaces lists and ignores the ``$`` directives, which is what kubernetes-wire §4.3 asks for and all
the broker relies on.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from keb_app.landscape._errors import ApiError, bad_request

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# Strategic-merge directives (``$patch``, ``$setElementOrder/...``, ``$retainKeys``...) have no meaning
# once lists are replaced wholesale.
_DIRECTIVE_PREFIX = "$"
# RFC 6902's operations; jsonpatch also knows a non-standard "append", which kube-apiserver refuses.
_OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")


def merge_patch(target: Any, patch: Any, *, strategic: bool = False) -> Any:
    """Apply a merge patch (RFC 7386 §2): maps merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if strategic and key.startswith(_DIRECTIVE_PREFIX):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value, strategic=strategic)
    return result


def _check_operation(operation: Any) -> None:
    """The checks kube-apiserver makes before applying anything: each a 400, not a 422."""
    if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
        raise bad_request(f"invalid JSON patch operation: {operation!r}")
    if operation["op"] not in _OPERATIONS:
        raise bad_request(f"Unexpected kind: {operation['op']}")
    for member in ("path", "from"):
        pointer = operation.get(member, "")
        if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
            raise bad_request(f'the JSON patch {member} "{pointer}" must start with "/"')


def json_patch(target: Any, operations: Any) -> Any:
    """Apply an RFC 6902 JSON patch to a copy of ``target``.

    Raises:
        ApiError: 400 when the body is not a list of operations, 422 when an operation cannot apply.
    """
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for operation in operations:
        _check_operation(operation)
    try:
        return jsonpatch.apply_patch(target, operations)
    except jsonpatch.InvalidJsonPatch as error:
        raise bad_request(f"invalid JSON patch: {error}") from error
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
        # kube-apiserver answers a JSON patch that cannot be applied with 422.
        raise ApiError(422, "Invalid", f"the JSON patch could not be applied: {error}") from error
