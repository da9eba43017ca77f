"""Claiming and releasing hyperscaler accounts through provisioning and deprovisioning (memory adapters)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from keb_adapters.memory.accounts import MemoryCredentialsBindings
from keb_domain.errors import ClusterConflictError
from keb_domain.model.hap import DEFAULT_RULES, CredentialsBindingInfo, HapRules, LabelSelector
from keb_domain.model.operation import OperationState
from keb_domain.model.plans import PLANS_BY_NAME
from keb_domain.usecases.accounts import EMPTY_POOL, HyperscalerAccounts
from keb_domain.usecases.instances import DeprovisionCommand
from tests.support import AWS, SERVICE, TRIAL
from tests.unit.harness import Core, make_core, provision_command


async def provision(core: Core, instance_id: str, ga: str, **changes: object) -> str:
    """Provision an aws runtime (or what ``changes`` say) and settle; returns the operation state."""
    plan_id = str(changes.pop("plan_id", ""))
    params = {"name": "trial-1"} if plan_id == TRIAL else None
    result = await core.instances.provision(
        provision_command(instance_id, plan_id, params, ga=ga, sa=f"sa-{instance_id}", **changes)  # type: ignore[arg-type]
    )
    await core.settle()
    return core.operation(result.operation_id).state.value


def runtime_binding(core: Core, instance_id: str) -> str:
    runtime = core.kcp.runtimes[core.instance(instance_id).runtime_id.lower()]
    return str(runtime["spec"]["shoot"]["secretBindingName"])


async def test_runtimes_of_one_global_account_share_one_claimed_binding() -> None:
    """Two aws runtimes of one account share a binding claimed with tenantName; another account, another."""
    core = make_core()
    assert await provision(core, "i-1", "ga-1") == "succeeded"
    assert await provision(core, "i-2", "ga-1") == "succeeded"
    assert await provision(core, "i-3", "ga-2") == "succeeded"
    first, second, other = (runtime_binding(core, i) for i in ("i-1", "i-2", "i-3"))
    assert first == second != other
    assert core.pools.labels(first)["tenantName"] == "ga-1"
    assert core.pools.labels(other)["tenantName"] == "ga-2"
    assert core.instance("i-1").credentials_binding == first


async def test_an_eu_access_runtime_gets_a_binding_of_the_eu_pool() -> None:
    """A provisioning from cf-eu11 uses the aws(PR=cf-eu11) -> EU pool."""
    core = make_core()
    assert await provision(core, "i-1", "ga-1", platform_region="cf-eu11") == "succeeded"
    labels = core.pools.labels(runtime_binding(core, "i-1"))
    assert labels["euAccess"] == "true"
    assert labels["tenantName"] == "ga-1"


async def test_a_trial_uses_a_shared_binding_without_claiming_it() -> None:
    """Trials come from the shared pool of the trial provider and leave no tenantName."""
    core = make_core()
    assert await provision(core, "i-1", "ga-1", plan_id=TRIAL) == "succeeded"
    labels = core.pools.labels(runtime_binding(core, "i-1"))
    assert labels["shared"] == "true"
    assert "tenantName" not in labels


async def test_an_empty_pool_fails_the_provisioning_with_a_clear_description() -> None:
    """With every aws binding claimed by others the operation fails, saying so."""
    core = make_core(pool_size=1)
    assert await provision(core, "i-1", "ga-1") == "succeeded"
    result = await core.instances.provision(provision_command("i-2", ga="ga-2", sa="sa-2"))
    await core.settle()
    operation = core.operation(result.operation_id)
    assert operation.state is OperationState.FAILED
    assert EMPTY_POOL in operation.description
    assert not core.kcp.runtimes.get("i-2")


async def test_deprovisioning_the_last_runtime_releases_the_binding_as_dirty() -> None:
    """The binding is marked dirty=true, keeping tenantName, once no Shoot uses it; not before."""
    core = make_core()
    await provision(core, "i-1", "ga-1")
    await provision(core, "i-2", "ga-1")
    binding = runtime_binding(core, "i-1")
    await core.instances.deprovision(DeprovisionCommand("i-1", SERVICE, AWS))
    await core.settle()
    assert "dirty" not in core.pools.labels(binding)
    await core.instances.deprovision(DeprovisionCommand("i-2", SERVICE, AWS))
    await core.settle()
    assert core.pools.labels(binding) == {"hyperscalerType": "aws", "tenantName": "ga-1", "dirty": "true"}


async def test_shared_bindings_are_never_released() -> None:
    """Deprovisioning a trial leaves its shared binding untouched."""
    core = make_core()
    await provision(core, "i-1", "ga-1", plan_id=TRIAL)
    binding = runtime_binding(core, "i-1")
    before = core.pools.labels(binding)
    await core.instances.deprovision(DeprovisionCommand("i-1", SERVICE, TRIAL))
    await core.settle()
    assert core.pools.labels(binding) == before


class Interleaving(MemoryCredentialsBindings):
    """Lets every concurrent resolver read the pool before any of them writes, the worst interleaving."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self._barrier = asyncio.Barrier(parties)
        self.conflicts = 0

    async def list(self, selector: LabelSelector) -> list[CredentialsBindingInfo]:
        found = await super().list(selector)
        if "!tenantName" in str(selector) and not self._barrier.broken:
            try:
                await asyncio.wait_for(self._barrier.wait(), 1.0)
            except TimeoutError:
                await self._barrier.abort()
        return found

    async def relabel(self, binding: CredentialsBindingInfo, labels: Mapping[str, str]) -> None:
        try:
            await super().relabel(binding, labels)
        except ClusterConflictError:
            self.conflicts += 1
            raise


async def test_concurrent_claims_for_one_new_account_claim_one_binding() -> None:
    """Three resolvers racing for one new account end on one binding: the losers' writes conflict."""
    pools = Interleaving(3)
    for name in ("aws-001", "aws-002", "aws-003"):
        pools.add(name, {"hyperscalerType": "aws"})
    accounts = HyperscalerAccounts(HapRules.parse(DEFAULT_RULES, PLANS_BY_NAME), pools)
    core = make_core()
    await core.instances.provision(provision_command("i-1", ga="ga-new"))
    instance = core.instance("i-1")
    names = await asyncio.gather(*(accounts.resolve(instance) for _ in range(3)))
    assert len(set(names)) == 1
    assert pools.writes == 1
    assert pools.conflicts == 2
    claimed = [b.name for b in await pools.list(LabelSelector(())) if b.labels.get("tenantName")]
    assert claimed == [names[0]]


async def test_alicloud_and_gdch_claim_from_their_own_pools_and_release_dirty() -> None:
    """alicloud and build-runtime-alicloud of one account share an alicloud binding, gdch claims a gdch
    one; deprovisioning both alicloud runtimes marks their binding dirty."""
    core = make_core()
    alicloud = {"name": "c-1", "region": "eu-central-1"}
    for instance_id, plan in (("i-1", "alicloud"), ("i-2", "build-runtime-alicloud")):
        command = provision_command(instance_id, PLANS_BY_NAME[plan].id, alicloud, ga="ga-1", sa=instance_id)
        await core.instances.provision(command)
    gdch = provision_command(
        "i-3", PLANS_BY_NAME["gdch"].id, {"name": "c-3", "region": "us-west16"}, ga="ga-1"
    )
    await core.instances.provision(gdch)
    await core.settle()
    first, second, third = (runtime_binding(core, i) for i in ("i-1", "i-2", "i-3"))
    assert first == second
    assert core.pools.labels(first) == {"hyperscalerType": "alicloud", "tenantName": "ga-1"}
    assert core.pools.labels(third) == {"hyperscalerType": "gdch", "tenantName": "ga-1"}
    for instance_id, plan in (("i-1", "alicloud"), ("i-2", "build-runtime-alicloud")):
        await core.instances.deprovision(DeprovisionCommand(instance_id, SERVICE, PLANS_BY_NAME[plan].id))
    await core.settle()
    assert core.pools.labels(first)["dirty"] == "true"
    assert "dirty" not in core.pools.labels(third)
