"""Two broker replicas on one database provision for one new global account at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.memory.accounts import MemoryCredentialsBindings
from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.sql.storage import SqlStorage
from keb_app.bootstrap import Services, build_services
from keb_domain.errors import ClusterConflictError
from keb_domain.model.hap import CredentialsBindingInfo, LabelSelector
from keb_domain.model.operation import OperationState
from keb_domain.usecases.instances import ProvisionCommand
from tests.support import AWS, SERVICE, FakeClock, context, settings_for_tests


class RacingPools(MemoryCredentialsBindings):
    """Gardener's bindings, where every claimer has read the free bindings before any of them writes."""

    def __init__(self, kcp: MemoryControlPlane, parties: int) -> None:
        super().__init__(kcp)
        self._barrier = asyncio.Barrier(parties)
        self.conflicts = 0

    async def list(self, selector: LabelSelector) -> list[CredentialsBindingInfo]:
        found = await super().list(selector)
        if "!tenantName" in str(selector) and not self._barrier.broken:
            try:
                await asyncio.wait_for(self._barrier.wait(), 5.0)
            except TimeoutError:
                await self._barrier.abort()
        return found

    async def relabel(self, binding: CredentialsBindingInfo, labels: Mapping[str, str]) -> None:
        try:
            await super().relabel(binding, labels)
        except ClusterConflictError:
            self.conflicts += 1
            raise


def replica(engine: AsyncEngine, kcp: MemoryControlPlane, pools: RacingPools, clock: FakeClock) -> Services:
    """A broker replica with one worker, so each replica takes one of the two operations."""
    return build_services(
        settings_for_tests({"APP_OPERATION_WORKERS": "1", "APP_OPERATION_POLL_INTERVAL": "1s"}),
        storage=SqlStorage(engine),
        control_plane=kcp,
        credentials_bindings=pools,
        clock=clock,
        run_engine=False,
    )


async def test_two_replicas_claim_one_binding_for_a_new_global_account(sql_engine: AsyncEngine) -> None:
    """Both provisionings succeed on the same CredentialsBinding; the second claim write conflicted."""
    if sql_engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: the second replica claims no operation in the same round")
    clock = FakeClock()
    kcp = MemoryControlPlane(clock)
    pools = RacingPools(kcp, parties=2)
    for name in ("aws-001", "aws-002", "aws-003"):
        pools.add(name, {"hyperscalerType": "aws"})
    first, second = replica(sql_engine, kcp, pools, clock), replica(sql_engine, kcp, pools, clock)
    operations = []
    for instance_id in ("inst-1", "inst-2"):
        result = await first.instances.provision(
            ProvisionCommand(
                instance_id=instance_id,
                service_id=SERVICE,
                plan_id=AWS,
                platform_region="cf-eu10",
                context=context(ga="ga-new", sa=f"sa-{instance_id}"),
                parameters={"name": instance_id, "region": "eu-central-1"},
            )
        )
        operations.append(result.operation_id)
    ran = await asyncio.gather(first.engine.run_once(), second.engine.run_once())
    assert list(ran) == [1, 1]
    states = []
    bindings = set()
    async with first.storage() as uow:
        for operation_id, instance_id in zip(operations, ("inst-1", "inst-2"), strict=True):
            operation = await uow.operations.get(operation_id)
            instance = await uow.instances.get(instance_id)
            assert operation is not None
            assert instance is not None
            states.append(operation.state)
            bindings.add(instance.credentials_binding)
    assert states == [OperationState.SUCCEEDED, OperationState.SUCCEEDED]
    assert bindings == {"aws-001"}
    claimed = [b.name for b in await pools.list(LabelSelector(())) if "tenantName" in b.labels]
    assert claimed == ["aws-001"]
    assert pools.conflicts == 1
