"""Counts for the state metrics over the memory storage, as the SQL statements count them."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from keb_adapters.memory.storage import MemoryStorage
from keb_domain.ports import BrokerStatistics


class MemoryStatistics:
    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage

    async def statistics(self, now: datetime) -> BrokerStatistics:
        storage = self._storage
        unfinished = [op for op in storage.operations.values() if not op.state.is_final]
        due = 0
        for operation in unfinished:
            lease = storage.leases.get(operation.id)
            ready = operation.next_run_at is None or operation.next_run_at <= now
            if ready and (lease is None or lease.until < now):
                due += 1
        expiries = [binding.expires_at for binding in storage.bindings.values()]
        return BrokerStatistics(
            instances=dict(
                Counter((i.global_account_id, i.subaccount_id) for i in storage.instances.values())
            ),
            in_progress=dict(Counter((op.type.value, op.plan_id) for op in unfinished)),
            due_operations=due,
            earliest_binding_expiry=min(expiries) if expiries else None,
        )
