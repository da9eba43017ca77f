"""Rules every storage keeps, stated one by one and run on memory, SQLite and PostgreSQL storage.

The agreement test next to this one finds differences by chance; these name the rules it found broken
once, so that a regression reads as a sentence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from keb_adapters.memory.storage import MemoryStorage
from keb_adapters.sql.storage import SqlStorage
from keb_app.bootstrap import Storage
from keb_domain.errors import StorageConflictError
from keb_domain.model.instance import Instance
from keb_domain.model.operation import Operation, OperationState
from tests.builders import T0, archived, at, instance, operation
from tests.integration.conftest import PostgresTemplate, postgres_engine, sqlite_engine


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def storage(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_template: PostgresTemplate,
) -> AsyncIterator[Storage]:
    if request.param == "memory":
        yield MemoryStorage()
        return
    engines = (
        sqlite_engine(sqlite_template, tmp_path)
        if request.param == "sqlite"
        else postgres_engine(postgres_template)
    )
    async for engine in engines:
        yield SqlStorage(engine)


async def committed(storage: Storage, *items: Instance | Operation) -> None:
    async with storage() as uow:
        for item in items:
            if isinstance(item, Instance):
                await uow.instances.add(item)
            else:
                await uow.operations.add(item)
        await uow.commit()


async def test_a_lease_holds_until_its_end_inclusive(storage: Storage) -> None:
    """At exactly lease_until the lease still holds; a moment later it is free."""
    await committed(storage, operation())
    assert await storage.claim_due(T0, "a", at(10), 5) == ["op-1"]
    assert await storage.claim_due(at(10), "b", at(20), 5) == []
    assert await storage.claim_due(at(10.001), "b", at(20), 5) == ["op-1"]


async def test_claims_follow_a_total_order(storage: Storage) -> None:
    """Operations without a next run come first, then by next run, creation time and id."""
    await committed(
        storage,
        operation("op-c", next_run_at=at(5)),
        operation("op-b", next_run_at=at(5)),
        operation("op-a", next_run_at=at(5), created_at=at(1)),
        operation("op-z", next_run_at=None),
        operation("op-y", next_run_at=at(1)),
    )
    claimed = [await storage.claim_due(at(10), "w", at(60), 1) for _ in range(5)]
    assert claimed == [["op-z"], ["op-y"], ["op-b"], ["op-c"], ["op-a"]]


async def test_deleting_a_row_another_unit_of_work_changed_is_no_conflict(storage: Storage) -> None:
    """A delete is not version-checked: it removes the row as it is now, even if changed since read."""
    await committed(storage, instance())
    async with storage() as mine:
        assert await mine.instances.get("inst-1") is not None
        async with storage() as theirs:
            current = await theirs.instances.get("inst-1")
            assert current is not None
            await theirs.instances.update(attrs.evolve(current, runtime_id="changed"))
            await theirs.commit()
        await mine.instances.delete("inst-1")
        await mine.commit()
    async with storage() as uow:
        assert await uow.instances.get("inst-1") is None


async def test_deleting_an_instances_operations_includes_ones_added_meanwhile(storage: Storage) -> None:
    """delete_for_instance removes the instance's operations as committed now, not as first seen."""
    await committed(storage, operation("op-1"))
    async with storage() as mine:
        assert len(await mine.operations.list_for_instance("inst-1")) == 1
        await committed(storage, operation("op-2", state=OperationState.PENDING))
        await mine.operations.delete_for_instance("inst-1")
        await mine.commit()
    async with storage() as uow:
        assert await uow.operations.list_for_instance("inst-1") == []


async def test_an_id_deleted_meanwhile_can_be_inserted_again(storage: Storage) -> None:
    """An insert collides with what is committed now: a row another unit of work deleted is free."""
    await committed(storage, instance())
    async with storage() as mine:
        assert await mine.instances.get("inst-1") is not None
        async with storage() as theirs:
            await theirs.instances.delete("inst-1")
            await theirs.commit()
        await mine.instances.add(instance(runtime_id="again"))
        await mine.commit()
    async with storage() as uow:
        stored = await uow.instances.get("inst-1")
    assert stored is not None
    assert stored.runtime_id == "again"


async def test_an_id_inserted_meanwhile_collides(storage: Storage) -> None:
    """Inserting an id another unit of work committed since this one began is a conflict."""
    async with storage() as mine:
        assert await mine.instances.get("inst-1") is None
        await committed(storage, instance())

        async def insert_and_commit() -> None:
            await mine.instances.add(instance(runtime_id="mine"))
            await mine.commit()

        with pytest.raises(StorageConflictError):
            await insert_and_commit()


async def test_a_commit_does_not_revert_archive_rows_it_did_not_write(storage: Storage) -> None:
    """Archiving is per row: an unrelated commit leaves another unit of work's archive row alone."""
    await committed(storage, instance("inst-2"))
    async with storage() as uow:
        await uow.archive.add(archived(last_runtime_id="first"))
        await uow.commit()
    async with storage() as mine:
        assert await mine.archive.get("inst-1") is not None
        async with storage() as theirs:
            await theirs.archive.add(archived(last_runtime_id="second"))
            await theirs.commit()
        current = await mine.instances.get("inst-2")
        assert current is not None
        await mine.instances.update(attrs.evolve(current, runtime_id="unrelated"))
        await mine.commit()
    async with storage() as uow:
        stored = await uow.archive.get("inst-1")
    assert stored is not None
    assert stored.last_runtime_id == "second"
