"""The SQL bindings repository on SQLite and PostgreSQL, and credentials at rest through the real storage."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from keb_adapters.crypto import AesGcmCipher
from keb_adapters.sql.storage import SqlStorage
from keb_domain.errors import StorageConflictError
from keb_domain.model.binding import Binding, CredentialStrategy
from tests.builders import T0, at
from tests.integration.bindings.conftest import BindingBroker, bind_body, make_binding_broker, token_of
from tests.support import settings_for_tests

CEST = timezone(timedelta(hours=2))


def binding(binding_id: str = "b-1", instance_id: str = "inst-1", **changes: Any) -> Binding:
    base = Binding(
        instance_id=instance_id,
        binding_id=binding_id,
        strategy=CredentialStrategy.TOKEN_REQUEST,
        expiration_seconds=600,
        created_at=T0,
        expires_at=at(600),
        created_by="user@example.com",
    )
    return attrs.evolve(base, **changes)


@pytest.fixture
def storage(sql_engine: AsyncEngine) -> SqlStorage:
    return SqlStorage(sql_engine)


async def add(storage: SqlStorage, *bindings: Binding) -> None:
    async with storage() as uow:
        for item in bindings:
            await uow.bindings.add(item)
        await uow.commit()


async def test_a_binding_round_trips(storage: SqlStorage) -> None:
    """Every field survives a write and a read, times as the same instant in UTC, version 1."""
    original = binding(
        strategy=CredentialStrategy.GARDENER_ADMIN_KUBECONFIG,
        expiration_seconds=7200,
        created_at=T0.astimezone(CEST),
        expires_at=at(7200.25).astimezone(CEST),
        created_by="origin-ü",
        credentials="c2VhbGVk",
    )
    await add(storage, original)
    async with storage() as uow:
        loaded = await uow.bindings.get("inst-1", "b-1")
    assert loaded == attrs.evolve(original, version=1)
    assert loaded is not None
    assert loaded.expires_at.utcoffset() == timedelta(0)


async def test_a_placeholder_gets_its_credentials_by_a_versioned_update(storage: SqlStorage) -> None:
    """Updating the stored version writes the credentials and expiry and bumps the version."""
    await add(storage, binding())
    async with storage() as uow:
        stored = await uow.bindings.get("inst-1", "b-1")
        assert stored is not None
        assert stored.in_progress
        updated = await uow.bindings.update(stored.with_credentials("c2VhbGVk", at(599)))
        await uow.commit()
    async with storage() as uow:
        assert await uow.bindings.get("inst-1", "b-1") == updated
    assert (updated.version, updated.credentials, updated.expires_at) == (2, "c2VhbGVk", at(599))


async def test_a_stale_update_is_a_conflict(storage: SqlStorage) -> None:
    """Writing from an outdated version fails and leaves the newer row as it was."""
    await add(storage, binding())
    async with storage() as uow:
        stored = await uow.bindings.get("inst-1", "b-1")
        assert stored is not None
        newer = await uow.bindings.update(stored.with_credentials("Zmlyc3Q=", at(600)))
        await uow.commit()
    async with storage() as uow:
        with pytest.raises(StorageConflictError):
            await uow.bindings.update(stored.with_credentials("c2Vjb25k", at(600)))
    async with storage() as uow:
        assert await uow.bindings.get("inst-1", "b-1") == newer


async def test_an_update_of_a_deleted_binding_is_a_conflict(storage: SqlStorage) -> None:
    """A binding removed meanwhile (unbound during its creation) cannot be updated."""
    await add(storage, binding())
    async with storage() as uow:
        stored = await uow.bindings.get("inst-1", "b-1")
        await uow.bindings.delete("inst-1", "b-1")
        await uow.commit()
    assert stored is not None
    async with storage() as uow:
        with pytest.raises(StorageConflictError):
            await uow.bindings.update(stored.with_credentials("c2VhbGVk", at(600)))


async def test_a_duplicate_key_is_a_conflict(storage: SqlStorage) -> None:
    """A second row for the same (instance, binding) is refused and the first one kept."""
    await add(storage, binding(expiration_seconds=600))
    with pytest.raises(StorageConflictError):
        await add(storage, binding(expiration_seconds=1200))
    async with storage() as uow:
        stored = await uow.bindings.get("inst-1", "b-1")
    assert stored is not None
    assert stored.expiration_seconds == 600


async def test_the_same_binding_id_may_exist_for_two_instances(storage: SqlStorage) -> None:
    """The key is (instance id, binding id), as in KEB."""
    await add(storage, binding(instance_id="inst-1"), binding(instance_id="inst-2"))
    async with storage() as uow:
        assert await uow.bindings.get("inst-1", "b-1") is not None
        assert await uow.bindings.get("inst-2", "b-1") is not None


async def test_deleting_removes_only_that_binding(storage: SqlStorage) -> None:
    """Delete is by the full key; other bindings of the instance and of other instances stay."""
    await add(storage, binding("b-1"), binding("b-2"), binding("b-1", instance_id="inst-2"))
    async with storage() as uow:
        await uow.bindings.delete("inst-1", "b-1")
        await uow.bindings.delete("inst-1", "b-unknown")  # nothing there: not an error
        await uow.commit()
    async with storage() as uow:
        left = [(b.instance_id, b.binding_id) for b in await uow.bindings.list_for_instance("inst-1")]
        assert left == [("inst-1", "b-2")]
        assert await uow.bindings.get("inst-2", "b-1") is not None


async def test_uncommitted_bindings_are_not_stored(storage: SqlStorage) -> None:
    """Leaving the unit of work without commit drops the new row."""
    async with storage() as uow:
        await uow.bindings.add(binding())
    async with storage() as uow:
        assert await uow.bindings.get("inst-1", "b-1") is None


async def test_bindings_of_an_instance_are_listed_oldest_first(storage: SqlStorage) -> None:
    """list_for_instance orders by creation time, then id."""
    await add(
        storage,
        binding("b-late", created_at=at(60)),
        binding("b-2", created_at=T0),
        binding("b-1", created_at=T0),
        binding("b-other", instance_id="inst-2"),
    )
    async with storage() as uow:
        listed = [b.binding_id for b in await uow.bindings.list_for_instance("inst-1")]
    assert listed == ["b-1", "b-2", "b-late"]


async def test_unexpired_bindings_are_counted_per_instance(storage: SqlStorage) -> None:
    """Counted: bindings of the instance expiring after now; one expiring exactly now is expired."""
    await add(
        storage,
        binding("b-past", expires_at=at(99.999999)),
        binding("b-now", expires_at=at(100)),
        binding("b-soon", expires_at=at(100.000001)),
        binding("b-later", expires_at=at(7200)),
        binding("b-other", instance_id="inst-2", expires_at=at(7200)),
    )
    async with storage() as uow:
        assert await uow.bindings.count_unexpired("inst-1", at(100)) == 2
        assert await uow.bindings.count_unexpired("inst-1", at(100).astimezone(CEST)) == 2
        assert await uow.bindings.count_unexpired("inst-1", T0) == 4
        assert await uow.bindings.count_unexpired("inst-3", T0) == 0


async def test_expired_bindings_are_listed_oldest_expiry_first(storage: SqlStorage) -> None:
    """list_expired returns what expired by now across instances, earliest expiry first."""
    await add(
        storage,
        binding("b-3", expires_at=at(300)),
        binding("b-1", instance_id="inst-2", expires_at=at(100)),
        binding("b-2", expires_at=at(200)),
        binding("b-live", expires_at=at(300.5)),
    )
    async with storage() as uow:
        expired = await uow.bindings.list_expired(at(300).astimezone(CEST), limit=10)
    assert [(b.instance_id, b.binding_id) for b in expired] == [
        ("inst-2", "b-1"),
        ("inst-1", "b-2"),
        ("inst-1", "b-3"),
    ]


async def test_listing_expired_bindings_honours_the_limit(storage: SqlStorage) -> None:
    """With a limit, the earliest expired ones come back, no more."""
    await add(storage, *(binding(f"b-{n}", expires_at=at(100 - n)) for n in range(5)))
    async with storage() as uow:
        expired = await uow.bindings.list_expired(at(100), limit=2)
    assert [b.binding_id for b in expired] == ["b-4", "b-3"]


# --- credentials at rest ----------------------------------------------------------------------------


@pytest.fixture
async def sql_broker(sql_engine: AsyncEngine) -> AsyncIterator[BindingBroker]:
    """A broker over the SQL storage with one Ready aws instance ``inst-1``."""
    async for broker in make_binding_broker(storage=SqlStorage(sql_engine)):
        await broker.provisioned("inst-1")
        yield broker


async def raw_kubeconfig_column(engine: AsyncEngine, binding_id: str) -> str:
    async with engine.connect() as connection:
        value = (
            await connection.execute(
                sa.text("SELECT kubeconfig FROM bindings WHERE id = :id"), {"id": binding_id}
            )
        ).scalar_one()
    return str(value)


@pytest.mark.parametrize("token_request", [True, False])
async def test_the_database_holds_the_kubeconfig_only_encrypted(
    sql_broker: BindingBroker, sql_engine: AsyncEngine, token_request: bool
) -> None:
    """The raw column is KEB's base64 AES-GCM value, with neither the kubeconfig nor its secret in it."""
    response = await sql_broker.bind("inst-1", "b-1", bind_body(token_request=token_request))
    assert response.status_code == 201, response.text
    kubeconfig = response.json()["credentials"]["kubeconfig"]
    raw = await raw_kubeconfig_column(sql_engine, "b-1")
    secret = token_of(kubeconfig) if token_request else kubeconfig.split("client-key-data: ")[1].split()[0]
    assert kubeconfig not in raw
    assert secret not in raw
    assert secret not in base64.b64decode(raw).decode("latin-1")
    key = settings_for_tests().database_secret_key
    assert key is not None
    assert AesGcmCipher(key).decrypt(raw).reveal() == kubeconfig


async def test_a_binding_is_served_from_the_database(sql_broker: BindingBroker) -> None:
    """A repeat and a GET read the stored, encrypted binding back to the same kubeconfig and expiry."""
    created = await sql_broker.bind("inst-1", "b-1", bind_body(token_request=True, expiration_seconds=1200))
    sql_broker.clock.advance(30)
    repeated = await sql_broker.bind("inst-1", "b-1", bind_body(token_request=True, expiration_seconds=1200))
    fetched = await sql_broker.get_binding("inst-1", "b-1")
    assert (created.status_code, repeated.status_code, fetched.status_code) == (201, 200, 200)
    assert repeated.json() == created.json()
    assert fetched.json()["credentials"] == created.json()["credentials"]


async def test_credentials_written_with_another_key_are_not_served(sql_engine: AsyncEngine) -> None:
    """With a different APP_DATABASE_SECRET_KEY the stored binding is refused, never returned as garbage."""
    storage = SqlStorage(sql_engine)
    async for broker in make_binding_broker(storage=storage):
        await broker.provisioned("inst-1")
        assert (await broker.bind("inst-1", "b-1")).status_code == 201
    other_key = {"APP_DATABASE_SECRET_KEY": "fedcba9876543210"}
    async for broker in make_binding_broker(other_key, storage=storage):
        response = await broker.get_binding("inst-1", "b-1")
        assert response.status_code == 500
        assert "APP_DATABASE_SECRET_KEY" in response.json()["description"]
        assert "apiVersion" not in response.text
