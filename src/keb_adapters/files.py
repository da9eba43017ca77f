"""Files the broker creates in its data directory (keys, client credentials, the SQLite database), owner-only.

Directories the broker creates are 0700 and its files 0600, whatever the process umask, so a database of
encrypted credentials or a signing key is never readable by other users of the machine.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600


def private_directory(path: Path) -> Path:
    """Create ``path`` and any missing parents as owner-only directories; existing ones are left as they are.

    ``Path.mkdir(mode=..., parents=True)`` applies the mode to the last component only (and through the
    umask), so each missing component is created and set here.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process created it meanwhile
            directory.mkdir(mode=PRIVATE_DIRECTORY)
            directory.chmod(PRIVATE_DIRECTORY)
    return path


def private_file(path: Path) -> Path:
    """Make ``path`` exist as an owner-only file (empty if new); an existing one is narrowed to 0600."""
    private_directory(path.parent)
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
    finally:
        os.close(descriptor)
    return path


def create_once(path: Path, content: Callable[[], str]) -> str:
    """The file's content; on first use it is created with ``content()``, readable by its owner only.

    The content is written to a temporary file that is then linked into place, so that two processes
    starting at once never see a half-written file: one wins, and both read what the winner wrote.
    """
    if not path.exists():
        private_directory(path.parent)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(content())
            with contextlib.suppress(FileExistsError):  # another process won; its file stays
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text(encoding="utf-8")
