"""Bindings: kubeconfig credentials for a runtime, and the two ways to make them.

* ``GARDENER_ADMIN_KUBECONFIG`` (the seed's default, ``token_request: false``): Gardener's
  ``shoots/{name}/adminkubeconfig`` issues a client-certificate kubeconfig; nothing in the cluster can be
  revoked, it simply expires.
* ``TOKEN_REQUEST`` (``token_request: true``, or KEB's later name ``service_account: true``): a
  ServiceAccount, ClusterRole and ClusterRoleBinding ``kyma-binding-{binding_id}`` in the runtime and a
  TokenRequest for it; unbinding deletes them, which revokes the token.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import yaml

from keb_domain.errors import InvalidRequestError
from keb_domain.model.resources import OidcConfiguration

BINDING_NAMESPACE = "kyma-system"
MANAGED_BY_LABELS: Mapping[str, str] = {"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"}


class CredentialStrategy(enum.Enum):
    """How a binding's kubeconfig is made; the values are KEB's ``binding_type`` names."""

    GARDENER_ADMIN_KUBECONFIG = "gardener_admin_kubeconfig"
    TOKEN_REQUEST = "service_account"  # noqa: S105 - KEB's binding_type name, not a password

    @property
    def revocable(self) -> bool:
        return self is CredentialStrategy.TOKEN_REQUEST


BINDING_NAME_PREFIX = "kyma-binding-"
# Kubernetes names ServiceAccounts with DNS-1123 subdomains: at most 253 characters, lowercase letters,
# digits, '-' and '.', each dot-separated part starting and ending with a letter or digit.
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_K8S_NAME_LENGTH = 253
MAX_TOKEN_BINDING_ID_LENGTH = MAX_K8S_NAME_LENGTH - len(BINDING_NAME_PREFIX)


def binding_resource_name(binding_id: str) -> str:
    """The ServiceAccount, ClusterRole and ClusterRoleBinding name of a token binding."""
    return f"{BINDING_NAME_PREFIX}{binding_id}"


@attrs.frozen
class AccessRule:
    """One rule of a ClusterRole: these verbs on these resources of these API groups (``*``: all)."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]


# What a token binding's kubeconfig may do in its runtime: everything, as KEB's binding ClusterRole grants.
BINDING_ACCESS = (AccessRule(api_groups=("*",), resources=("*",), verbs=("*",)),)


@attrs.frozen
class BindingIdentity:
    """Who a token binding's kubeconfig is in the runtime: a ServiceAccount, and the ClusterRole (bound to
    it by a ClusterRoleBinding of the same name) that says what it may do."""

    name: str
    namespace: str = BINDING_NAMESPACE
    labels: Mapping[str, str] = attrs.field(factory=lambda: dict(MANAGED_BY_LABELS))
    rules: tuple[AccessRule, ...] = BINDING_ACCESS

    @classmethod
    def of_binding(cls, binding_id: str) -> BindingIdentity:
        return cls(name=binding_resource_name(binding_id))


def check_nameable(binding_id: str, strategy: CredentialStrategy) -> None:
    """A token binding's id must make a valid Kubernetes name, or the cluster refuses it after we stored it.

    KEB passes the id through and answers the API server's refusal with a 500; we refuse it up front with a
    400 naming the rule. Admin-kubeconfig bindings create nothing named after the id, so any id does.
    """
    if not strategy.revocable:
        return
    name = binding_resource_name(binding_id)
    if len(name) > MAX_K8S_NAME_LENGTH or not _DNS1123_SUBDOMAIN.fullmatch(name):
        raise InvalidRequestError(
            f"binding id {binding_id[:64]!r}: with token_request the id names Kubernetes resources "
            f"{BINDING_NAME_PREFIX}<id>, so it must be at most {MAX_TOKEN_BINDING_ID_LENGTH} characters of "
            "lowercase letters, digits, '-' and '.', start and end with a letter or digit, and have no "
            "empty part between dots"
        )


@attrs.frozen
class ExpirationPolicy:
    """``expiration_seconds``: default, bounds (Gardener refuses less than 600) and the per-instance limit."""

    default_seconds: int = 600
    min_seconds: int = 600
    max_seconds: int = 7200
    max_bindings: int = 10

    def seconds(self, requested: int | None) -> int:
        """The expiration to use; 0 or absent means the default (KEB)."""
        if not requested:
            return self.default_seconds
        if requested > self.max_seconds:
            raise InvalidRequestError(f"expiration_seconds cannot be greater than {self.max_seconds}")
        if requested < self.min_seconds:
            raise InvalidRequestError(f"expiration_seconds cannot be less than {self.min_seconds}")
        return requested


@attrs.frozen
class BindingParameters:
    """The bind request's ``parameters``, checked."""

    expiration_seconds: int | None = None
    strategy: CredentialStrategy = CredentialStrategy.GARDENER_ADMIN_KUBECONFIG

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> BindingParameters:
        expiration = raw.get("expiration_seconds")
        if expiration is not None and (not isinstance(expiration, int) or isinstance(expiration, bool)):
            raise InvalidRequestError(
                f"parameters.expiration_seconds: expected an integer, got {type(expiration).__name__}"
            )
        flags = {key: raw[key] for key in ("token_request", "service_account") if key in raw}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise InvalidRequestError(
                    f"parameters.{key}: expected true or false, got {type(value).__name__}"
                )
        if len(set(flags.values())) > 1:
            raise InvalidRequestError("parameters.token_request and parameters.service_account disagree")
        token = any(flags.values())
        return cls(
            expiration_seconds=expiration,
            strategy=CredentialStrategy.TOKEN_REQUEST
            if token
            else CredentialStrategy.GARDENER_ADMIN_KUBECONFIG,
        )


@attrs.frozen
class Binding:
    """A binding row. ``credentials`` is the encrypted kubeconfig; empty while it is being created."""

    instance_id: str
    binding_id: str
    strategy: CredentialStrategy
    expiration_seconds: int
    created_at: datetime
    expires_at: datetime
    created_by: str = ""
    credentials: str = attrs.field(default="", repr=False)
    version: int = 0

    @classmethod
    def placeholder(
        cls,
        *,
        instance_id: str,
        binding_id: str,
        strategy: CredentialStrategy,
        expiration_seconds: int,
        now: datetime,
        created_by: str,
    ) -> Binding:
        """The row written before the credentials exist: it marks the creation as in progress."""
        return cls(
            instance_id=instance_id,
            binding_id=binding_id,
            strategy=strategy,
            expiration_seconds=expiration_seconds,
            created_at=now,
            expires_at=now + timedelta(seconds=expiration_seconds),
            created_by=created_by,
        )

    @property
    def in_progress(self) -> bool:
        return not self.credentials

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def with_credentials(self, encrypted: str, expires_at: datetime) -> Binding:
        return attrs.evolve(self, credentials=encrypted, expires_at=expires_at)


@attrs.frozen
class ClusterEndpoint:
    """The API server of a runtime, as its admin kubeconfig names it: what a kubeconfig the broker hands
    out needs besides the user."""

    server: str
    certificate_authority_data: str


def build_token_kubeconfig(cluster_name: str, endpoint: ClusterEndpoint, token: str) -> str:
    """The kubeconfig of a token binding (kubernetes-wire §1.4): cluster, context and user are all named
    after the instance's ``name`` parameter; server and CA come from the admin kubeconfig."""
    return (
        "\n---\n"
        "apiVersion: v1\n"
        "kind: Config\n"
        f"current-context: {cluster_name}\n"
        "clusters:\n"
        f"- name: {cluster_name}\n"
        "  cluster:\n"
        f"    certificate-authority-data: {endpoint.certificate_authority_data}\n"
        f"    server: {endpoint.server}\n"
        "contexts:\n"
        f"- name: {cluster_name}\n"
        "  context:\n"
        f"    cluster: {cluster_name}\n"
        f"    user: {cluster_name}\n"
        "users:\n"
        f"- name: {cluster_name}\n"
        "  user:\n"
        f"    token: {token}\n"
    )


OIDC_LOGIN_HINT = (
    "kubelogin is not installed, which is required to connect to the cluster with OIDC. "
    "Install it: https://github.com/int128/kubelogin"
)


def build_oidc_kubeconfig(
    cluster_name: str, endpoint: ClusterEndpoint, oidc: Sequence[OidcConfiguration]
) -> str:
    """``GET /kubeconfig/{id}`` (keb-reference §5.3): one context and exec user per OIDC configuration of
    the Runtime CR, named ``<name>``, ``<name>-2``...; without OIDC configuration, no users at all."""
    names = [cluster_name if index == 0 else f"{cluster_name}-{index + 1}" for index in range(len(oidc))]
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": names[0] if names else cluster_name,
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "certificate-authority-data": endpoint.certificate_authority_data,
                    "server": endpoint.server,
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": cluster_name, "user": name}} for name in names],
    }
    if oidc:
        config["users"] = [
            {
                "name": name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "kubectl-oidc_login",
                        "args": [
                            "get-token",
                            f"--oidc-issuer-url={entry.issuer_url}",
                            f"--oidc-client-id={entry.client_id}",
                            "--oidc-extra-scope=email",
                            "--oidc-extra-scope=openid",
                        ],
                        "installHint": OIDC_LOGIN_HINT,
                        "interactiveMode": "IfAvailable",
                    }
                },
            }
            for name, entry in zip(names, oidc, strict=True)
        ]
    return yaml.safe_dump(config, sort_keys=False)
