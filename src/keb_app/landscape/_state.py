"""Persistence of the landscape: JSON files replaced atomically, readable only by the owner, written by a
thread of their own while the landscape serves."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
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


#: How much longer than a round of writes the writer rests before the next round.
_WRITER_REST = 4.0


class ChangeWriter:
    """Writes what changed, each name once however often it changed meanwhile.

    While running, a thread of its own writes soon after a change: a cluster's file is its whole snapshot,
    so writing it on every change made each write cost as much as the cluster is large; changes made while
    a write is under way share the next one. After each round the thread rests ``_WRITER_REST`` times as
    long as the round took, so that writing large clusters takes at most a fifth of the process (one GIL)
    from the threads answering requests. When not running, a change is written at once.
    """

    def __init__(self, write: Callable[[set[str]], None]) -> None:
        self._write = write
        self._pending: set[str] = set()
        self._changed = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"ChangeWriter(running={self._running})"

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="keb-landscape-state", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what is left, so that a stopped landscape has everything on disk."""
        thread, self._thread = self._thread, None
        self._running = False
        if thread is not None:
            with self._changed:
                self._changed.notify()
            thread.join(timeout=30)
        self.flush()

    def changed(self, name: str) -> None:
        """Note that ``name`` changed: written soon while running, else now."""
        with self._changed:
            self._pending.add(name)
            self._changed.notify()
        if not self._running:
            self.flush()

    def flush(self) -> None:
        """Write every pending change now."""
        with self._changed:
            names, self._pending = self._pending, set()
        if names:
            self._write(names)

    def _run(self) -> None:
        while self._running:
            with self._changed:
                while not self._pending and self._running:
                    self._changed.wait(timeout=1.0)
            began = time.monotonic()
            self.flush()
            rest_until = time.monotonic() + (time.monotonic() - began) * _WRITER_REST
            with self._changed:
                while self._running and (left := rest_until - time.monotonic()) > 0:
                    self._changed.wait(timeout=left)
