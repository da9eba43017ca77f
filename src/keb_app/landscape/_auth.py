"""Who calls a cluster: client certificates the landscape issued, the admin token, service-account tokens.

Like kube-apiserver's union authenticator, the first credential that is accepted decides; none is a 401.
Service-account tokens are RS256 JWTs (kubernetes-wire §1.3) signed with the cluster's own key and bound
to the ServiceAccount's uid, so deleting the account revokes them.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable
from typing import Any

import attrs
from joserfc.jwt import JWTClaimsRegistry

from keb_app.landscape._errors import unauthorized
from keb_app.landscape._pki import InvalidTokenError, TokenSigner, new_bearer_token
from keb_app.landscape._rbac import Identity, service_account_identity
from keb_app.landscape._store import ObjectStore

#: ``--service-account-issuer`` and the default ``--api-audiences`` of a kube-apiserver.
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCE = SERVICE_ACCOUNT_ISSUER


@attrs.frozen
class PresentedCertificate:
    """A verified client certificate and what the landscape recorded when issuing it."""

    cluster: str
    user: str
    groups: tuple[str, ...]
    not_before: float
    not_after: float


@attrs.frozen
class Credentials:
    """What a request authenticates with; the token never appears in ``repr``."""

    bearer_token: str | None = attrs.field(default=None, repr=False)
    certificate: PresentedCertificate | None = None


class Authenticator:
    """The credentials one cluster accepts, and the key it signs service-account tokens with."""

    def __init__(
        self,
        cluster: str,
        store: ObjectStore,
        clock: Callable[[], float],
        *,
        admin_token: str | None = None,
        signer: TokenSigner | None = None,
    ) -> None:
        self._cluster = cluster
        self._store = store
        self._clock = clock
        self.admin_token = admin_token or new_bearer_token()
        # Generated on the first TokenRequest: RSA key generation is the slowest part of a new cluster.
        self._signer = signer
        self._claims = JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            iss={"essential": True, "value": SERVICE_ACCOUNT_ISSUER},
            aud={"essential": True, "value": API_AUDIENCE},
            exp={"essential": True},
        )

    def __repr__(self) -> str:
        return f"Authenticator(cluster={self._cluster!r})"

    @property
    def signing_key_pem(self) -> bytes | None:
        """The service-account key to persist (None until a token was issued)."""
        return self._signer.key_pem if self._signer is not None else None

    def authenticate(self, credentials: Credentials) -> Identity:
        """Who is calling: a certificate issued for this cluster, the admin token, or a live SA token.

        Raises:
            ApiError: 401 when no credential is accepted.
        """
        now = self._clock()
        cert = credentials.certificate
        if cert is not None and cert.cluster == self._cluster and cert.not_before <= now < cert.not_after:
            return Identity(user=cert.user, groups=(*cert.groups, "system:authenticated"), admin=True)
        token = credentials.bearer_token
        if token:
            if hmac.compare_digest(token.encode(), self.admin_token.encode()):
                return Identity(
                    user="kubernetes-admin", groups=("system:masters", "system:authenticated"), admin=True
                )
            identity = self._service_account(token)
            if identity is not None:
                return identity
        raise unauthorized()

    def _service_account(self, token: str) -> Identity | None:
        if self._signer is None:
            return None  # no token was ever issued here
        try:
            claims = self._signer.verify(token, self._claims)
        except InvalidTokenError:
            return None
        private = claims.get("kubernetes.io") or {}
        account_claim = private.get("serviceaccount") or {} if isinstance(private, dict) else {}
        namespace, name = private.get("namespace"), account_claim.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            return None
        # The token is bound to the ServiceAccount's uid: a deleted (or re-created) account invalidates it.
        account = self._store.lookup("", "serviceaccounts", namespace, name)
        if account is None or account["metadata"]["uid"] != account_claim.get("uid"):
            return None
        return service_account_identity(namespace, name)

    def service_account_token(
        self, account: dict[str, Any], audiences: list[str], issued_at: int, expiration: int
    ) -> str:
        """A token for ``account`` with kube-apiserver's claims, valid for ``expiration`` seconds."""
        if self._signer is None:
            self._signer = TokenSigner.generate()
            self._store.changed = True  # the key must be persisted, or tokens die with a restart
        meta = account["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        return self._signer.sign(
            {
                "aud": audiences,
                "exp": issued_at + expiration,
                "iat": issued_at,
                "nbf": issued_at,
                "iss": SERVICE_ACCOUNT_ISSUER,
                "jti": str(uuid.uuid4()),
                "sub": f"system:serviceaccount:{namespace}:{name}",
                "kubernetes.io": {
                    "namespace": namespace,
                    "serviceaccount": {"name": name, "uid": meta["uid"]},
                },
            }
        )
