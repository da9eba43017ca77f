"""A cluster's objects: resourceVersions, generations, finalizers, namespace lifecycle and snapshots.

The store keeps what etcd and the generic registry of kube-apiserver keep: objects by resource, namespace
and name, one counter for ``resourceVersion``, and the deletion rules (an object with finalizers is only
marked; a namespace is ``Terminating`` until it is empty). It neither validates nor authorizes, and it
hands out the stored objects themselves: callers hold the cluster's lock while they read them and copy what
they give away.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from keb_app.landscape._errors import conflict, not_found
from keb_app.landscape._resources import ResourceRegistry, ResourceType
from keb_app.landscape._selectors import parse_field_selector, parse_label_selector

JsonObject = dict[str, Any]
_NAMESPACES = ("", "namespaces")


def rfc3339(epoch: float) -> str:
    """A ``metav1.Time`` as JSON carries it: whole seconds, UTC, ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def is_namespace(resource: ResourceType) -> bool:
    return (resource.group, resource.plural) == _NAMESPACES


def _labels(obj: JsonObject) -> dict[str, str]:
    labels = obj.get("metadata", {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _spec_part(resource: ResourceType, obj: JsonObject) -> JsonObject:
    """What ``metadata.generation`` counts changes of: all but metadata (and status, for status kinds)."""
    skipped = {"metadata", "status"} if resource.status_subresource else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skipped}


class ObjectStore:
    """Objects of one cluster; not thread-safe on its own (the cluster's lock guards every call)."""

    def __init__(self, registry: ResourceRegistry, clock: Callable[[], float]) -> None:
        self.registry = registry
        self._clock = clock
        self._objects: dict[tuple[str, str], dict[tuple[str, str], JsonObject]] = {}
        self.resource_version = 0
        #: Set by every write; the cluster persists and clears it when a transaction ends.
        self.changed = False

    # --- reads ---------------------------------------------------------------------------------------

    def _bucket(self, resource: ResourceType) -> dict[tuple[str, str], JsonObject]:
        return self._objects.setdefault((resource.group, resource.plural), {})

    @staticmethod
    def _key(resource: ResourceType, namespace: str, name: str) -> tuple[str, str]:
        return (namespace if resource.namespaced else "", name)

    def stored(self, resource: ResourceType, namespace: str, name: str) -> JsonObject | None:
        return self._bucket(resource).get(self._key(resource, namespace, name))

    def existing(self, resource: ResourceType, namespace: str, name: str) -> JsonObject:
        """The stored object.

        Raises:
            ApiError: 404 when there is none.
        """
        existing = self.stored(resource, namespace, name)
        if existing is None:
            raise not_found(resource.plural, resource.group, name)
        return existing

    def lookup(self, group: str, plural: str, namespace: str, name: str) -> JsonObject | None:
        return self._objects.get((group, plural), {}).get((namespace, name))

    def in_namespace(self, group: str, plural: str, namespace: str) -> list[JsonObject]:
        bucket = self._objects.get((group, plural), {})
        return [o for (ns, _), o in bucket.items() if ns == namespace]

    def select(
        self,
        resource: ResourceType,
        namespace: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[JsonObject]:
        """The objects of ``namespace`` (all when empty) matching both selectors, by namespace and name."""
        selected = [
            o for (ns, _), o in sorted(self._bucket(resource).items()) if not namespace or ns == namespace
        ]
        if label_selector:
            labels_match = parse_label_selector(label_selector)
            selected = [o for o in selected if labels_match(_labels(o))]
        if field_selector:
            fields_match = parse_field_selector(field_selector)
            selected = [o for o in selected if fields_match(o)]
        return selected

    def resource_versions(self, resource: ResourceType, namespace: str) -> dict[str, str]:
        return {
            name: str(obj["metadata"].get("resourceVersion", ""))
            for (ns, name), obj in self._bucket(resource).items()
            if ns == namespace
        }

    # --- writes --------------------------------------------------------------------------------------

    def now(self) -> str:
        return rfc3339(self._clock())

    def _next_resource_version(self) -> str:
        self.resource_version += 1
        return str(self.resource_version)

    def _put(self, resource: ResourceType, obj: JsonObject) -> None:
        meta = obj["metadata"]
        self._bucket(resource)[self._key(resource, meta.get("namespace", ""), meta["name"])] = obj
        self.changed = True

    def _remove(self, resource: ResourceType, obj: JsonObject) -> None:
        meta = obj["metadata"]
        self._bucket(resource).pop(self._key(resource, meta.get("namespace", ""), meta["name"]), None)
        self.changed = True
        if resource.namespaced:
            self._finalize_namespace(meta.get("namespace", ""))

    def insert(self, resource: ResourceType, obj: JsonObject, *, dry_run: bool = False) -> JsonObject:
        """Give a new object its resourceVersion and store it (unless ``dry_run``)."""
        obj["metadata"]["resourceVersion"] = self._next_resource_version()
        if not dry_run:
            self._put(resource, obj)
        return obj

    def commit(
        self, resource: ResourceType, existing: JsonObject, new: JsonObject, *, dry_run: bool = False
    ) -> JsonObject:
        """Replace ``existing`` by ``new``: a no-op keeps the resourceVersion, a spec change bumps the
        generation, and an object marked for deletion goes once its last finalizer is gone."""
        if new == existing:
            return existing
        meta = new["metadata"]
        if resource.generation and _spec_part(resource, new) != _spec_part(resource, existing):
            meta["generation"] = int(meta.get("generation", 0)) + 1
        meta["resourceVersion"] = self._next_resource_version()
        if dry_run:
            return new
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(resource, new)
        else:
            self._put(resource, new)
        return new

    def delete(
        self, resource: ResourceType, namespace: str, name: str, options: JsonObject, *, dry_run: bool = False
    ) -> tuple[JsonObject, bool]:
        """Delete or, while finalizers hold it, mark for deletion; returns the object and whether it is gone.

        Raises:
            ApiError: 404 for a missing object, 409 when a precondition of ``options`` fails.
        """
        existing = self.existing(resource, namespace, name)
        meta = existing["metadata"]
        preconditions = options.get("preconditions") or {}
        for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            if preconditions.get(field) and preconditions[field] != meta[field]:
                raise conflict(
                    resource.plural,
                    resource.group,
                    name,
                    f"Precondition failed: {label} in precondition: {preconditions[field]}, "
                    f"{label} in object meta: {meta[field]}",
                )
        obj = copy.deepcopy(existing)
        if dry_run:
            return obj, not obj["metadata"].get("finalizers")
        if is_namespace(resource):
            return self._delete_namespace(obj), False
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                self._mark_deleted(obj)
                self._put(resource, obj)
            return obj, False
        obj["metadata"]["resourceVersion"] = self._next_resource_version()
        self._remove(resource, obj)
        return obj, True

    def _mark_deleted(self, obj: JsonObject) -> None:
        meta = obj["metadata"]
        meta["deletionTimestamp"] = self.now()
        meta["deletionGracePeriodSeconds"] = 0
        meta["resourceVersion"] = self._next_resource_version()

    def _delete_namespace(self, namespace_obj: JsonObject) -> JsonObject:
        """Mark a namespace Terminating and delete its content; it goes once nothing is left in it."""
        namespace = namespace_obj["metadata"]["name"]
        if not namespace_obj["metadata"].get("deletionTimestamp"):
            namespace_obj["status"] = {"phase": "Terminating"}
            self._mark_deleted(namespace_obj)
            self._put(self.registry.resolve("namespaces"), namespace_obj)
        for resource in self.registry.all():
            if not resource.namespaced:
                continue
            for obj in list(self.in_namespace(resource.group, resource.plural, namespace)):
                self.delete(resource, namespace, obj["metadata"]["name"], {})
        self._finalize_namespace(namespace)
        return namespace_obj

    def _finalize_namespace(self, namespace: str) -> None:
        namespace_obj = self.lookup(*_NAMESPACES, "", namespace)
        if namespace_obj is None or not namespace_obj["metadata"].get("deletionTimestamp"):
            return
        if namespace_obj["metadata"].get("finalizers"):
            return
        for resource in self.registry.all():
            if resource.namespaced and self.in_namespace(resource.group, resource.plural, namespace):
                return
        self._objects.get(_NAMESPACES, {}).pop(("", namespace), None)
        self.changed = True

    # --- snapshots -----------------------------------------------------------------------------------

    def snapshot(self) -> list[JsonObject]:
        """Copies of every object, for a snapshot written outside the lock."""
        return [copy.deepcopy(o) for bucket in self._objects.values() for o in bucket.values()]

    def load(self, objects: Iterable[Mapping[str, Any]], resource_version: int) -> None:
        """Restore a snapshot; objects of resources the registry does not serve are dropped."""
        self.resource_version = resource_version
        by_kind = {(r.api_version, r.kind): r for r in self.registry.all()}
        for obj in objects:
            resource = by_kind.get((str(obj.get("apiVersion", "")), str(obj.get("kind", ""))))
            if resource is not None:
                self._put(resource, dict(obj))
        self.changed = False
