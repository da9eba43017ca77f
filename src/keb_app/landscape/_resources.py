"""The resource registry: which (group, version, plural) a cluster serves and how each behaves.

A real API server learns this from its built-in types and from CRDs; the double declares the handful of
resources the broker, KIM and Gardener exchange (kubernetes-wire §1) and nothing else, so a typo in a
group or plural is a 404 here exactly as it would be in production.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

#: The verbs every served resource supports (no watch: the double has no watch cache).
RESOURCE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update")


@attrs.frozen
class PrinterColumn:
    """An extra column of ``kubectl get`` output (a CRD's ``additionalPrinterColumns``)."""

    name: str
    json_path: str  # dotted path below the object, e.g. ``.status.state``
    type: str = "string"


@attrs.frozen
class SubresourceType:
    """A POST-only subresource that returns another kind (``serviceaccounts/token``)."""

    name: str
    group: str
    version: str
    kind: str


@attrs.frozen
class ResourceType:
    """How one resource is served: its names, scope, subresources and CRD-like rules.

    Attributes:
        custom: served like a CustomResourceDefinition (generation always set, list items carry
            ``kind``/``apiVersion``, deleted objects returned on DELETE).
        generation: ``metadata.generation`` is maintained (CRs and Gardener objects).
        required: OpenAPI ``required`` lists by dotted parent path ("" is the object root, ``x[]``
            each item of list ``x``), checked where the parent exists, as CRD structural schemas do.
        name_rule: how ``metadata.name`` is validated: ``subdomain`` (RFC 1123, most objects),
            ``label`` (namespaces) or ``path`` (RBAC objects, which allow ``:``).
    """

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    subresources: tuple[SubresourceType, ...] = ()
    custom: bool = False
    generation: bool = False
    delete_returns_object: bool = False
    required: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    status_required: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    printer_columns: tuple[PrinterColumn, ...] = ()
    name_rule: str = "subdomain"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    def subresource(self, name: str) -> SubresourceType | None:
        return next((s for s in self.subresources if s.name == name), None)


class ResourceRegistry:
    """Lookup of served resources by path coordinates or by kubectl-style name (``plural[.group]``)."""

    def __init__(self, resources: Iterable[ResourceType]) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        for resource in resources:
            self._by_path[(resource.group, resource.version, resource.plural)] = resource

    def all(self) -> list[ResourceType]:
        return list(self._by_path.values())

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def resolve(self, name: str) -> ResourceType:
        """Find a resource by ``plural``, ``plural.group``, kind or short name (as kubectl does).

        Raises:
            KeyError: nothing matches.
        """
        plural, _, group = name.partition(".")
        for resource in self._by_path.values():
            names = {resource.plural, resource.singular_name, resource.kind.lower(), *resource.short_names}
            if plural.lower() in names and (not group or group == resource.group):
                return resource
        raise KeyError(name)

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, core group under ``""``."""
        groups: dict[str, list[str]] = {}
        for resource in self._by_path.values():
            versions = groups.setdefault(resource.group, [])
            if resource.version not in versions:
                versions.append(resource.version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [r for r in self._by_path.values() if r.group == group and r.version == version]


_STATE = PrinterColumn("State", ".status.state")

# Required fields of the Runtime CRD (infrastructure-manager
# config/crd/bases/infrastructuremanager.kyma-project.io_runtimes.yaml), down to the levels that catch a
# broken body builder.
_RUNTIME_REQUIRED: dict[str, tuple[str, ...]] = {
    "spec": ("security", "shoot"),
    "spec.security": ("administrators", "networking"),
    "spec.security.networking": ("filter",),
    "spec.security.networking.filter": ("egress",),
    "spec.security.networking.filter.egress": ("enabled",),
    "spec.shoot": (
        "name",
        "networking",
        "platformRegion",
        "provider",
        "purpose",
        "region",
        "secretBindingName",
    ),
    "spec.shoot.networking": ("nodes", "pods", "services"),
    "spec.shoot.provider": ("type", "workers"),
}

RUNTIMES = ResourceType(
    group="infrastructuremanager.kyma-project.io",
    version="v1",
    plural="runtimes",
    kind="Runtime",
    namespaced=True,
    status_subresource=True,
    custom=True,
    generation=True,
    delete_returns_object=True,
    required=_RUNTIME_REQUIRED,
    status_required={
        "status": ("state",),
        "status.conditions[]": ("lastTransitionTime", "message", "reason", "status", "type"),
    },
    printer_columns=(
        PrinterColumn("Provider", ".spec.shoot.provider.type"),
        PrinterColumn("Region", ".spec.shoot.region"),
        PrinterColumn("STATE", ".status.state"),
    ),
)

KYMAS = ResourceType(
    group="operator.kyma-project.io",
    version="v1beta2",
    plural="kymas",
    kind="Kyma",
    namespaced=True,
    status_subresource=True,
    custom=True,
    generation=True,
    delete_returns_object=True,
    required={"spec": ("channel",)},
    printer_columns=(_STATE,),
)

SHOOTS = ResourceType(
    group="core.gardener.cloud",
    version="v1beta1",
    plural="shoots",
    kind="Shoot",
    namespaced=True,
    short_names=("shoot",),
    status_subresource=True,
    subresources=(
        SubresourceType(
            "adminkubeconfig", "authentication.gardener.cloud", "v1alpha1", "AdminKubeconfigRequest"
        ),
    ),
    generation=True,
    delete_returns_object=True,
)

SECRETS = ResourceType(
    "", "v1", "secrets", "Secret", namespaced=True, printer_columns=(PrinterColumn("Type", ".type"),)
)
NAMESPACES = ResourceType(
    "",
    "v1",
    "namespaces",
    "Namespace",
    namespaced=False,
    short_names=("ns",),
    status_subresource=True,
    delete_returns_object=True,
    printer_columns=(PrinterColumn("Status", ".status.phase"),),
    name_rule="label",
)
SERVICE_ACCOUNTS = ResourceType(
    "",
    "v1",
    "serviceaccounts",
    "ServiceAccount",
    namespaced=True,
    short_names=("sa",),
    subresources=(SubresourceType("token", "authentication.k8s.io", "v1", "TokenRequest"),),
    delete_returns_object=True,
)

_RBAC = "rbac.authorization.k8s.io"

DEFAULT_RESOURCES: tuple[ResourceType, ...] = (
    NAMESPACES,
    SECRETS,
    ResourceType("", "v1", "configmaps", "ConfigMap", namespaced=True, short_names=("cm",)),
    SERVICE_ACCOUNTS,
    ResourceType(_RBAC, "v1", "clusterroles", "ClusterRole", namespaced=False, name_rule="path"),
    ResourceType(
        _RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False, name_rule="path"
    ),
    ResourceType(_RBAC, "v1", "roles", "Role", namespaced=True, name_rule="path"),
    ResourceType(_RBAC, "v1", "rolebindings", "RoleBinding", namespaced=True, name_rule="path"),
    RUNTIMES,
    KYMAS,
    SHOOTS,
    ResourceType(
        "security.gardener.cloud",
        "v1alpha1",
        "credentialsbindings",
        "CredentialsBinding",
        namespaced=True,
        generation=True,
        delete_returns_object=True,
    ),
    # SAP BTP service operator objects, which deprovisioning cleans up on a runtime.
    ResourceType(
        "services.cloud.sap.com",
        "v1",
        "serviceinstances",
        "ServiceInstance",
        namespaced=True,
        status_subresource=True,
        custom=True,
        generation=True,
        delete_returns_object=True,
    ),
    ResourceType(
        "services.cloud.sap.com",
        "v1",
        "servicebindings",
        "ServiceBinding",
        namespaced=True,
        status_subresource=True,
        custom=True,
        generation=True,
        delete_returns_object=True,
    ),
)


def default_registry() -> ResourceRegistry:
    """The resources every cluster of the local landscape serves."""
    return ResourceRegistry(DEFAULT_RESOURCES)
