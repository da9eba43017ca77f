"""Counts for the state metrics, in four aggregate statements whatever the number of rows."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql import tables as t
from keb_adapters.sql.storage import UNFINISHED
from keb_domain.ports import BrokerStatistics


class SqlStatistics:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def statistics(self, now: datetime) -> BrokerStatistics:
        i, ops, b = t.instances, t.operations, t.bindings
        async with self.engine.connect() as connection:
            per_account = await connection.execute(
                sa.select(i.c.global_account_id, i.c.subaccount_id, sa.func.count()).group_by(
                    i.c.global_account_id, i.c.subaccount_id
                )
            )
            in_progress = await connection.execute(
                sa.select(ops.c.type, ops.c.plan_id, sa.func.count())
                .where(ops.c.state.in_(UNFINISHED))
                .group_by(ops.c.type, ops.c.plan_id)
            )
            due = await connection.execute(
                sa.select(sa.func.count()).where(
                    ops.c.state.in_(UNFINISHED),
                    sa.or_(ops.c.next_run_at.is_(None), ops.c.next_run_at <= now),
                    sa.or_(ops.c.lease_until.is_(None), ops.c.lease_until < now),
                )
            )
            earliest = await connection.execute(sa.select(sa.func.min(b.c.expires_at)))
            return BrokerStatistics(
                instances={(row[0], row[1]): int(row[2]) for row in per_account},
                in_progress={(row[0], row[1]): int(row[2]) for row in in_progress},
                due_operations=int(due.scalar() or 0),
                earliest_binding_expiry=earliest.scalar(),
            )
