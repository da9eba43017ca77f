"""The embedded run's data directory is owner-only: directories 0700, files 0600 (issue 9, Found 7b)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from keb_adapters.files import private_directory, private_file
from keb_adapters.sql.database import create_engine

from .test_end_to_end import live_broker


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would make new files world-readable (0644) and directories 0755."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes_under(root: Path) -> dict[str, int]:
    """Relative path -> permission bits of the root and everything below it."""
    found = {".": mode(root)}
    for directory, names, files in os.walk(root):
        for name in [*names, *files]:
            path = Path(directory) / name
            found[str(path.relative_to(root))] = mode(path)
    return found


@pytest.mark.usefixtures("open_umask")
async def test_the_data_directory_database_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    """With umask 022, APP_DATA_DIR (and missing parents), keb.db, -wal and -shm are created 0700/0600."""
    async with live_broker(tmp_path / "parent") as broker:
        data_dir = broker.services.settings.data_dir
        await broker.provisioned()  # the database has been written: WAL and shared memory files exist
        found = modes_under(data_dir)
        assert {"keb.db", "keb.db-wal", "keb.db-shm", "landscape"} <= set(found), sorted(found)
        loose = {name: oct(bits) for name, bits in found.items() if bits & 0o077}
        assert not loose
        assert mode(tmp_path / "parent") == 0o700
        assert mode(data_dir / "keb.db") == 0o600


@pytest.mark.usefixtures("open_umask")
async def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    """A keb.db left 0644 by an earlier version is 0600 once the broker opens it."""
    database = tmp_path / "keb.db"
    database.touch(mode=0o644)
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await engine.dispose()
    assert mode(database) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_private_helpers_create_owner_only_paths(tmp_path: Path) -> None:
    """private_directory makes every missing component 0700; private_file makes an empty 0600 file."""
    file = private_file(tmp_path / "a" / "b" / "f")
    assert file.read_bytes() == b""
    assert (mode(tmp_path / "a"), mode(tmp_path / "a" / "b"), mode(file)) == (0o700, 0o700, 0o600)
    private_directory(tmp_path / "a")  # existing: unchanged, no error
    assert mode(tmp_path / "a") == 0o700
