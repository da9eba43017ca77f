"""The single-query reads of the polled endpoints: SQL answers what the domain's choice over the memory
storage answers, for any history of operations.

The random programs of ``test_storage_agreement`` rarely build a history with pending, temporary and
tied operations before a read; here every example is such a history.
"""

from __future__ import annotations

from datetime import datetime

import attrs
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.sql import tables
from keb_adapters.sql.storage import SqlStorage
from keb_app.bootstrap import Storage
from keb_domain.model.binding import Binding, CredentialStrategy
from keb_domain.model.operation import OperationState, OperationType
from keb_domain.ports import PolledOperation
from tests.builders import archived, at, instance, operation

OPERATION_IDS = ("o1", "o2", "o3", "o4", "o5")


@attrs.frozen
class History:
    """What one instance left behind: its row (or not), its operations, a binding, an archive row."""

    exists: bool
    operations: tuple[tuple[str, OperationState, OperationType, bool, datetime], ...]
    bound: bool
    archived: bool


histories = st.builds(
    History,
    st.booleans(),
    st.lists(
        st.tuples(
            st.sampled_from(OPERATION_IDS),
            st.sampled_from(OperationState),
            st.sampled_from(OperationType),
            st.booleans(),
            st.sampled_from([at(0), at(10), at(20)]),  # few times: ties are broken by id
        ),
        max_size=5,
        unique_by=lambda op: op[0],
    ).map(tuple),
    st.booleans(),
    st.booleans(),
)


async def store(storage: Storage, history: History) -> None:
    async with storage() as uow:
        if history.exists:
            await uow.instances.add(instance("i1"))
        for operation_id, state, kind, temporary, created in history.operations:
            await uow.operations.add(
                operation(
                    operation_id,
                    "i1",
                    state=state,
                    type=kind,
                    temporary=temporary,
                    created_at=created,
                    description=f"{operation_id} {state.value}",
                )
            )
        if history.bound:
            await uow.bindings.add(
                Binding(
                    instance_id="i1",
                    binding_id="b1",
                    strategy=CredentialStrategy.TOKEN_REQUEST,
                    expiration_seconds=600,
                    created_at=at(0),
                    expires_at=at(600),
                    created_by="tester",
                    credentials="",
                )
            )
        if history.archived:
            await uow.archive.add(archived("i1"))
        await uow.commit()


async def answers(storage: Storage, asked: str | None) -> tuple[object, ...]:
    return (
        await storage.polled_operation("i1", asked),
        await storage.instance_with_provisioning("i1"),
        await storage.binding_with_last_started("i1", "b1"),
        await storage.binding("i1", "b1"),
        await storage.polled_operation("other", None),
    )


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories, asked=st.none() | st.sampled_from(OPERATION_IDS))
async def test_sql_reads_answer_as_the_domain_chooses(
    sql_engine: AsyncEngine, history: History, asked: str | None
) -> None:
    """For any history of one instance, the SQL reads equal the memory storage's domain choices."""
    async with sql_engine.begin() as connection:
        for table in reversed(tables.metadata.sorted_tables):
            await connection.execute(sa.delete(table))
    memory, sql = MemoryStorage(), SqlStorage(sql_engine)
    await store(memory, history)
    await store(sql, history)
    assert await answers(memory, asked) == await answers(sql, asked)


async def test_polled_operation_prefers_a_started_one_over_a_newer_pending_one(
    sql_engine: AsyncEngine,
) -> None:
    """A pending unsuspension newer than a running update does not hide the update from polling."""
    sql = SqlStorage(sql_engine)
    async with sql() as uow:
        await uow.instances.add(instance("i1"))
        await uow.operations.add(operation("o1", "i1", state=OperationState.SUCCEEDED, created_at=at(0)))
        await uow.operations.add(
            operation("o2", "i1", state=OperationState.IN_PROGRESS, created_at=at(10), description="updating")
        )
        await uow.operations.add(operation("o3", "i1", state=OperationState.PENDING, created_at=at(20)))
        await uow.commit()
    assert await sql.polled_operation("i1", None) == PolledOperation(OperationState.IN_PROGRESS, "updating")
    assert await sql.polled_operation("i1", "o3") == PolledOperation(
        OperationState.PENDING, "Operation created"
    )
