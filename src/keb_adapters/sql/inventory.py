"""Inventory queries over SQL: ``/runtimes`` pages and the ``/info/runtimes`` stream.

A page costs the same few statements whatever its size: the count, the page of ids (live instances and,
for ``state=deprovisioned``, the archive, in one ordered union), then one batch query each for the
instances, archive rows, operations and (when asked) bindings of that page. ``/info/runtimes`` reads from a
server-side cursor, so memory stays flat with any number of instances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql import tables as t
from keb_adapters.sql.errors import connected
from keb_adapters.sql.mapping import from_row
from keb_domain.model.binding import Binding
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.inventory import (
    HIDDEN_BY_DEFAULT,
    STATE_FILTERS,
    InfoRuntime,
    LastOperationIs,
    RuntimeFilter,
    RuntimeRecord,
    RuntimesPage,
    RuntimeState,
)
from keb_domain.model.operation import Operation

# The operation's own columns; the lease belongs to the engine.
OPERATION_COLUMNS = [c.name for c in t.operations.c if not c.name.startswith("lease")]


def _any_of(column: sa.ColumnElement[Any], values: Sequence[str]) -> list[sa.ColumnElement[bool]]:
    return [column.in_(values)] if values else []


def _last_operation_is(rule: LastOperationIs, last: Any) -> sa.ColumnElement[bool]:
    """The domain's condition on the last started operation as SQL (NULL, no operation: false)."""
    return sa.and_(
        last.c.type.in_(sorted(t.value for t in rule.types)),
        last.c.state.in_(sorted(s.value for s in rule.states)),
    )


def _state(state: RuntimeState, last: Any) -> sa.ColumnElement[bool]:
    """One ``state`` filter on a live instance (``keb_domain.model.inventory.matches_state`` in SQL)."""
    if state is RuntimeState.ALL:
        return sa.true()
    if state is RuntimeState.SUSPENDED:
        suspended: sa.ColumnElement[bool] = t.instances.c.context["active"].as_boolean().is_(False)
        return suspended
    rule = STATE_FILTERS.get(state)
    return _last_operation_is(rule, last) if rule is not None else sa.false()


def _live_query(query: RuntimeFilter) -> sa.Select[Any]:
    i, last = t.instances, t.operations.alias("last_operation")
    where: list[sa.ColumnElement[bool]] = [
        *_any_of(i.c.global_account_id, query.accounts),
        *_any_of(i.c.subaccount_id, query.subaccounts),
        *_any_of(i.c.instance_id, query.instance_ids),
        *_any_of(i.c.runtime_id, query.runtime_ids),
        *_any_of(i.c.provider_region, query.regions),
        *_any_of(i.c.shoot_name, query.shoots),
        *_any_of(i.c.service_plan_name, query.plans),
    ]
    if query.expired:
        where.append(i.c.expired_at.is_not(None))
    if query.with_bindings:
        where.append(sa.exists().where(t.bindings.c.instance_id == i.c.instance_id))
    if query.states:
        where.append(sa.or_(*(_state(state, last) for state in query.states)))
    else:  # by default a finished deprovisioning (a suspended trial) hides the instance
        hidden = _last_operation_is(HIDDEN_BY_DEFAULT, last)
        where.append(sa.or_(last.c.id.is_(None), sa.not_(hidden)))
    return (
        sa.select(i.c.instance_id.label("id"), i.c.created_at, sa.literal("live").label("source"))
        .select_from(i.outerjoin(last, last.c.id == i.c.last_operation_id))
        .where(*where)
    )


def _archive(query: RuntimeFilter) -> sa.Select[Any]:
    a = t.instances_archived
    where: list[sa.ColumnElement[bool]] = [
        *_any_of(a.c.global_account_id, query.accounts),
        *_any_of(a.c.subaccount_id, query.subaccounts),
        *_any_of(a.c.instance_id, query.instance_ids),
        *_any_of(a.c.last_runtime_id, query.runtime_ids),
        *_any_of(a.c.region, query.regions),
        *_any_of(a.c.shoot_name, query.shoots),
        *_any_of(a.c.plan_name, query.plans),
    ]
    if query.with_bindings:
        where.append(sa.exists().where(t.bindings.c.instance_id == a.c.instance_id))
    # An id provisioned again after its deprovisioning is listed once: as the live instance it is now.
    where.append(~sa.exists().where(t.instances.c.instance_id == a.c.instance_id))
    return sa.select(
        a.c.instance_id.label("id"), a.c.created_at, sa.literal("archive").label("source")
    ).where(*where)


def _matches(query: RuntimeFilter) -> sa.Subquery:
    parts = ([_live_query(query)] if query.wants_live else []) + (
        [_archive(query)] if query.wants_archive else []
    )
    if not parts:
        parts = [_live_query(query).where(sa.false())]
    return (sa.union_all(*parts) if len(parts) > 1 else parts[0]).subquery("matches")


def _operation(row: Any, prefix: str) -> Operation | None:
    values = {column: row[f"{prefix}{column}"] for column in OPERATION_COLUMNS}
    return from_row(values, Operation) if values["id"] is not None else None


def _first(kind: str, temporary: bool, *, newest: bool) -> sa.Subquery:
    """Per instance, its first or newest operation of a kind (a window function: SQLite and PostgreSQL)."""
    ops = t.operations
    order = (ops.c.created_at.desc(), ops.c.id.desc()) if newest else (ops.c.created_at, ops.c.id)
    ranked = (
        sa.select(
            *ops.c, sa.func.row_number().over(partition_by=ops.c.instance_id, order_by=order).label("rank")
        )
        .where(ops.c.type == kind, ops.c.temporary.is_(temporary))
        .subquery()
    )
    return sa.select(ranked).where(ranked.c.rank == 1).subquery()


class SqlInventory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def runtimes(
        self, query: RuntimeFilter, *, offset: int, limit: int, bindings: bool
    ) -> RuntimesPage:
        matches = _matches(query)
        async with connected(self.engine) as connection:
            total = int(
                (await connection.execute(sa.select(sa.func.count()).select_from(matches))).scalar_one()
            )
            page = await connection.execute(
                sa.select(matches.c.id, matches.c.source)
                .order_by(matches.c.created_at, matches.c.id)
                .offset(offset)
                .limit(limit)
            )
            ordered = [(row.id, row.source) for row in page]
            live_ids = [i for i, source in ordered if source == "live"]
            archive_ids = [i for i, source in ordered if source == "archive"]
            instances: dict[str, Instance] = {}
            archived: dict[str, ArchivedInstance] = {}
            operations: dict[str, list[Operation]] = defaultdict(list)
            held: dict[str, list[Binding]] = defaultdict(list)
            if live_ids:
                rows = await connection.execute(
                    sa.select(t.instances).where(t.instances.c.instance_id.in_(live_ids))
                )
                instances = {row.instance_id: from_row(row._mapping, Instance) for row in rows}
                rows = await connection.execute(
                    sa.select(t.operations)
                    .where(t.operations.c.instance_id.in_(live_ids))
                    .order_by(t.operations.c.created_at, t.operations.c.id)
                )
                for row in rows:
                    operations[row.instance_id].append(from_row(row._mapping, Operation))
            if archive_ids:
                rows = await connection.execute(
                    sa.select(t.instances_archived).where(t.instances_archived.c.instance_id.in_(archive_ids))
                )
                archived = {row.instance_id: from_row(row._mapping, ArchivedInstance) for row in rows}
            if bindings and ordered:
                rows = await connection.execute(
                    sa.select(t.bindings)
                    .where(t.bindings.c.instance_id.in_([i for i, _ in ordered]))
                    .order_by(t.bindings.c.created_at, t.bindings.c.id)
                )
                for row in rows:
                    held[row.instance_id].append(from_row(row._mapping, Binding))
        records = tuple(
            RuntimeRecord(
                instance=instances.get(i) if source == "live" else None,
                archived=archived.get(i) if source == "archive" else None,
                operations=tuple(operations.get(i, ())),
                bindings=tuple(held.get(i, ())),
            )
            for i, source in ordered
        )
        return RuntimesPage(records, total)

    async def info_runtimes(self) -> AsyncIterator[InfoRuntime]:
        i = t.instances
        provisioning = _first("provision", False, newest=False)
        deprovisioning = _first("deprovision", False, newest=True)
        last = t.operations.alias("last_operation")
        columns = OPERATION_COLUMNS
        query = (
            sa.select(
                i,
                *(provisioning.c[c].label(f"p_{c}") for c in columns),
                *(deprovisioning.c[c].label(f"d_{c}") for c in columns),
                last.c.updated_at.label("last_updated_at"),
            )
            .select_from(
                i.outerjoin(provisioning, provisioning.c.instance_id == i.c.instance_id)
                .outerjoin(deprovisioning, deprovisioning.c.instance_id == i.c.instance_id)
                .outerjoin(last, last.c.id == i.c.last_operation_id)
            )
            .order_by(i.c.created_at, i.c.instance_id)
        )
        instance_columns = [c.name for c in i.c]
        async with connected(self.engine) as connection:
            result = await connection.stream(query.execution_options(yield_per=500))
            async for row in result:
                mapping = row._mapping
                instance = from_row({c: mapping[c] for c in instance_columns}, Instance)
                yield InfoRuntime(
                    instance=instance,
                    provisioning=_operation(mapping, "p_"),
                    deprovisioning=_operation(mapping, "d_"),
                    modified_at=mapping["last_updated_at"] or instance.updated_at,
                )

    async def instance_ids_of_runtimes(self, runtime_ids: Sequence[str]) -> list[str]:
        if not runtime_ids:
            return []
        live = sa.select(t.instances.c.instance_id).where(t.instances.c.runtime_id.in_(runtime_ids))
        gone = sa.select(t.instances_archived.c.instance_id).where(
            t.instances_archived.c.last_runtime_id.in_(runtime_ids)
        )
        async with connected(self.engine) as connection:
            return [row[0] for row in await connection.execute(sa.union(live, gone))]
