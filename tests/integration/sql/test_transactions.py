"""Units of work on SQLite and PostgreSQL: version checks, duplicate keys, commit and rollback."""

from __future__ import annotations

import asyncio

import attrs
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.sql.storage import SqlStorage, SqlUnitOfWork
from keb_domain.errors import StorageConflictError
from keb_domain.model.instance import Instance
from tests.builders import event, instance, operation


@pytest.fixture
async def storage(sql_engine: AsyncEngine) -> SqlStorage:
    """Storage holding one instance, inst-1, at version 1."""
    storage = SqlStorage(sql_engine)
    async with storage() as uow:
        await uow.instances.add(instance())
        await uow.commit()
    return storage


async def read(uow: SqlUnitOfWork, instance_id: str = "inst-1") -> Instance:
    found = await uow.instances.get(instance_id)
    assert found is not None
    return found


async def test_the_second_writer_of_a_row_loses(storage: SqlStorage) -> None:
    """Two units of work read version 1; the first commit wins and the second update conflicts."""
    async with storage() as first, storage() as second:
        mine, theirs = await read(first), await read(second)
        await first.instances.update(attrs.evolve(mine, runtime_id="first"))
        await first.commit()
        with pytest.raises(StorageConflictError):
            await second.instances.update(attrs.evolve(theirs, runtime_id="second"))
    async with storage() as uow:
        stored = await read(uow)
    assert (stored.runtime_id, stored.version) == ("first", 2)


async def test_nothing_of_the_loser_is_written(storage: SqlStorage) -> None:
    """What the losing unit of work wrote before its conflict is rolled back with it."""
    async with storage() as first, storage() as second:
        mine, theirs = await read(first), await read(second)
        await first.instances.update(attrs.evolve(mine, runtime_id="first"))
        await first.commit()
        await second.operations.add(operation("op-loser"))
        await second.events.add(event("op-loser"))
        with pytest.raises(StorageConflictError):
            await second.instances.update(attrs.evolve(theirs, runtime_id="second"))
    async with storage() as uow:
        assert await uow.operations.get("op-loser") is None
        assert await uow.events.list(operation_ids=["op-loser"]) == []


async def test_concurrent_writers_of_a_row_have_one_winner(storage: SqlStorage) -> None:
    """Racing read-modify-write tasks on one row: exactly one commits, the others conflict."""
    both_read = asyncio.Barrier(3)

    async def write(label: str) -> str:
        async with storage() as uow:
            current = await read(uow)
            await both_read.wait()
            try:
                await uow.instances.update(attrs.evolve(current, runtime_id=label))
                await uow.commit()
            except StorageConflictError:
                return "lost"
            return "won"

    outcomes = await asyncio.gather(write("a"), write("b"), write("c"))
    assert sorted(outcomes) == ["lost", "lost", "won"]
    async with storage() as uow:
        stored = await read(uow)
    assert stored.version == 2
    assert stored.runtime_id == "abc"[outcomes.index("won")]


async def test_an_update_from_a_stale_copy_conflicts(storage: SqlStorage) -> None:
    """An update carrying an old version is refused even without a concurrent unit of work."""
    async with storage() as uow:
        stale = await read(uow)
        await uow.instances.update(attrs.evolve(stale, runtime_id="new"))
        with pytest.raises(StorageConflictError):
            await uow.instances.update(attrs.evolve(stale, runtime_id="newer"))


async def test_operations_are_version_checked_too(storage: SqlStorage) -> None:
    """An operation updated from an outdated copy conflicts."""
    async with storage() as uow:
        await uow.operations.add(operation())
        await uow.commit()
    async with storage() as first, storage() as second:
        mine, theirs = await first.operations.get("op-1"), await second.operations.get("op-1")
        assert mine is not None
        assert theirs is not None
        await first.operations.update(attrs.evolve(mine, attempts=1))
        await first.commit()
        with pytest.raises(StorageConflictError):
            await second.operations.update(attrs.evolve(theirs, attempts=2))


async def test_updating_a_row_that_is_gone_conflicts(storage: SqlStorage) -> None:
    """An update of a deleted instance is a conflict, not a silent no-op."""
    async with storage() as uow:
        current = await read(uow)
        await uow.instances.delete("inst-1")
        await uow.commit()
    async with storage() as uow:
        with pytest.raises(StorageConflictError):
            await uow.instances.update(current)


async def test_a_duplicate_instance_insert_conflicts(storage: SqlStorage) -> None:
    """Adding an instance whose id exists raises StorageConflictError."""
    async with storage() as uow:
        with pytest.raises(StorageConflictError):
            await uow.instances.add(instance())


async def test_a_duplicate_operation_insert_conflicts(storage: SqlStorage) -> None:
    """Adding an operation whose id exists raises StorageConflictError."""
    async with storage() as uow:
        await uow.operations.add(operation())
        await uow.commit()
    async with storage() as uow:
        with pytest.raises(StorageConflictError):
            await uow.operations.add(operation(instance_id="inst-2"))


async def test_concurrent_inserts_of_one_id_have_one_winner(storage: SqlStorage) -> None:
    """Two units of work adding the same new id at once: one commits, the other conflicts."""
    both_added = asyncio.Barrier(2)

    async def insert(user: str) -> str:
        async with storage() as uow:
            try:
                await both_added.wait()
                await uow.instances.add(instance("inst-new", user_id=user))
                await uow.commit()
            except StorageConflictError:
                return "lost"
            return "won"

    assert sorted(await asyncio.gather(insert("a"), insert("b"))) == ["lost", "won"]


async def test_leaving_without_commit_rolls_back(storage: SqlStorage) -> None:
    """Writes of a unit of work that is left without commit are not stored."""
    async with storage() as uow:
        await uow.instances.add(instance("inst-2"))
        await uow.operations.add(operation("op-2", "inst-2"))
        await uow.instances.update(attrs.evolve(await read(uow), runtime_id="changed"))
    async with storage() as uow:
        assert await uow.instances.get("inst-2") is None
        assert await uow.operations.get("op-2") is None
        assert (await read(uow)).runtime_id == ""


async def test_an_exception_rolls_back(storage: SqlStorage) -> None:
    """A unit of work left by an exception stores nothing."""

    async def add_then_fail() -> None:
        async with storage() as uow:
            await uow.instances.add(instance("inst-2"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()
    async with storage() as uow:
        assert await uow.instances.get("inst-2") is None


async def test_uncommitted_writes_are_invisible_to_others(storage: SqlStorage) -> None:
    """Until commit, another unit of work does not see the new row."""
    async with storage() as writer:
        await writer.operations.add(operation("op-new"))
        async with storage() as reader:
            assert await reader.operations.get("op-new") is None
        await writer.commit()
    async with storage() as reader:
        assert await reader.operations.get("op-new") is not None


async def test_work_after_a_commit_is_a_new_transaction(storage: SqlStorage) -> None:
    """A commit keeps what came before; later writes of the same unit of work need their own commit."""
    async with storage() as uow:
        await uow.operations.add(operation("op-kept"))
        await uow.commit()
        await uow.operations.add(operation("op-dropped"))
    async with storage() as uow:
        assert await uow.operations.get("op-kept") is not None
        assert await uow.operations.get("op-dropped") is None
