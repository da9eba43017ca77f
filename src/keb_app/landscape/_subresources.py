"""The POST-only subresources: ``serviceaccounts/token`` and Gardener's ``shoots/adminkubeconfig``.

Both answer a request object of another kind (TokenRequest, AdminKubeconfigRequest) and store nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Protocol

import yaml

from keb_app.landscape._auth import API_AUDIENCE, Authenticator
from keb_app.landscape._errors import FieldError, bad_request, invalid, method_not_allowed
from keb_app.landscape._store import ObjectStore, rfc3339

JsonObject = dict[str, Any]

# Gardener accepts these advertised-address names as kube-apiserver endpoints (kubeconfig.go).
_KUBE_APISERVER_ADDRESSES = ("external", "internal", "wildcard-tls-seed-bound", "unmanaged")
_ADMIN_KUBECONFIG_MAX_SECONDS = 24 * 60 * 60  # --shoot-admin-kubeconfig-max-expiration default
_MIN_EXPIRATION_SECONDS = 600


class KubeconfigIssuer(Protocol):
    """Where Gardener's admin kubeconfigs come from: the landscape's CA issues their certificates."""

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


class Subresources:
    """Answers POSTs to the subresources of one cluster (its lock held)."""

    def __init__(
        self,
        store: ObjectStore,
        authenticator: Authenticator,
        gardener: KubeconfigIssuer,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._authenticator = authenticator
        self._gardener = gardener
        self._clock = clock

    def create(self, subresource: str, namespace: str, name: str, body: Any, user: str) -> JsonObject:
        """The answer to ``POST {resource}/{name}/{subresource}`` by ``user``.

        Raises:
            ApiError: 405 for a subresource that takes no POST, else as kube-apiserver or Gardener answer.
        """
        if subresource == "token":
            return self._token_request(namespace, name, body)
        if subresource == "adminkubeconfig":
            return self._admin_kubeconfig_request(namespace, name, body, user)
        raise method_not_allowed()

    def _token_request(self, namespace: str, name: str, body: Any) -> JsonObject:
        """``POST serviceaccounts/{name}/token``: a TokenRequest with an RS256 JWT (kubernetes-wire §1.3)."""
        service_accounts = self._store.registry.resolve("serviceaccounts")
        account = self._store.existing(service_accounts, namespace, name)
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
        token = self._authenticator.service_account_token(account, audiences, now, expiration)
        metadata = dict(body.get("metadata") or {})
        metadata.update(
            {
                "name": name,
                "namespace": namespace,
                "uid": account["metadata"]["uid"],
                "creationTimestamp": rfc3339(now),
            }
        )
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

    def _admin_kubeconfig_request(self, namespace: str, name: str, body: Any, user: str) -> JsonObject:
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
        shoot = self._store.existing(
            self._store.registry.resolve("shoots.core.gardener.cloud"), namespace, name
        )
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
        kubeconfig = self._gardener.shoot_admin_kubeconfig(
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
