"""The RuntimeClusters port: binding identities and tokens in a runtime cluster, by the real adapter and by
the memory implementation (kubernetes-wire §1.3). On the real side, whether a token works is asked of the
runtime cluster with the official sync client."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keb_domain.errors import ClusterInvalidError, ClusterNotFoundError
from keb_domain.model.binding import BindingIdentity

from .conftest import Side
from .support import MANAGED_BY, delete_identity, ensure_identity, request_token

RUNTIME = "rt-1"
NAME = "kyma-binding-b1"
SLACK = timedelta(seconds=5)


@pytest.fixture
async def runtime(side: Side) -> Side:
    """The side with one runtime whose cluster and kubeconfig exist."""
    await side.add_runtime(RUNTIME, "c-1234567")
    return side


async def test_token_of_a_binding_identity_works(runtime: Side) -> None:
    """After ensure_binding_identity a token of the ServiceAccount is accepted by the runtime cluster."""
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    issued = await request_token(runtime.runtime_clusters, RUNTIME, NAME, 900)
    assert await runtime.token_works(RUNTIME, issued.secret.reveal())


async def test_token_expires_after_the_requested_time(runtime: Side) -> None:
    """The token's expiry is ``expiration_seconds`` from now."""
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    issued = await request_token(runtime.runtime_clusters, RUNTIME, NAME, 900)
    assert abs(issued.expires_at - (runtime.now() + timedelta(seconds=900))) < SLACK


async def test_ensure_binding_identity_twice_is_fine(runtime: Side) -> None:
    """A repeated ensure_binding_identity keeps what exists, and tokens still work."""
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    issued = await request_token(runtime.runtime_clusters, RUNTIME, NAME, 600)
    assert await runtime.token_works(RUNTIME, issued.secret.reveal())


@pytest.mark.parametrize("seconds", [1, 599])
async def test_token_under_ten_minutes_is_invalid(runtime: Side, seconds: int) -> None:
    """A TokenRequest for less than 600 seconds is refused with ClusterInvalidError."""
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    with pytest.raises(ClusterInvalidError, match="less than 10 minutes"):
        await request_token(runtime.runtime_clusters, RUNTIME, NAME, seconds)


async def test_token_beyond_two_to_the_32_seconds_is_invalid(runtime: Side) -> None:
    """A TokenRequest for more than 2^32 seconds is refused with ClusterInvalidError."""
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    with pytest.raises(ClusterInvalidError, match="2\\^32"):
        await request_token(runtime.runtime_clusters, RUNTIME, NAME, 2**32 + 1)


async def test_token_without_the_service_account_raises_not_found(runtime: Side) -> None:
    """A TokenRequest for a ServiceAccount that does not exist is ClusterNotFoundError."""
    with pytest.raises(ClusterNotFoundError):
        await request_token(runtime.runtime_clusters, RUNTIME, NAME, 600)


async def test_identity_on_an_unknown_runtime_raises_not_found(runtime: Side) -> None:
    """A runtime without a kubeconfig Secret cannot be reached: ClusterNotFoundError."""
    with pytest.raises(ClusterNotFoundError):
        await ensure_identity(
            runtime.runtime_clusters, "rt-missing", BindingIdentity(NAME, labels=MANAGED_BY)
        )


async def test_identity_on_a_deleted_runtime_raises_not_found(runtime: Side) -> None:
    """Once its Runtime is deleted, a runtime cluster can no longer be reached: ClusterNotFoundError."""
    await runtime.control_plane.delete_runtime(RUNTIME)
    runtime.finish_deletion()
    with pytest.raises(ClusterNotFoundError):
        await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))


async def test_delete_binding_identity_twice_is_fine(runtime: Side) -> None:
    """Deleting an identity that is already gone (or never existed) returns quietly."""
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    await delete_identity(runtime.runtime_clusters, RUNTIME, NAME)
    await delete_identity(runtime.runtime_clusters, RUNTIME, NAME)
    with pytest.raises(ClusterNotFoundError):
        await request_token(runtime.runtime_clusters, RUNTIME, NAME, 600)


async def test_token_stops_working_after_delete_binding_identity(runtime: Side) -> None:
    """Once the identity is deleted, the token it had is refused (401 or 403 on the real side)."""
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    token = (await request_token(runtime.runtime_clusters, RUNTIME, NAME, 600)).secret.reveal()
    assert await runtime.token_works(RUNTIME, token)
    await delete_identity(runtime.runtime_clusters, RUNTIME, NAME)
    assert not await runtime.token_works(RUNTIME, token)


async def test_deleting_one_identity_leaves_another_binding_working(runtime: Side) -> None:
    """Unbinding one of two bindings revokes only its own token (KEB's bind_envtest_test.go)."""
    for name in (NAME, "kyma-binding-b2"):
        await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(name, labels=MANAGED_BY))
    kept = (await request_token(runtime.runtime_clusters, RUNTIME, "kyma-binding-b2", 600)).secret.reveal()
    gone = (await request_token(runtime.runtime_clusters, RUNTIME, NAME, 600)).secret.reveal()
    await delete_identity(runtime.runtime_clusters, RUNTIME, NAME)
    assert await runtime.token_works(RUNTIME, kept)
    assert not await runtime.token_works(RUNTIME, gone)


async def test_a_recreated_identity_does_not_revive_an_old_token(runtime: Side) -> None:
    """A token is bound to its ServiceAccount's uid: re-creating the identity leaves the old token dead."""
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    old = (await request_token(runtime.runtime_clusters, RUNTIME, NAME, 600)).secret.reveal()
    await delete_identity(runtime.runtime_clusters, RUNTIME, NAME)
    await ensure_identity(runtime.runtime_clusters, RUNTIME, BindingIdentity(NAME, labels=MANAGED_BY))
    assert not await runtime.token_works(RUNTIME, old)
