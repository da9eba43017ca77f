"""Files the broker creates once in its data directory: keys, client credentials."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def create_once(path: Path, content: Callable[[], str]) -> str:
    """The file's content; on first use it is created with ``content()``, readable by its owner only.

    The content is written to a temporary file that is then linked into place, so that two processes
    starting at once never see a half-written file: one wins, and both read what the winner wrote.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(content())
            with contextlib.suppress(FileExistsError):  # another process won; its file stays
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text(encoding="utf-8")
