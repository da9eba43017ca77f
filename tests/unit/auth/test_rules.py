"""Which paths need what (KEB's gateway rules, decisions.md §4) and which principals satisfy a rule."""

from __future__ import annotations

import pytest

from keb_adapters.http.auth import required_access
from keb_adapters.http.boundary import Refused
from keb_adapters.http.errors import status_of
from keb_domain.auth import Access, Principal, allows, refusal
from keb_domain.errors import KebError, UnauthenticatedError

# Every path family the broker serves or KEB's gateway names, with the rule §4 gives it.
PATHS = [
    ("/oauth/v2/catalog", Access.BROKER_WRITE),
    ("/oauth/v2/service_instances/i-1", Access.BROKER_WRITE),
    ("/oauth/v2/service_instances/i-1/service_bindings/b-1/last_operation", Access.BROKER_WRITE),
    ("/oauth/cf-eu10/v2/catalog", Access.BROKER_WRITE),
    ("/oauth/cf-eu10/v2/service_instances/i-1/last_operation", Access.BROKER_WRITE),
    ("/oauth", Access.BROKER_WRITE),
    ("/oauth2/token", Access.OPEN),
    ("/oauth2/certs", Access.OPEN),
    ("/info/runtimes", Access.CLD_READ),
    ("/runtimes", Access.RUNTIMES_READ),
    ("/runtimes/r-1", Access.RUNTIMES_READ),
    ("/events", Access.RUNTIMES_READ),
    ("/events/e-1", Access.RUNTIMES_READ),
    ("/expire/service_instance/i-1", Access.BROKER_WRITE),
    ("/healthz", Access.OPEN),
    ("/metrics", Access.OPEN),
    ("/kubeconfig/x", Access.OPEN),
    ("/schema/openapi.json", Access.OPEN),
    ("/schema/swagger", Access.OPEN),
    ("/", Access.OPEN),
    ("/no-such-route", Access.AUTHENTICATED),
]


@pytest.mark.parametrize(("path", "access"), PATHS, ids=[path for path, _ in PATHS])
def test_each_path_family_has_the_gateway_rule(path: str, access: Access) -> None:
    """Each path family maps to the rule of KEB's gateway; an unlisted path still needs a token."""
    assert required_access(path) is access


@pytest.mark.parametrize(
    "path",
    ["/oauth2", "/oauth2/other", "/oauthx/v2/catalog", "/oauth2/token/extra"],
)
def test_paths_that_only_look_like_open_or_osb_paths_need_a_token(path: str) -> None:
    """``/oauth2`` is not ``/oauth``, and only the issuer's exact two paths under it are open."""
    assert required_access(path) is Access.AUTHENTICATED


@pytest.mark.parametrize(
    "path", ["/info/runtimes/x", "/runtimesx", "/eventsx", "/healthz/x", "/metricsx", "/kubeconfig"]
)
def test_near_misses_of_named_paths_fall_back_to_needing_a_token(path: str) -> None:
    """A path that merely starts like a named one does not inherit its rule."""
    assert required_access(path) is Access.AUTHENTICATED


@pytest.mark.parametrize(
    ("access", "requirement"),
    [
        (Access.BROKER_WRITE, "broker:write"),
        (Access.CLD_READ, "cld:read"),
        (Access.RUNTIMES_READ, "runtimes:read"),
        (Access.OPEN, ""),
        (Access.AUTHENTICATED, ""),
    ],
)
def test_each_rule_names_the_scope_a_403_asks_for(access: Access, requirement: str) -> None:
    """The scope a 403 names is the one the rule needs."""
    assert access.requirement == requirement


def principal(scopes: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> Principal:
    return Principal("client-1", frozenset(scopes), frozenset(groups))


# (scopes, groups, access, allowed): the truth table of allows().
TRUTH_TABLE = [
    ((), (), Access.OPEN, True),
    ((), (), Access.AUTHENTICATED, True),
    ((), (), Access.BROKER_WRITE, False),
    (("broker:write",), (), Access.BROKER_WRITE, True),
    (("cld:read", "runtimes:read"), (), Access.BROKER_WRITE, False),
    (("Broker:Write",), (), Access.BROKER_WRITE, False),
    ((), ("broker:write",), Access.BROKER_WRITE, False),
    (("cld:read",), (), Access.CLD_READ, True),
    (("broker:write",), (), Access.CLD_READ, False),
    ((), ("runtimeAdmin",), Access.CLD_READ, False),
    ((), (), Access.RUNTIMES_READ, False),
    (("runtimes:read",), (), Access.RUNTIMES_READ, True),
    ((), ("runtimeAdmin",), Access.RUNTIMES_READ, True),
    ((), ("runtimeOperator",), Access.RUNTIMES_READ, True),
    ((), ("runtimeViewer",), Access.RUNTIMES_READ, True),
    ((), ("runtimeViewer", "others"), Access.RUNTIMES_READ, True),
    ((), ("runtimeadmin", "admins"), Access.RUNTIMES_READ, False),
    ((), ("runtimes:read",), Access.RUNTIMES_READ, False),
    (("runtimeAdmin",), (), Access.RUNTIMES_READ, False),
    (("broker:write", "cld:read"), (), Access.RUNTIMES_READ, False),
]


@pytest.mark.parametrize(
    ("scopes", "groups", "access", "allowed"),
    TRUTH_TABLE,
    ids=[f"{access.name}-scopes={scopes}-groups={groups}" for scopes, groups, access, _ in TRUTH_TABLE],
)
def test_allows_follows_the_truth_table(
    scopes: tuple[str, ...], groups: tuple[str, ...], access: Access, allowed: bool
) -> None:
    """A principal passes a rule exactly when it holds the scope, or for runtimes a runtime group."""
    assert allows(principal(scopes, groups), access) is allowed


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UnauthenticatedError("no token"), 401),
        (refusal(Access.CLD_READ), 403),
        (Refused(413, "too large").as_error(), 413),
        (Refused(400, "bad path").as_error(), 400),
    ],
)
def test_refusals_before_the_handlers_come_from_the_one_error_table(error: KebError, status: int) -> None:
    """The auth and boundary middlewares answer with the status the error table gives their error."""
    assert status_of(error) == status


def test_a_scope_refusal_names_what_would_grant_access() -> None:
    """403 for the runtime views names the scope and the groups that grant them."""
    description = refusal(Access.RUNTIMES_READ).description
    assert "runtimes:read" in description
    assert "runtimeViewer" in description
