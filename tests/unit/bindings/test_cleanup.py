"""The expired-binding cleanup walks every expired binding once, however many fail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keb_adapters.crypto import AesGcmCipher
from keb_adapters.memory.clusters import MemoryGardener, MemoryRuntimeClusters
from keb_domain.errors import ClusterUnavailableError
from keb_domain.model.binding import Binding, CredentialStrategy, ExpirationPolicy
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

    async def delete_binding_identity(self, runtime_id: str, name: str) -> None:
        if name.removeprefix("kyma-binding-") in self.unreachable:
            raise ClusterUnavailableError(f"runtime {runtime_id} does not answer")
        await super().delete_binding_identity(runtime_id, name)


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
        issuer=CredentialIssuer(core.kcp, MemoryGardener(core.kcp, core.clock), clusters),
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
