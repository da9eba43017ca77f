"""Who may do what: the broker checks bearer tokens itself (decisions.md §4).

KEB leaves this to an Istio gateway; the rules here are that gateway's, so the same tokens work: the
broker's OSB API needs scope ``broker:write``; the runtime inventory for CLD needs ``cld:read``; the
operators' runtime and event views need a ``groups`` claim with runtimeAdmin, runtimeOperator or
runtimeViewer, or scope ``runtimes:read``. Which route needs which ``Access`` is the HTTP adapter's
mapping (``keb_adapters.http.auth.required_access``).
"""

from __future__ import annotations

import enum
from typing import Protocol

import attrs

from keb_domain.errors import ForbiddenError

SCOPE_BROKER_WRITE = "broker:write"
SCOPE_CLD_READ = "cld:read"
SCOPE_RUNTIMES_READ = "runtimes:read"
ALL_SCOPES = (SCOPE_BROKER_WRITE, SCOPE_CLD_READ, SCOPE_RUNTIMES_READ)
RUNTIME_GROUPS = frozenset({"runtimeAdmin", "runtimeOperator", "runtimeViewer"})


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
        """The scope that grants this access (a runtime group also grants RUNTIMES_READ)."""
        return {
            Access.BROKER_WRITE: SCOPE_BROKER_WRITE,
            Access.CLD_READ: SCOPE_CLD_READ,
            Access.RUNTIMES_READ: SCOPE_RUNTIMES_READ,
        }.get(self, "")


def allows(principal: Principal, access: Access) -> bool:
    """Whether the principal's scopes or groups grant the access."""
    if access in (Access.OPEN, Access.AUTHENTICATED):
        return True
    if access is Access.RUNTIMES_READ:
        return bool(principal.groups & RUNTIME_GROUPS) or SCOPE_RUNTIMES_READ in principal.scopes
    return access.requirement in principal.scopes


def refusal(access: Access) -> ForbiddenError:
    """Why a principal that ``allows`` turned away is refused, naming what would grant the access."""
    description = f"the token lacks scope {access.requirement}"
    if access is Access.RUNTIMES_READ:
        description += " or a runtimeAdmin, runtimeOperator or runtimeViewer group"
    return ForbiddenError(description)


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal:
        """The principal of a valid token. Raises UnauthenticatedError saying why a token is not valid."""
        ...
