"""The write verbs on objects (create, update, patch, status, finalizers), as kube-apiserver applies them.

Shared by HTTP requests and the Python hooks of tests and KIM, so both obey the same metadata rules:
server-owned metadata is the server's, the status subresource owns ``.status``, resourceVersion
preconditions are checked, and what is stored is defaulted and validated. Results are the stored objects
themselves; callers copy what leaves the cluster's lock.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from keb_app.landscape._errors import (
    STALE_OBJECT,
    ApiError,
    FieldError,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    invalid,
    not_found,
    unsupported_media_type,
)
from keb_app.landscape._patch import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, json_patch, merge_patch
from keb_app.landscape._resources import ResourceType
from keb_app.landscape._store import ObjectStore, is_namespace
from keb_app.landscape._validation import (
    apply_defaults,
    check_kind,
    check_no_new_finalizers,
    validate_name,
    validate_required,
)

JsonObject = dict[str, Any]

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
#: What ``put`` keeps from the stored object when the seeded one leaves it out.
_SEEDED_METADATA = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "resourceVersion")
_GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class ObjectWrites:
    """Create, update, patch and the test hooks' writes over one cluster's store (its lock held)."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def create(
        self,
        resource: ResourceType,
        namespace: str,
        body: Any,
        *,
        dry_run: bool = False,
        keep_status: bool = False,
    ) -> JsonObject:
        """A POST: server metadata filled, status dropped for status kinds unless ``keep_status``."""
        obj = copy.deepcopy(check_kind(resource, body))
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
        name = self._name_for_create(resource, meta)
        validate_name(resource, name)
        if resource.namespaced:
            self._check_namespace_accepts(resource, namespace, name)
        if self._store.stored(resource, namespace, name) is not None:
            raise already_exists(resource.plural, resource.group, name)
        for field in _SERVER_OWNED_METADATA:
            meta.pop(field, None)
        meta["name"] = name
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self._store.now()
        if resource.generation:
            meta["generation"] = 1
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        if resource.status_subresource and not keep_status:
            obj.pop("status", None)
        if is_namespace(resource):
            obj["status"] = {"phase": "Active"}
        apply_defaults(resource, obj)
        validate_required(resource, obj, spec=True, status=keep_status or not resource.status_subresource)
        return self._store.insert(resource, obj, dry_run=dry_run)

    @staticmethod
    def _name_for_create(resource: ResourceType, meta: JsonObject) -> str:
        name = str(meta.get("name") or "")
        if name:
            return name
        prefix = meta.get("generateName")
        if not prefix:
            raise invalid(
                resource.kind,
                resource.group,
                "",
                [FieldError("metadata.name", "Required value", detail="name or generateName is required")],
            )
        return str(prefix) + "".join(secrets.choice(_GENERATE_NAME_ALPHABET) for _ in range(5))

    def _check_namespace_accepts(self, resource: ResourceType, namespace: str, name: str) -> None:
        namespace_obj = self._store.lookup("", "namespaces", "", namespace)
        if namespace_obj is None:
            raise not_found("namespaces", "", namespace)
        if namespace_obj["metadata"].get("deletionTimestamp"):
            raise forbidden(
                resource.plural,
                resource.group,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    def update(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        status_only: bool = False,
        dry_run: bool = False,
    ) -> JsonObject:
        """A PUT of the object or of its ``status`` subresource."""
        body = check_kind(resource, body)
        existing = self._store.existing(resource, namespace, name)
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
        new = self._merged(resource, existing, body, status_only=status_only)
        return self._commit(resource, existing, new, status_only=status_only, dry_run=dry_run)

    def patch(
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
        """A PATCH (JSON, merge or strategic merge) of the object or of its ``status`` subresource."""
        accepted = (
            [JSON_PATCH, MERGE_PATCH] if resource.custom else [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH]
        )
        if content_type not in accepted:
            # Custom resources do not support strategic merge patch, as with a real CRD.
            raise unsupported_media_type(accepted)
        existing = self._store.existing(resource, namespace, name)
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
        new = self._merged(resource, existing, patched, status_only=status_only)
        return self._commit(resource, existing, new, status_only=status_only, dry_run=dry_run)

    def put(self, resource: ResourceType, obj: JsonObject) -> JsonObject:
        """Seed an object as given (status included), creating or overwriting it; metadata is filled."""
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        existing = self._store.stored(resource, namespace, name)
        if existing is None:
            fresh = {k: v for k, v in meta.items() if k != "resourceVersion"}
            return self.create(resource, namespace, {**obj, "metadata": fresh}, keep_status=True)
        new = copy.deepcopy(obj)
        new["apiVersion"], new["kind"] = resource.api_version, resource.kind
        new_meta = new.setdefault("metadata", {})
        for field in _SEEDED_METADATA:
            if field in existing["metadata"] and field not in new_meta:
                new_meta[field] = existing["metadata"][field]
        new_meta["resourceVersion"] = existing["metadata"]["resourceVersion"]
        apply_defaults(resource, new)
        validate_required(resource, new, spec=True, status=True)
        return self._store.commit(resource, existing, new)

    def set_status(self, resource: ResourceType, namespace: str, name: str, status: JsonObject) -> JsonObject:
        """Replace ``.status`` as ``PUT .../status`` does."""
        existing = self._store.existing(resource, namespace, name)
        new = self._merged(resource, existing, {"status": status}, status_only=True)
        return self._commit(resource, existing, new, status_only=True)

    def remove_finalizers(
        self, resource: ResourceType, namespace: str, name: str, finalizers: Iterable[str] | None
    ) -> JsonObject | None:
        """Drop the given finalizers (all when None); None when that lets the object go."""
        existing = self._store.existing(resource, namespace, name)
        drop = None if finalizers is None else set(finalizers)
        new = copy.deepcopy(existing)
        kept = [f for f in new["metadata"].get("finalizers") or [] if drop is not None and f not in drop]
        if kept:
            new["metadata"]["finalizers"] = kept
        else:
            new["metadata"].pop("finalizers", None)
        result = self._store.commit(resource, existing, new)
        return None if self._store.stored(resource, namespace, name) is None else result

    def _check_resource_version(self, resource: ResourceType, existing: JsonObject, wanted: Any) -> None:
        if wanted and str(wanted) != existing["metadata"]["resourceVersion"]:
            raise conflict(resource.plural, resource.group, existing["metadata"]["name"], STALE_OBJECT)

    def _merged(
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
        apply_defaults(resource, new)
        check_no_new_finalizers(resource, existing, new)
        return new

    def _commit(
        self,
        resource: ResourceType,
        existing: JsonObject,
        new: JsonObject,
        *,
        status_only: bool,
        dry_run: bool = False,
    ) -> JsonObject:
        """Validate the parts this write may change (status alone, or all but a status subresource's)."""
        if status_only:
            validate_required(resource, new, spec=False, status=True)
        else:
            validate_required(resource, new, spec=True, status=not resource.status_subresource)
        return self._store.commit(resource, existing, new, dry_run=dry_run)
