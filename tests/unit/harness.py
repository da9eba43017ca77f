"""A broker core over the memory adapters, driven by a fake clock: what the unit tests exercise.

No HTTP and no engine: tests call the use cases and run the operation processor themselves, so every
step is deterministic.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs

from keb_adapters.memory.accounts import MemoryCredentialsBindings
from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.memory.landscape_facts import MemoryMachineVolumeSizes, MemorySeedRegions
from keb_adapters.memory.runtime_config import MemoryRuntimeConfiguration
from keb_adapters.memory.storage import MemoryStorage
from keb_domain.model.hap import DEFAULT_RULES, HapRules
from keb_domain.model.instance import Instance
from keb_domain.model.operation import Operation
from keb_domain.model.plans import KYMA_SERVICE_ID, PLANS_BY_NAME
from keb_domain.usecases.accounts import HyperscalerAccounts
from keb_domain.usecases.config import BrokerConfig
from keb_domain.usecases.instances import InstanceUseCases, ProvisionCommand, UpdateCommand
from keb_domain.usecases.processing import OperationProcessor
from tests.support import AWS, FakeClock, SequentialIds, context, memory_pools, settings_for_tests

OWNER = "unit-test"


@functools.cache
def default_config() -> BrokerConfig:
    """The embedded-default broker configuration (built-in plans and providers YAML), parsed once."""
    return settings_for_tests().broker


@attrs.define
class Core:
    """Use cases and processor over shared memory adapters, plus handles on what stands behind them."""

    clock: FakeClock
    ids: SequentialIds
    storage: MemoryStorage
    kcp: MemoryControlPlane
    config: BrokerConfig
    instances: InstanceUseCases
    processor: OperationProcessor
    pools: MemoryCredentialsBindings
    runtime_configuration: MemoryRuntimeConfiguration
    seeds: MemorySeedRegions
    volume_sizes: MemoryMachineVolumeSizes

    async def run_due(self) -> int:
        """Process every operation that is due now, once each; returns how many ran."""
        now = self.clock.now()
        claimed = await self.storage.claim_due(now, OWNER, now + timedelta(minutes=5), limit=1000)
        for operation_id in claimed:
            await self.processor.process(operation_id)
            await self.storage.release(operation_id, OWNER)
        return len(claimed)

    async def settle(self, rounds: int = 500) -> None:
        """Move the clock to each next due time and process, until no operation is unfinished."""
        for _ in range(rounds):
            due = await self.storage.next_due_at()
            if due is None:
                return
            if due > self.clock.now():
                self.clock.current = due
            await self.run_due()
        raise AssertionError("operations did not settle")

    def instance(self, instance_id: str) -> Instance:
        """The committed instance; fails the test if there is none."""
        found = self.storage.instances.get(instance_id)
        assert found is not None, f"instance {instance_id} is not stored"
        return found

    def operation(self, operation_id: str) -> Operation:
        """The committed operation; fails the test if there is none."""
        found = self.storage.operations.get(operation_id)
        assert found is not None, f"operation {operation_id} is not stored"
        return found

    def operations_of(self, instance_id: str) -> list[Operation]:
        found = [op for op in self.storage.operations.values() if op.instance_id == instance_id]
        return sorted(found, key=lambda op: (op.created_at, op.id))


def make_core(
    config: BrokerConfig | None = None,
    *,
    ready_after: float = 0.0,
    deletion_delay: float = 0.0,
    pool_size: int = 20,
) -> Core:
    clock = FakeClock()
    ids = SequentialIds()
    storage = MemoryStorage()
    kcp = MemoryControlPlane(clock, ready_after=ready_after, deletion_delay=deletion_delay)
    used = config or default_config()
    pools = memory_pools(kcp, pool_size)
    runtime_configuration = MemoryRuntimeConfiguration()
    seeds = MemorySeedRegions()
    volume_sizes = MemoryMachineVolumeSizes()
    accounts = HyperscalerAccounts(HapRules.parse(DEFAULT_RULES, PLANS_BY_NAME), pools)
    return Core(
        clock=clock,
        ids=ids,
        storage=storage,
        kcp=kcp,
        config=used,
        instances=InstanceUseCases(storage, clock, ids, used, reads=storage, seed_regions=seeds),
        processor=OperationProcessor(
            storage,
            kcp,
            clock,
            ids,
            used,
            accounts=accounts,
            runtime_configuration=runtime_configuration,
            volume_sizes=volume_sizes,
        ),
        runtime_configuration=runtime_configuration,
        seeds=seeds,
        volume_sizes=volume_sizes,
        pools=pools,
    )


def provision_command(
    instance_id: str = "inst-1",
    plan_id: str = "",
    parameters: Mapping[str, Any] | None = None,
    *,
    platform_region: str = "cf-eu10",
    ctx: Mapping[str, Any] | None = None,
    **context_changes: Any,
) -> ProvisionCommand:
    """A provisioning command; by default an aws runtime in eu-central-1 requested from cf-eu10."""
    params = dict(parameters) if parameters is not None else {"name": "my-cluster", "region": "eu-central-1"}
    return ProvisionCommand(
        instance_id=instance_id,
        service_id=KYMA_SERVICE_ID,
        plan_id=plan_id or AWS,
        platform_region=platform_region,
        context=dict(ctx) if ctx is not None else context(**context_changes),
        parameters=params,
    )


def update_command(
    instance_id: str = "inst-1",
    parameters: Mapping[str, Any] | None = None,
    ctx: Mapping[str, Any] | None = None,
) -> UpdateCommand:
    return UpdateCommand(
        instance_id=instance_id,
        service_id=KYMA_SERVICE_ID,
        context=ctx,
        parameters=parameters,
        accepts_incomplete=True,
    )
