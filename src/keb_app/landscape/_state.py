"""Write-through persistence of the landscape: JSON files replaced atomically, readable only by the owner."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from keb_adapters.files import private_directory


class StateDirectory:
    """A directory of JSON documents; each write replaces one file atomically with mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ensure_dir(path)
        self._ensure_dir(path / "clusters")

    def __repr__(self) -> str:
        return f"StateDirectory({str(self.path)!r})"

    @staticmethod
    def _ensure_dir(path: Path) -> None:
        private_directory(path)
        path.chmod(0o700)

    def read(self, name: str) -> Any | None:
        """The document stored under ``name`` (a relative path), or None when there is none."""
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def write(self, name: str, document: Any) -> None:
        """Replace ``name`` with ``document``: written to a private temporary file, synced, renamed."""
        target = self.path / name
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        data = json.dumps(document, indent=1, sort_keys=True).encode("utf-8")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.path / name).unlink()
