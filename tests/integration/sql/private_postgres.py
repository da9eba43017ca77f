"""A PostgreSQL cluster of a test's own, in a temporary directory on a free port, that it may stop and start.

The machine's PostgreSQL (127.0.0.1:5432) is never touched. The server binaries come from
``/usr/lib/postgresql/*/bin`` (or ``KEB_TEST_POSTGRES_BIN``); without them the test is skipped. As root,
the cluster runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest


def _bin_dir() -> Path | None:
    configured = os.environ.get("KEB_TEST_POSTGRES_BIN")
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@attrs.define
class PrivatePostgres:
    """A running cluster: its URL, and stop/start for fault tests."""

    bin_dir: Path
    data: Path
    port: int
    run_as: list[str]
    log: Path
    # Server options beyond the port, socket directory and address (``-c name=value`` pairs).
    options: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        command = [
            *self.run_as,
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            *args,
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603 (fixed binary)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", " ".join([options, *(f"-c {option}" for option in self.options)]), "-w", "start")

    def stop(self) -> None:
        """Stop at once, as a crash or an operator would: open connections are cut."""
        self._pg_ctl("-m", "immediate", "-w", "stop")


@attrs.frozen
class ServerTls:
    """A server certificate and key (PEM) the cluster serves TLS with."""

    certificate: bytes
    key: bytes


@contextmanager
def private_postgres(tls: ServerTls | None = None) -> Iterator[PrivatePostgres]:
    """Create, start and finally stop and delete a cluster; skip when the binaries are missing.

    With ``tls`` the server also accepts TLS (``ssl=on``) with that certificate; plain connections still work.
    """
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin")
    root = Path(tempfile.mkdtemp(prefix="keb-private-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            shutil.rmtree(root)
            pytest.skip(
                "running as root without runuser, which a PostgreSQL cluster needs to run as postgres"
            )
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root and there is no postgres user to run a PostgreSQL cluster as")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    options: tuple[str, ...] = ()
    if tls is not None:
        # Outside the data directory, which initdb wants empty; the server refuses a key others can read.
        for name, content in (("server.crt", tls.certificate), ("server.key", tls.key)):
            (root / name).write_bytes(content)
            (root / name).chmod(0o600)
            if run_as:
                owner = pwd.getpwnam("postgres")
                os.chown(root / name, owner.pw_uid, owner.pw_gid)
        options = ("ssl=on", f"ssl_cert_file={root / 'server.crt'}", f"ssl_key_file={root / 'server.key'}")
    cluster = PrivatePostgres(bin_dir, data, free_port(), run_as, root / "server.log", options)
    try:
        subprocess.run(  # noqa: S603 (fixed binary)
            [
                *run_as,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        cluster.start()
        yield cluster
    finally:
        if (data / "postmaster.pid").exists():
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
