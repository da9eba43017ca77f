"""TLS to PostgreSQL as a managed database asks for it: ``APP_DATABASE_SSLMODE=verify-full`` with
``APP_DATABASE_SSLROOTCERT``, against a private cluster serving a certificate of a CA the test makes.

The broker connects over TLS when the CA and the host name match, and refuses to start, with one line
naming the variables and no traceback, when either does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from keb_adapters.sql.database import create_engine
from keb_app.landscape._pki import CertificateAuthority
from keb_app.settings import Settings

from .private_postgres import PrivatePostgres, ServerTls, free_port, private_postgres

KEB = Path(sys.executable).with_name("keb")  # the console script installed beside this interpreter
#: The only name the server certificate is issued for: connecting as ``localhost`` is a host mismatch.
SERVER_ADDRESS = "127.0.0.1"


@attrs.frozen
class TlsDatabase:
    cluster: PrivatePostgres
    ca: Path  # the CA that signed the server certificate
    other_ca: Path  # a CA that did not


@pytest.fixture(scope="module")
def tls_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsDatabase]:
    """A private PostgreSQL cluster serving TLS with a certificate for 127.0.0.1 only."""
    directory = tmp_path_factory.mktemp("database-tls")
    ca = CertificateAuthority.generate("keb-test-database-ca")
    certificate, key = ca.issue_server([SERVER_ADDRESS])
    (directory / "ca.pem").write_bytes(ca.cert_pem)
    (directory / "other-ca.pem").write_bytes(CertificateAuthority.generate("someone-else").cert_pem)
    with private_postgres(ServerTls(certificate, key)) as cluster:
        yield TlsDatabase(cluster, directory / "ca.pem", directory / "other-ca.pem")


def environment(
    database: TlsDatabase, data_dir: Path, *, host: str = SERVER_ADDRESS, **changes: str
) -> dict[str, str]:
    """KEB's database variables for the private cluster, verify-full against the right CA."""
    return {
        "APP_DATA_DIR": str(data_dir),
        "APP_DATABASE_HOST": host,
        "APP_DATABASE_PORT": str(database.cluster.port),
        "APP_DATABASE_NAME": "postgres",
        "APP_DATABASE_USER": "postgres",
        "APP_DATABASE_SSLMODE": "verify-full",
        "APP_DATABASE_SSLROOTCERT": str(database.ca),
        "APP_DATABASE_SECRET_KEY": "0123456789abcdef0123456789abcdef",
        **changes,
    }


def keb(env: Mapping[str, str], command: str = "migrate") -> subprocess.CompletedProcess[str]:
    """``keb migrate`` or ``keb serve`` as an operator runs it, on a port of its own."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    ports = {"APP_BROKER_PORT": str(free_port()), "APP_BROKER_STATUS_PORT": "0", "APP_HTTP_WORKERS": "1"}
    return subprocess.run(  # noqa: S603 (the project's own entry point)
        [str(KEB), command],
        env={**keep, **ports, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_verify_full_with_the_right_ca_connects_over_tls(
    tls_database: TlsDatabase, tmp_path: Path
) -> None:
    """The settings' engine reaches the server over TLS (pg_stat_ssl says so) and keb migrate succeeds."""
    env = environment(tls_database, tmp_path)
    settings = Settings.from_env(env)
    engine = create_engine(settings.database_url, tls=settings.database_tls)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(sa.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"))
            ).one()
    finally:
        await engine.dispose()
    assert row.ssl is True
    result = keb(env)
    assert result.returncode == 0, result.stderr
    assert "database schema migrated" in result.stderr


@pytest.mark.parametrize("command", ["serve", "migrate"])
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"APP_DATABASE_SSLROOTCERT": "other"}, "unable to get local issuer certificate"),
        ({"host": "localhost"}, "not valid for 'localhost'"),
    ],
    ids=["wrong-ca", "host-mismatch"],
)
def test_an_unverifiable_server_stops_startup_naming_the_variables(
    *, tls_database: TlsDatabase, tmp_path: Path, changes: dict[str, str], reason: str, command: str
) -> None:
    """A server certificate of another CA, or not issued for the host, is one clear line and exit 2."""
    if changes.get("APP_DATABASE_SSLROOTCERT") == "other":
        changes = {**changes, "APP_DATABASE_SSLROOTCERT": str(tls_database.other_ca)}
    result = keb(environment(tls_database, tmp_path, **changes), command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "APP_DATABASE_SSLMODE=verify-full" in line]
    assert "APP_DATABASE_SSLROOTCERT=" in line
    assert "certificate is refused: certificate verify failed" in line
    assert reason in line


def test_verify_ca_checks_the_chain_but_not_the_host_name(tls_database: TlsDatabase, tmp_path: Path) -> None:
    """As libpq's verify-ca: the same host mismatch connects, since only the chain is checked."""
    result = keb(environment(tls_database, tmp_path, host="localhost", APP_DATABASE_SSLMODE="verify-ca"))
    assert result.returncode == 0, result.stderr
