"""Property: whatever claims a signed token carries, it opens a path only if it holds what §4 requires."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from keb_adapters.http.auth import required_access
from keb_domain.auth import Access, allows
from tests.unit.auth.fakes import EC_KEY, FakeJwks, claims, sign, verifier

# Real names and near misses a careless comparison (case, prefix, substring) would confuse with them.
SCOPE_NAMES = [
    "broker:write",
    "cld:read",
    "runtimes:read",
    "broker:read",
    "Broker:write",
    "broker:write:all",
    "broker",
    "write",
    "runtimes",
    "",
]
GROUP_NAMES = ["runtimeAdmin", "runtimeOperator", "runtimeViewer", "runtimeadmin", "runtime", "admins"]

# Path families and what the gateway rules (decisions.md §4) require on them, written out independently.
PATH_FAMILIES: list[tuple[str, Access]] = [
    ("/oauth/v2/{x}", Access.BROKER_WRITE),
    ("/oauth/{x}/v2/service_instances/{x}", Access.BROKER_WRITE),
    ("/expire/service_instance/{x}", Access.BROKER_WRITE),
    ("/info/runtimes", Access.CLD_READ),
    ("/runtimes", Access.RUNTIMES_READ),
    ("/runtimes/{x}", Access.RUNTIMES_READ),
    ("/events/{x}", Access.RUNTIMES_READ),
]
REQUIRED_SCOPE = {
    Access.BROKER_WRITE: "broker:write",
    Access.CLD_READ: "cld:read",
    Access.RUNTIMES_READ: "runtimes:read",
}
RUNTIME_GROUPS = {"runtimeAdmin", "runtimeOperator", "runtimeViewer"}


def names_claim(names: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """A claim as a token may carry it: absent (None), a space-separated string or a list."""
    return st.one_of(
        st.none(),
        st.lists(names, max_size=4).map(" ".join),
        st.lists(names, max_size=4),
    )


def granted(claim: Any) -> set[str]:
    """The names a claim grants, as RFC 8693 and common issuers write it."""
    if isinstance(claim, str):
        return set(claim.split())
    if isinstance(claim, list):
        return set(claim)
    return set()


segment = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)


@st.composite
def paths(draw: st.DrawFn) -> tuple[str, Access]:
    template, access = draw(st.sampled_from(PATH_FAMILIES))
    path = template
    while "{x}" in path:
        path = path.replace("{x}", draw(segment), 1)
    return path, access


@given(
    path_and_access=paths(),
    scope=names_claim(st.sampled_from(SCOPE_NAMES)),
    scp=names_claim(st.sampled_from(SCOPE_NAMES)),
    groups=names_claim(st.sampled_from(GROUP_NAMES + SCOPE_NAMES)),
)
def test_a_verified_token_opens_a_path_exactly_when_it_holds_the_required_scope_or_group(
    path_and_access: tuple[str, Access], scope: Any, scp: Any, groups: Any
) -> None:
    """A token the verifier accepts is allowed on a path if and only if its claims grant what §4 requires."""
    path, access = path_and_access
    token = sign(claims(scope=scope, scp=scp, groups=groups), EC_KEY)
    principal = asyncio.run(verifier(FakeJwks(EC_KEY)).verify(token))

    scopes = granted(scope) | granted(scp)
    entitled = REQUIRED_SCOPE[access] in scopes
    if access is Access.RUNTIMES_READ:
        entitled = entitled or bool(granted(groups) & RUNTIME_GROUPS)
    assert required_access(path) is access
    assert allows(principal, required_access(path)) is entitled
