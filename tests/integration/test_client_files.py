"""``keb client bind`` writes credentials to files only their owner can read."""

from __future__ import annotations

import stat
from pathlib import Path

from keb_app.client_cli import write_private


def test_a_new_file_is_created_owner_only(tmp_path: Path) -> None:
    """A kubeconfig written to a new path gets mode 0600 and the exact content."""
    path = tmp_path / "cluster.yaml"
    write_private(path, "apiVersion: v1\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "apiVersion: v1\n"


def test_an_existing_readable_file_is_tightened_and_replaced(tmp_path: Path) -> None:
    """A file that existed with mode 0644 and longer content ends up 0600 with only the new content."""
    path = tmp_path / "cluster.yaml"
    path.write_text("old and much longer content\n")
    path.chmod(0o644)
    write_private(path, "new\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "new\n"


def test_a_missing_directory_is_created_owner_only(tmp_path: Path) -> None:
    """Writing to ~/.kube/x.yaml on a machine without ~/.kube creates the directory with mode 0700."""
    path = tmp_path / "kube" / "cluster.yaml"
    write_private(path, "apiVersion: v1\n")
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text() == "apiVersion: v1\n"
