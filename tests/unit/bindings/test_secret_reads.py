"""A token binding reaches its runtime with the admin kubeconfig Secret read once, not once per call."""

from __future__ import annotations

import yaml

from keb_adapters.crypto import AesGcmCipher
from keb_adapters.memory.clusters import MemoryGardener, MemoryRuntimeClusters
from keb_domain.model.binding import ExpirationPolicy
from keb_domain.secrets import Secret
from keb_domain.usecases.bindings import BindCommand, BindingUseCases, CredentialIssuer
from tests.support import AWS, SERVICE
from tests.unit.harness import Core, default_config, make_core, provision_command


async def _provisioned() -> tuple[Core, BindingUseCases, MemoryRuntimeClusters]:
    core = make_core()
    await core.instances.provision(provision_command())
    await core.settle()
    clusters = MemoryRuntimeClusters(core.kcp, core.clock)
    bindings = BindingUseCases(
        core.storage,
        core.clock,
        issuer=CredentialIssuer(MemoryGardener(core.kcp, core.clock), clusters),
        cipher=AesGcmCipher(Secret("0123456789abcdef")),
        catalog=default_config().catalog,
        policy=ExpirationPolicy(),
        reads=core.storage,
    )
    return core, bindings, clusters


def _secret_reads(core: Core) -> int:
    return sum(1 for method, _ in core.kcp.calls if method == "get_runtime_kubeconfig")


async def test_a_token_bind_reads_the_runtime_kubeconfig_secret_once() -> None:
    """Identity, token and the kubeconfig's server and CA all come from one read of the Secret."""
    core, bindings, clusters = await _provisioned()
    core.kcp.calls.clear()
    view = await bindings.bind(BindCommand("inst-1", "b1", SERVICE, AWS, {"token_request": True}))
    assert _secret_reads(core) == 1
    kubeconfig = yaml.safe_load(view.kubeconfig.reveal())
    assert kubeconfig["clusters"][0]["cluster"]["server"].startswith("https://api.")
    token = kubeconfig["users"][0]["user"]["token"]
    assert clusters.token_works(core.instance("inst-1").runtime_id, token)


async def test_an_unbind_reads_the_runtime_kubeconfig_secret_once() -> None:
    """Revoking a token binding's identity reads the Secret once too."""
    core, bindings, _ = await _provisioned()
    await bindings.bind(BindCommand("inst-1", "b1", SERVICE, AWS, {"token_request": True}))
    core.kcp.calls.clear()
    await bindings.unbind("inst-1", "b1", service_id=SERVICE, plan_id=AWS)
    assert _secret_reads(core) == 1
