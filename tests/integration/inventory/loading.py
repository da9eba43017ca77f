"""Many runtimes at once: a regular large fleet and a bulk loader that writes it in a few statements."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql import tables
from keb_adapters.sql.mapping import to_row
from keb_adapters.versions import at_version
from keb_domain.model.instance import ArchivedInstance
from keb_domain.model.operation import OperationState
from tests.builders import at
from tests.unit.inventory.fleet import SUCCEEDED, Fleet, archived, binding, runtime

HISTORIES: tuple[tuple[tuple[str, OperationState], ...], ...] = (
    (("provision", SUCCEEDED),),
    (("provision", SUCCEEDED), ("update", SUCCEEDED)),
    (("provision", SUCCEEDED), ("update", SUCCEEDED), ("update", OperationState.FAILED)),
    (("provision", OperationState.IN_PROGRESS),),
)


@functools.cache
def large_fleet(count: int, *, archived_every: int = 10, bound_every: int = 7) -> Fleet:
    """``count`` live runtimes ``i-NN`` a second apart with one to three operations each, every
    ``archived_every``-th also an archived runtime, every ``bound_every``-th with a binding (built once)."""
    lives = [
        runtime(
            n,
            HISTORIES[n % len(HISTORIES)],
            created=float(n),
            global_account_id=f"ga-{n % 50}",
            subaccount_id=f"sa-{n}",
            runtime_id=f"rt-{n}",
            shoot_name=f"c-{n:07x}",
        )
        for n in range(count)
    ]
    gone = [
        archived(f"a-{n:05d}", created_at=at(n + 0.5), last_runtime_id=f"rt-old-{n}")
        for n in range(0, count, archived_every)
    ]
    return Fleet(
        instances=tuple(i for i, _ in lives),
        operations=tuple(o for _, ops in lives for o in ops),
        archive=tuple(gone),
        bindings=tuple(binding(i.instance_id) for i, _ in lives[::bound_every]),
    )


async def bulk_load(engine: AsyncEngine, fleet: Fleet, chunk: int = 2000) -> None:
    """Insert the fleet with multi-row inserts, as stored through the repositories (version 1), then let
    PostgreSQL gather statistics as its autovacuum would: without them it joins by nested loops."""

    def rows(values: Sequence[Any]) -> list[dict[str, Any]]:
        return [to_row(at_version(v, 1) if not isinstance(v, ArchivedInstance) else v) for v in values]

    batches: list[tuple[sa.Table, Sequence[Any]]] = [
        (tables.instances, fleet.instances),
        (tables.operations, fleet.operations),
        (tables.instances_archived, fleet.archive),
        (tables.bindings, fleet.bindings),
    ]
    async with engine.begin() as connection:
        for table, values in batches:
            for start in range(0, len(values), chunk):
                await connection.execute(sa.insert(table), rows(values[start : start + chunk]))
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execute(sa.text("ANALYZE"))
