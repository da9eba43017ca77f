"""Round trips through the SQL repositories on SQLite and PostgreSQL: what goes in comes out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs
import pytest
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql.storage import SqlStorage
from keb_domain.model.operation import OperationState, OperationType
from tests.builders import T0, archived, at, event, instance, operation

# A wall clock two hours east of UTC: stored values must come back as the same instant, in UTC.
CEST = timezone(timedelta(hours=2))


@pytest.fixture
def storage(sql_engine: AsyncEngine) -> SqlStorage:
    return SqlStorage(sql_engine)


async def test_an_instance_round_trips(storage: SqlStorage) -> None:
    """Every field of an instance survives a write and a read, with the version set to 1."""
    original = instance(
        parameters={"name": "c", "region": "eu-central-1", "oidc": {"list": [{"clientID": "ü-ñ"}]}},
        context={"globalaccount_id": "ga-1", "license_type": "CUSTOMER", "active": False},
        eu_access=True,
        runtime_id="runtime-1",
        expired_at=at(60),
    )
    async with storage() as uow:
        await uow.instances.add(original)
        await uow.commit()
    async with storage() as uow:
        loaded = await uow.instances.get("inst-1")
    assert loaded == attrs.evolve(original, version=1)


async def test_an_operation_round_trips(storage: SqlStorage) -> None:
    """Every field of an operation survives, stages as a tuple and parameters as a mapping."""
    original = operation(
        type=OperationType.DEPROVISION,
        state=OperationState.PENDING,
        temporary=True,
        runtime_id="runtime-1",
        finished_stages=("delete_kyma_resource", "delete_runtime_resource"),
        request_digest="ab" * 32,
        parameters={"autoScalerMax": 25, "nested": [1, {"x": None}]},
        user_agent="accountcleanup-job",
        stage_started_at=at(5),
        attempts=3,
        next_run_at=at(30),
        description="Operation created",
    )
    async with storage() as uow:
        await uow.operations.add(original)
        await uow.commit()
    async with storage() as uow:
        loaded = await uow.operations.get("op-1")
    assert loaded == attrs.evolve(original, version=1)


async def test_an_archived_instance_round_trips(storage: SqlStorage) -> None:
    """An archive row keeps every field, including the unset optional times."""
    original = archived(provisioning_started_at=T0, provisioning_state="succeeded")
    async with storage() as uow:
        await uow.archive.add(original)
        await uow.commit()
    async with storage() as uow:
        assert await uow.archive.get("inst-1") == original


async def test_archiving_again_replaces_the_row(storage: SqlStorage) -> None:
    """Adding an archive row for an archived instance replaces it."""
    async with storage() as uow:
        await uow.archive.add(archived(last_runtime_id="first"))
        await uow.commit()
    async with storage() as uow:
        await uow.archive.add(archived(last_runtime_id="second"))
        await uow.commit()
    async with storage() as uow:
        loaded = await uow.archive.get("inst-1")
    assert loaded is not None
    assert loaded.last_runtime_id == "second"


async def test_events_round_trip_in_order_and_filter_by_id(storage: SqlStorage) -> None:
    """Events come back oldest first, filtered by instance or operation ids (either matches)."""
    events = [
        event("op-1", "inst-1", "first", T0),
        event("op-2", "inst-2", "second", at(1)),
        event("op-3", "inst-3", "third", at(2)),
        event("op-1", "inst-1", "fourth", at(3)),
    ]
    async with storage() as uow:
        for item in reversed(events):
            await uow.events.add(item)
        await uow.commit()
    async with storage() as uow:
        assert await uow.events.list() == events
        assert await uow.events.list(instance_ids=["inst-1"]) == [events[0], events[3]]
        assert await uow.events.list(operation_ids=["op-2"]) == [events[1]]
        assert await uow.events.list(instance_ids=["inst-3"], operation_ids=["op-2"]) == events[1:3]


async def test_datetimes_come_back_as_the_same_instant_in_utc(storage: SqlStorage) -> None:
    """A datetime with another offset is stored as its instant and read back timezone-aware in UTC."""
    local = datetime(2026, 11, 27, 10, 30, 15, 123456, tzinfo=CEST)
    async with storage() as uow:
        await uow.instances.add(instance(created_at=local, updated_at=local, expired_at=local))
        await uow.operations.add(operation(created_at=local, next_run_at=local, stage_started_at=local))
        await uow.events.add(event(when=local))
        await uow.commit()
    async with storage() as uow:
        loaded = await uow.instances.get("inst-1")
        op = await uow.operations.get("op-1")
        (stored_event,) = await uow.events.list()
    assert loaded is not None
    assert op is not None
    for value in (loaded.created_at, loaded.expired_at, op.next_run_at, stored_event.created_at):
        assert value == local
        assert value is not None
        assert value.utcoffset() == timedelta(0)
        assert value.microsecond == 123456


async def test_a_naive_datetime_is_refused(storage: SqlStorage) -> None:
    """A datetime without a timezone is never stored: its instant would be a guess."""
    naive = datetime(2026, 11, 27, 8, 0)
    async with storage() as uow:
        with pytest.raises(StatementError, match="naive datetimes are not stored"):
            await uow.instances.add(instance(created_at=naive))


async def test_updates_write_the_new_values_and_bump_the_version(storage: SqlStorage) -> None:
    """A version-checked update stores the change and returns the instance with version + 1."""
    async with storage() as uow:
        await uow.instances.add(instance())
        await uow.commit()
    async with storage() as uow:
        current = await uow.instances.get("inst-1")
        assert current is not None
        updated = await uow.instances.update(attrs.evolve(current, runtime_id="runtime-9"))
        await uow.commit()
    assert updated.version == 2
    async with storage() as uow:
        assert await uow.instances.get("inst-1") == updated


async def test_operations_of_an_instance_are_listed_oldest_first(storage: SqlStorage) -> None:
    """list_for_instance returns only that instance's operations, by creation time."""
    async with storage() as uow:
        await uow.operations.add(operation("op-b", created_at=at(10)))
        await uow.operations.add(operation("op-a", created_at=at(20)))
        await uow.operations.add(operation("op-c", created_at=T0))
        await uow.operations.add(operation("op-x", "inst-2", created_at=at(5)))
        await uow.commit()
    async with storage() as uow:
        listed = [op.id for op in await uow.operations.list_for_instance("inst-1")]
    assert listed == ["op-c", "op-b", "op-a"]


async def test_deleting_an_instance_and_its_operations(storage: SqlStorage) -> None:
    """delete and delete_for_instance remove exactly that instance's rows."""
    async with storage() as uow:
        await uow.instances.add(instance("inst-1"))
        await uow.instances.add(instance("inst-2"))
        await uow.operations.add(operation("op-1", "inst-1"))
        await uow.operations.add(operation("op-2", "inst-2"))
        await uow.commit()
    async with storage() as uow:
        await uow.operations.delete_for_instance("inst-1")
        await uow.instances.delete("inst-1")
        await uow.commit()
    async with storage() as uow:
        assert await uow.instances.get("inst-1") is None
        assert await uow.operations.get("op-1") is None
        assert await uow.instances.get("inst-2") is not None
        assert await uow.operations.get("op-2") is not None


async def test_instances_are_found_by_global_account(storage: SqlStorage) -> None:
    """exists_for_global_account sees any instance of the account and nothing of others."""
    async with storage() as uow:
        await uow.instances.add(instance("inst-1", global_account_id="ga-7"))
        await uow.commit()
    async with storage() as uow:
        assert await uow.instances.exists_for_global_account("ga-7")
        assert not await uow.instances.exists_for_global_account("ga-8")


async def test_missing_rows_read_as_none(storage: SqlStorage) -> None:
    """Reading what does not exist is None, not an error."""
    async with storage() as uow:
        assert await uow.instances.get("nope") is None
        assert await uow.operations.get("nope") is None
        assert await uow.archive.get("nope") is None
        assert await uow.operations.list_for_instance("nope") == []
