"""The expired-binding cleanup walks every expired binding once, however many fail."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from keb_adapters.crypto import AesGcmCipher
from keb_adapters.memory.clusters import MemoryGardener, MemoryRuntimeClusters
from keb_domain.errors import ClusterUnavailableError
from keb_domain.model.binding import Binding, BindingIdentity, CredentialStrategy, ExpirationPolicy
from keb_domain.ports import IssuedCredentials, RuntimeCluster
from keb_domain.secrets import Secret
from keb_domain.usecases.bindings import BindCommand, BindingUseCases, CredentialIssuer
from tests.support import AWS, SERVICE
from tests.unit.harness import Core, default_config, make_core, provision_command

KEY = Secret("0123456789abcdef0123456789abcdef")


class SometimesUnreachable(MemoryRuntimeClusters):
    """Revoking the identities of the named bindings fails as an unreachable runtime does."""

    def __init__(self, core: Core, unreachable: set[str]) -> None:
        super().__init__(core.kcp, core.clock)
        self.unreachable = unreachable

    @contextlib.asynccontextmanager
    async def connect(self, runtime_id: str) -> AsyncIterator[RuntimeCluster]:
        async with super().connect(runtime_id) as cluster:
            yield _PartlyUnreachable(cluster, runtime_id, self.unreachable)


class _PartlyUnreachable:
    """A runtime cluster that does not answer the revocation of the named bindings."""

    def __init__(self, inner: RuntimeCluster, runtime_id: str, unreachable: set[str]) -> None:
        self.endpoint = inner.endpoint
        self._inner = inner
        self._runtime_id = runtime_id
        self._unreachable = unreachable

    async def ensure_binding_identity(self, identity: BindingIdentity) -> None:
        await self._inner.ensure_binding_identity(identity)

    async def request_token(self, name: str, expiration_seconds: int) -> IssuedCredentials:
        return await self._inner.request_token(name, expiration_seconds)

    async def delete_binding_identity(self, name: str) -> None:
        if name.removeprefix("kyma-binding-") in self._unreachable:
            raise ClusterUnavailableError(f"runtime {self._runtime_id} does not answer")
        await self._inner.delete_binding_identity(name)


@pytest.mark.parametrize("batch", [1, 2, 100])
async def test_failing_bindings_are_reported_once_and_do_not_block_the_rest(batch: int) -> None:
    """Five expired token bindings, two unreachable: three are removed and two reported, in one pass."""
    core = make_core()
    await core.instances.provision(provision_command())
    await core.settle()
    clusters = SometimesUnreachable(core, unreachable={"b1", "b3"})
    bindings = BindingUseCases(
        core.storage,
        core.clock,
        issuer=CredentialIssuer(MemoryGardener(core.kcp, core.clock), clusters),
        cipher=AesGcmCipher(KEY),
        catalog=default_config().catalog,
        policy=ExpirationPolicy(max_bindings=10),
        reads=core.storage,
    )
    for number in range(5):
        await bindings.bind(BindCommand("inst-1", f"b{number}", SERVICE, AWS, {"token_request": True}))
    core.clock.advance(timedelta(seconds=601).total_seconds())

    report = await bindings.cleanup_expired(batch=batch)

    assert sorted(binding for _, binding in report.removed) == ["b0", "b2", "b4"]
    assert sorted(binding for _, binding, _ in report.failed) == ["b1", "b3"]
    left = sorted(key[1] for key in core.storage.bindings)
    assert left == ["b1", "b3"]
    assert all(
        isinstance(b, Binding) and b.strategy is CredentialStrategy.TOKEN_REQUEST
        for b in core.storage.bindings.values()
    )
