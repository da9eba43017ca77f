"""Identities and a minimal RBAC authorizer over the cluster's own (Cluster)Role(Binding) objects.

It implements what the binding flow depends on (kubernetes-wire §1.3): a ServiceAccount bound through a
ClusterRoleBinding (or a RoleBinding in the request's namespace) to rules with ``*`` wildcards. Once the
binding is gone the same token is answered with 403, as ``bind_envtest_test.go`` asserts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from keb_app.landscape._errors import ApiError, forbidden

JsonObject = dict[str, Any]


@attrs.frozen
class Identity:
    """Who a request runs as; ``admin`` identities bypass RBAC (``system:masters``)."""

    user: str
    groups: tuple[str, ...] = ()
    admin: bool = False


@attrs.frozen
class ResourceAttributes:
    """What a request does, in the terms RBAC rules are written in."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    name: str = ""
    namespace: str = ""


def service_account_identity(namespace: str, name: str) -> Identity:
    """The user and groups kube-apiserver gives a ServiceAccount token."""
    return Identity(
        user=f"system:serviceaccount:{namespace}:{name}",
        groups=("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )


def _matches(values: Iterable[str] | None, wanted: str) -> bool:
    values = list(values or [])
    return "*" in values or wanted in values


def _resource_matches(resources: Iterable[str] | None, resource: str, subresource: str) -> bool:
    for candidate in resources or []:
        if candidate == "*":
            return True
        if not subresource and candidate == resource:
            return True
        if subresource and candidate in (f"{resource}/{subresource}", f"*/{subresource}", f"{resource}/*"):
            return True
    return False


def rule_allows(rule: JsonObject, attrs_: ResourceAttributes) -> bool:
    """Whether one PolicyRule grants the request (verbs, apiGroups, resources, resourceNames)."""
    if not _matches(rule.get("verbs"), attrs_.verb):
        return False
    if not _matches(rule.get("apiGroups"), attrs_.group):
        return False
    if not _resource_matches(rule.get("resources"), attrs_.resource, attrs_.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs_.name in names


def _subject_matches(subject: JsonObject, identity: Identity) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return (
            identity.user == f"system:serviceaccount:{subject.get('namespace', '')}:{subject.get('name', '')}"
        )
    if kind == "User":
        return identity.user == subject.get("name")
    if kind == "Group":
        return subject.get("name") in identity.groups
    return False


# (group, plural, namespace, name) -> object or None
ObjectLookup = Callable[[str, str, str, str], JsonObject | None]
# (group, plural, namespace) -> objects
ObjectList = Callable[[str, str, str], list[JsonObject]]

_RBAC = "rbac.authorization.k8s.io"


def _rules_of(role_ref: JsonObject, namespace: str, lookup: ObjectLookup) -> list[JsonObject]:
    kind, name = role_ref.get("kind"), role_ref.get("name", "")
    if kind == "ClusterRole":
        role = lookup(_RBAC, "clusterroles", "", name)
    elif kind == "Role" and namespace:
        role = lookup(_RBAC, "roles", namespace, name)
    else:
        role = None
    return list((role or {}).get("rules") or [])


def authorize(
    identity: Identity, request: ResourceAttributes, lookup: ObjectLookup, list_: ObjectList
) -> None:
    """Allow the request or raise 403 with kube-apiserver's message.

    Raises:
        ApiError: 403 Forbidden when no binding of the identity grants the request.
    """
    if identity.admin:
        return
    bindings = [(b, "") for b in list_(_RBAC, "clusterrolebindings", "")]
    if request.namespace:
        bindings += [(b, request.namespace) for b in list_(_RBAC, "rolebindings", request.namespace)]
    for binding, namespace in bindings:
        if not any(_subject_matches(s, identity) for s in binding.get("subjects") or []):
            continue
        if any(
            rule_allows(rule, request) for rule in _rules_of(binding.get("roleRef") or {}, namespace, lookup)
        ):
            return
    raise _forbidden(identity, request)


def _forbidden(identity: Identity, request: ResourceAttributes) -> ApiError:
    resource = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
    scope = f'in the namespace "{request.namespace}"' if request.namespace else "at the cluster scope"
    why = (
        f'User "{identity.user}" cannot {request.verb} resource "{resource}" '
        f'in API group "{request.group}" {scope}'
    )
    return forbidden(resource, request.group, request.name, why)
