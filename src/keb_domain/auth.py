"""Who may call what: the broker checks bearer tokens itself (decisions.md §4).

KEB leaves this to an Istio gateway; the rules here are that gateway's, so the same tokens work:
``/oauth/**`` needs scope ``broker:write``; ``/info/runtimes`` needs ``cld:read``; ``/runtimes`` and
``/events`` need a ``groups`` claim with runtimeAdmin, runtimeOperator or runtimeViewer, or scope
``runtimes:read``. What is not listed as open needs at least a valid token.
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs

SCOPE_BROKER_WRITE = "broker:write"
SCOPE_CLD_READ = "cld:read"
SCOPE_RUNTIMES_READ = "runtimes:read"
ALL_SCOPES = (SCOPE_BROKER_WRITE, SCOPE_CLD_READ, SCOPE_RUNTIMES_READ)
RUNTIME_GROUPS = frozenset({"runtimeAdmin", "runtimeOperator", "runtimeViewer"})

# Open without a token: health, metrics, KEB's kubeconfig passthrough, the API document, the local issuer.
OPEN_PATHS = frozenset({"/", "/healthz", "/readyz", "/metrics", "/oauth2/token", "/oauth2/certs"})
OPEN_PREFIXES = ("/kubeconfig/", "/schema")


@attrs.frozen
class Principal:
    """The caller a verified token names."""

    subject: str
    scopes: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()


class Access(enum.Enum):
    OPEN = "open"
    BROKER_WRITE = "broker"  # scope broker:write
    CLD_READ = "cld"  # scope cld:read
    RUNTIMES_READ = "runtimes"  # a runtime group, or scope runtimes:read
    AUTHENTICATED = "authenticated"  # any valid token

    @property
    def requirement(self) -> str:
        """For 403 bodies and ``WWW-Authenticate: ... scope=...``."""
        return {
            Access.BROKER_WRITE: SCOPE_BROKER_WRITE,
            Access.CLD_READ: SCOPE_CLD_READ,
            Access.RUNTIMES_READ: SCOPE_RUNTIMES_READ,
        }.get(self, "")


def required_access(path: str) -> Access:
    """The rule for a request path (the gateway's AuthorizationPolicies, KEB's chart)."""
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
        return Access.OPEN
    if path == "/oauth" or path.startswith("/oauth/"):
        return Access.BROKER_WRITE
    if path == "/info/runtimes":
        return Access.CLD_READ
    if path in ("/runtimes", "/events") or path.startswith(("/runtimes/", "/events/")):
        return Access.RUNTIMES_READ
    if path.startswith("/expire/"):
        return Access.BROKER_WRITE  # KEB's cleanup jobs call it from inside the cluster
    return Access.AUTHENTICATED


def allows(principal: Principal, access: Access) -> bool:
    if access in (Access.OPEN, Access.AUTHENTICATED):
        return True
    if access is Access.RUNTIMES_READ:
        return bool(principal.groups & RUNTIME_GROUPS) or SCOPE_RUNTIMES_READ in principal.scopes
    return access.requirement in principal.scopes


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal:
        """The principal of a valid token. Raises UnauthenticatedError saying why a token is not valid."""
        ...
