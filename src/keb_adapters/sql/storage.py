"""SQL storage: the storage ports over SQLAlchemy Core, with row <-> domain mapping functions.

Writes are version-checked (``UPDATE ... WHERE version = :read``); a lost race raises
StorageConflictError, as does an insert whose key exists. Operation claiming uses
``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that several broker replicas share the work.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self

import attrs
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from keb_adapters.sql import tables as t
from keb_adapters.sql.errors import MESSAGE as UNAVAILABLE
from keb_adapters.sql.errors import connected, is_unavailable, transaction, unavailable_as_domain_error
from keb_adapters.sql.mapping import from_row, to_row
from keb_adapters.versions import V, at_version
from keb_domain.errors import StorageConflictError, StorageUnavailableError
from keb_domain.model.binding import Binding
from keb_domain.model.instance import ArchivedInstance, Instance
from keb_domain.model.operation import Operation, OperationState, OperationType
from keb_domain.ports import BindingRead, InstanceRead, OperationEvent, PolledOperation

UNFINISHED = (OperationState.PENDING.value, OperationState.IN_PROGRESS.value)


# --- connections -------------------------------------------------------------------------------------


def _dropped(error: sa.exc.DBAPIError) -> bool:
    """Whether the database connection was found dead (the pool then discards it and all older ones)."""
    return error.connection_invalidated


class _Session:
    """The connection of one unit of work, which survives a connection the server dropped while pooled.

    There is no ping before each checkout (a round trip on every request); instead, when the *first*
    statement of the unit of work finds its pooled connection dead, nothing has happened yet in this
    transaction, so it is repeated once on a fresh connection. A failure later in the unit of work is
    left to the caller, as any other database error.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._fresh = True

    async def open(self) -> None:
        self.connection = await self._engine.connect()
        try:
            await self.connection.begin()
        except BaseException:
            with contextlib.suppress(Exception):
                await self.connection.close()
            raise

    async def execute(self, statement: sa.Executable) -> sa.CursorResult[Any]:
        if not self._fresh:
            return await self.connection.execute(statement)
        self._fresh = False
        try:
            return await self.connection.execute(statement)
        except sa.exc.DBAPIError as error:
            if not _dropped(error):
                raise
        await self.close()
        with unavailable_as_domain_error(connecting=True):  # the server may be gone, not just the connection
            await self.open()
        return await self.connection.execute(statement)

    async def close(self) -> None:
        try:
            if self.connection.in_transaction():
                await self.connection.rollback()
        finally:
            await self.connection.close()


# --- repositories ------------------------------------------------------------------------------------


class _Rows(Generic[V]):
    """Reads and version-checked writes of one table, shared by the repositories."""

    def __init__(self, connection: _Session, table: sa.Table, cls: type[V]) -> None:
        self._c = connection
        self._table = table
        self._cls = cls

    async def one(self, where: sa.ColumnElement[bool]) -> V | None:
        row = (await self._c.execute(sa.select(self._table).where(where))).first()
        return from_row(row._mapping, self._cls) if row else None

    async def many(self, query: sa.Select[Any]) -> list[V]:
        return [from_row(row._mapping, self._cls) for row in await self._c.execute(query)]

    async def insert(self, value: V, label: str) -> None:
        """Insert at version 1. Raises StorageConflictError when the key exists."""
        try:
            await self._c.execute(sa.insert(self._table).values(to_row(at_version(value, 1))))
        except IntegrityError:
            raise StorageConflictError(f"{label} already exists") from None

    async def update(self, value: V, where: sa.ColumnElement[bool], label: str) -> V:
        """Write if the stored version is still the one read; returns the value at its new version."""
        updated = at_version(value, value.version + 1)
        result = await self._c.execute(
            sa.update(self._table)
            .where(where, self._table.c.version == value.version)
            .values(to_row(updated))
        )
        if result.rowcount != 1:
            raise StorageConflictError(f"{label} was changed by a concurrent writer")
        return updated


class _Instances:
    def __init__(self, connection: _Session) -> None:
        self._c = connection
        self._rows = _Rows(connection, t.instances, Instance)

    async def get(self, instance_id: str) -> Instance | None:
        return await self._rows.one(t.instances.c.instance_id == instance_id)

    async def add(self, instance: Instance) -> None:
        await self._rows.insert(instance, f"instance {instance.instance_id}")

    async def update(self, instance: Instance) -> Instance:
        where = t.instances.c.instance_id == instance.instance_id
        return await self._rows.update(instance, where, f"instance {instance.instance_id}")

    async def delete(self, instance_id: str) -> None:
        await self._c.execute(sa.delete(t.instances).where(t.instances.c.instance_id == instance_id))

    async def exists_for_global_account(self, global_account_id: str) -> bool:
        query = sa.select(sa.literal(1)).where(t.instances.c.global_account_id == global_account_id).limit(1)
        return (await self._c.execute(query)).first() is not None


class _Operations:
    def __init__(self, connection: _Session) -> None:
        self._c = connection
        self._rows = _Rows(connection, t.operations, Operation)

    async def get(self, operation_id: str) -> Operation | None:
        return await self._rows.one(t.operations.c.id == operation_id)

    async def add(self, operation: Operation) -> None:
        await self._rows.insert(operation, f"operation {operation.id}")

    async def update(self, operation: Operation) -> Operation:
        return await self._rows.update(
            operation, t.operations.c.id == operation.id, f"operation {operation.id}"
        )

    async def list_for_instance(self, instance_id: str) -> list[Operation]:
        return await self._rows.many(
            sa.select(t.operations)
            .where(t.operations.c.instance_id == instance_id)
            .order_by(t.operations.c.created_at, t.operations.c.id)
        )

    async def delete_for_instance(self, instance_id: str) -> None:
        await self._c.execute(sa.delete(t.operations).where(t.operations.c.instance_id == instance_id))


class _Archive:
    def __init__(self, connection: _Session) -> None:
        self._c = connection

    async def get(self, instance_id: str) -> ArchivedInstance | None:
        query = sa.select(t.instances_archived).where(t.instances_archived.c.instance_id == instance_id)
        row = (await self._c.execute(query)).first()
        return from_row(row._mapping, ArchivedInstance) if row else None

    async def add(self, archived: ArchivedInstance) -> None:
        await self._c.execute(
            sa.delete(t.instances_archived).where(t.instances_archived.c.instance_id == archived.instance_id)
        )
        await self._c.execute(sa.insert(t.instances_archived).values(to_row(archived)))


class _Events:
    def __init__(self, connection: _Session) -> None:
        self._c = connection

    async def add(self, event: OperationEvent) -> None:
        await self._c.execute(sa.insert(t.events).values(attrs.asdict(event)))

    async def list(
        self, *, instance_ids: Sequence[str] = (), operation_ids: Sequence[str] = ()
    ) -> list[OperationEvent]:
        query = sa.select(
            t.events.c.instance_id,
            t.events.c.operation_id,
            t.events.c.level,
            t.events.c.message,
            t.events.c.created_at,
        ).order_by(t.events.c.created_at, t.events.c.id)
        if instance_ids or operation_ids:
            query = query.where(
                sa.or_(t.events.c.instance_id.in_(instance_ids), t.events.c.operation_id.in_(operation_ids))
            )
        return [OperationEvent(**row._mapping) for row in await self._c.execute(query)]


class _Bindings:
    def __init__(self, connection: _Session) -> None:
        self._c = connection
        self._rows = _Rows(connection, t.bindings, Binding)

    @staticmethod
    def _key(instance_id: str, binding_id: str) -> sa.ColumnElement[bool]:
        return sa.and_(t.bindings.c.instance_id == instance_id, t.bindings.c.id == binding_id)

    async def get(self, instance_id: str, binding_id: str) -> Binding | None:
        return await self._rows.one(self._key(instance_id, binding_id))

    async def add(self, binding: Binding) -> None:
        await self._rows.insert(binding, f"binding {binding.binding_id}")

    async def update(self, binding: Binding) -> Binding:
        where = self._key(binding.instance_id, binding.binding_id)
        return await self._rows.update(binding, where, f"binding {binding.binding_id}")

    async def delete(self, instance_id: str, binding_id: str) -> None:
        await self._c.execute(sa.delete(t.bindings).where(self._key(instance_id, binding_id)))

    async def list_for_instance(self, instance_id: str) -> list[Binding]:
        return await self._rows.many(
            sa.select(t.bindings)
            .where(t.bindings.c.instance_id == instance_id)
            .order_by(t.bindings.c.created_at, t.bindings.c.id)
        )

    async def count_unexpired(self, instance_id: str, now: datetime) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(t.bindings)
            .where(t.bindings.c.instance_id == instance_id, t.bindings.c.expires_at > now)
        )
        return int((await self._c.execute(query)).scalar_one())

    async def list_expired(
        self, now: datetime, limit: int, after: tuple[datetime, str, str] | None = None
    ) -> list[Binding]:
        b = t.bindings
        where = [b.c.expires_at <= now]
        if after is not None:
            where.append(sa.tuple_(b.c.expires_at, b.c.instance_id, b.c.id) > sa.tuple_(*after))
        return await self._rows.many(
            sa.select(t.bindings)
            .where(*where)
            .order_by(t.bindings.c.expires_at, t.bindings.c.instance_id, t.bindings.c.id)
            .limit(limit)
        )


class SqlUnitOfWork:
    """One database transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __aenter__(self) -> Self:
        self._connection = _Session(self._engine)
        with unavailable_as_domain_error(connecting=True):
            await self._connection.open()
        self.instances = _Instances(self._connection)
        self.operations = _Operations(self._connection)
        self.archive = _Archive(self._connection)
        self.events = _Events(self._connection)
        self.bindings = _Bindings(self._connection)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # What was not committed is rolled back, by us or by the server losing the connection; a
        # database gone meanwhile must not hide the block's own outcome.
        with contextlib.suppress(StorageUnavailableError), unavailable_as_domain_error():
            await self._connection.close()
        if isinstance(exc, Exception) and is_unavailable(exc):
            raise StorageUnavailableError(UNAVAILABLE) from exc

    async def commit(self) -> None:
        connection = self._connection.connection
        with unavailable_as_domain_error():
            try:
                await connection.commit()
            except IntegrityError:
                raise StorageConflictError("a concurrent writer created the same row") from None
            await connection.begin()


# --- the single-query reads, built once (building a statement costs more than running it) -----------

_INSTANCE_ID = sa.bindparam("instance_id", type_=sa.String)
_OPERATION_ID = sa.bindparam("operation_id", type_=sa.String)
_BINDING_ID = sa.bindparam("binding_id", type_=sa.String)


def _polled(asked: bool) -> sa.Select[Any]:
    """polled_operation(): the asked-for operation, else the newest started one, else the newest; without
    operations, a row of rank 1 when the instance is archived."""
    ops, archive = t.operations, t.instances_archived
    order: list[sa.ColumnElement[Any]] = [sa.case((ops.c.id == _OPERATION_ID, 0), else_=1)] if asked else []
    order += [
        sa.case((ops.c.state == OperationState.PENDING.value, 1), else_=0),
        ops.c.created_at.desc(),
        ops.c.id.desc(),
    ]
    chosen = (
        sa.select(ops.c.state, ops.c.description, sa.literal(0).label("rank"))
        .where(ops.c.instance_id == _INSTANCE_ID)
        .order_by(*order)
        .limit(1)
        .subquery()
    )
    archived = sa.select(
        sa.cast(sa.null(), ops.c.state.type), sa.cast(sa.null(), ops.c.description.type), sa.literal(1)
    ).where(archive.c.instance_id == _INSTANCE_ID)
    union = sa.union_all(sa.select(chosen), archived).subquery()
    return sa.select(union).order_by(union.c.rank).limit(1)


def _instance_with_provisioning() -> sa.Select[Any]:
    """The instance and the state of first_provisioning()."""
    ops, instances = t.operations, t.instances
    provisioning = (
        sa.select(ops.c.state)
        .where(
            ops.c.instance_id == instances.c.instance_id,
            ops.c.type == OperationType.PROVISION.value,
            ops.c.temporary.is_(False),
        )
        .order_by(ops.c.created_at, ops.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return sa.select(instances, provisioning.label("_provisioning")).where(
        instances.c.instance_id == _INSTANCE_ID
    )


def _binding_with_last_started() -> sa.Select[Any]:
    """The instance's binding (NULLs when absent) and the type of last_started(); no row without the
    instance."""
    ops, instances, bindings = t.operations, t.instances, t.bindings
    last_started = (
        sa.select(ops.c.type)
        .where(ops.c.instance_id == instances.c.instance_id, ops.c.state != OperationState.PENDING.value)
        .order_by(ops.c.created_at.desc(), ops.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    joined = instances.outerjoin(
        bindings, sa.and_(bindings.c.instance_id == instances.c.instance_id, bindings.c.id == _BINDING_ID)
    )
    return (
        sa.select(last_started.label("_last_started"), *bindings.c)
        .select_from(joined)
        .where(instances.c.instance_id == _INSTANCE_ID)
    )


_POLLED_LATEST = _polled(asked=False)
_POLLED_ASKED = _polled(asked=True)
_INSTANCE_WITH_PROVISIONING = _instance_with_provisioning()
_BINDING_WITH_LAST_STARTED = _binding_with_last_started()
_BINDING = sa.select(t.bindings).where(
    t.bindings.c.instance_id == _INSTANCE_ID, t.bindings.c.id == _BINDING_ID
)


def _sqlite_read_engine(engine: AsyncEngine) -> sa.Engine | None:
    """For a SQLite file: a synchronous engine with one connection, for the single-query reads.

    A point read in SQLite takes tens of microseconds, while aiosqlite hands each call (cursor, execute,
    fetch, reset) to the connection's thread and back: five thread hops, which bounded a broker process at
    a fraction of what it answers otherwise. In WAL mode readers never wait for the writer, so the read runs
    on the event loop itself; its busy timeout is short (one second) so that a rare wait (a recovering
    database) bounds how long the loop can be held, and ends as the usual 503.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database in (":memory:",):
        return None
    if url.database.startswith("file:"):
        return None
    return sa.create_engine(
        url.set(drivername="sqlite"),
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "timeout": 1.0},
    )


class SqlStorage:
    """The unit-of-work factory, the single-query reads and the operation queue over one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._skip_locked = engine.dialect.name == "postgresql"
        # A read is one statement: on PostgreSQL it needs no BEGIN and ROLLBACK around it (two round
        # trips). SQLite's driver opens a transaction only before writes anyway.
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT") if self._skip_locked else engine
        self.sqlite_reads = _sqlite_read_engine(engine)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    async def dispose(self) -> None:
        """Close every pooled connection, those of the SQLite reads included (at shutdown)."""
        if self.sqlite_reads is not None:
            self.sqlite_reads.dispose()
        await self.engine.dispose()

    # --- StorageReads --------------------------------------------------------------------------------

    async def _first(self, query: sa.Select[Any], **params: str) -> sa.Row[Any] | None:
        """The first row of one read; a pooled connection the server dropped is replaced once, and a database
        that cannot be reached is StorageUnavailableError."""
        with unavailable_as_domain_error(connecting=True):
            if self.sqlite_reads is not None:
                with self.sqlite_reads.connect() as sync_connection:
                    found: sa.Row[Any] | None = sync_connection.execute(query, params).first()
                    return found
            for attempt in (1, 2):
                try:
                    async with self._reads.connect() as connection:
                        row: sa.Row[Any] | None = (await connection.execute(query, params)).first()
                        return row
                except sa.exc.DBAPIError as error:
                    if attempt == 2 or not _dropped(error):
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def polled_operation(self, instance_id: str, operation_id: str | None) -> PolledOperation | None:
        if operation_id:
            row = await self._first(_POLLED_ASKED, instance_id=instance_id, operation_id=operation_id)
        else:
            row = await self._first(_POLLED_LATEST, instance_id=instance_id)
        if row is None:
            return None
        if row.rank == 1:
            return PolledOperation(None, archived=True)
        return PolledOperation(OperationState(row.state), row.description)

    async def instance_with_provisioning(self, instance_id: str) -> InstanceRead | None:
        row = await self._first(_INSTANCE_WITH_PROVISIONING, instance_id=instance_id)
        if row is None:
            return None
        values = dict(row._mapping)
        state = values.pop("_provisioning")
        return InstanceRead(from_row(values, Instance), OperationState(state) if state else None)

    async def binding_with_last_started(self, instance_id: str, binding_id: str) -> BindingRead | None:
        row = await self._first(_BINDING_WITH_LAST_STARTED, instance_id=instance_id, binding_id=binding_id)
        if row is None:
            return None
        values = dict(row._mapping)
        last = values.pop("_last_started")
        binding = from_row(values, Binding) if values["id"] is not None else None
        return BindingRead(binding, OperationType(last) if last else None)

    async def binding(self, instance_id: str, binding_id: str) -> Binding | None:
        row = await self._first(_BINDING, instance_id=instance_id, binding_id=binding_id)
        return from_row(row._mapping, Binding) if row else None

    # --- OperationQueue --------------------------------------------------------------------------------

    async def claim_due(self, now: datetime, owner: str, lease_until: datetime, limit: int) -> list[str]:
        ops = t.operations
        due = sa.and_(
            ops.c.state.in_(UNFINISHED),
            sa.or_(ops.c.next_run_at.is_(None), ops.c.next_run_at <= now),
            sa.or_(ops.c.lease_until.is_(None), ops.c.lease_until < now),
        )
        async with transaction(self.engine) as connection:
            # A total order, NULLs placed alike on SQLite and PostgreSQL, so every storage claims the same.
            order = (ops.c.next_run_at.asc().nulls_first(), ops.c.created_at, ops.c.id)
            query = sa.select(ops.c.id).where(due).order_by(*order).limit(limit)
            if self._skip_locked:
                query = query.with_for_update(skip_locked=True)
            candidates = [row.id for row in await connection.execute(query)]
            claimed: list[str] = []
            for operation_id in candidates:
                # The same condition again: without row locks (SQLite) this is what makes a claim exclusive.
                result = await connection.execute(
                    sa.update(ops)
                    .where(ops.c.id == operation_id, due)
                    .values(lease_owner=owner, lease_until=lease_until)
                )
                if result.rowcount == 1:
                    claimed.append(operation_id)
        return claimed

    async def release(self, operation_id: str, owner: str) -> None:
        ops = t.operations
        async with transaction(self.engine) as connection:
            await connection.execute(
                sa.update(ops)
                .where(ops.c.id == operation_id, ops.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    async def next_due_at(self) -> datetime | None:
        ops = t.operations
        async with connected(self.engine) as connection:
            query = sa.select(sa.func.min(ops.c.next_run_at)).where(ops.c.state.in_(UNFINISHED))
            value: datetime | None = (await connection.execute(query)).scalar()
        return value
