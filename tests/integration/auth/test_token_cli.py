"""``keb token [--scope ...]``: a bare token of the embedded issuer on stdout, for shell scripts (§4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from keb_adapters.auth.local import CLIENT_FILE, KEY_FILE, LocalIssuer
from keb_adapters.auth.verifier import CachedKeys, JwtVerifier
from keb_app.cli import record_issuer
from keb_domain.auth import Principal
from keb_domain.errors import UnauthenticatedError

KEB = Path(sys.executable).with_name("keb")  # the console script installed beside this interpreter
ISSUER = "http://127.0.0.1:8080"  # the default APP_BROKER_URL, hence the default issuer


def keb_token(
    data_dir: Path | None, *arguments: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``keb token`` with a clean APP_* environment and ``data_dir`` (if any) as APP_DATA_DIR."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("APP_")}
    if data_dir is not None:
        environment["APP_DATA_DIR"] = str(data_dir)
    environment.update(env)
    return subprocess.run(  # noqa: S603  # our own console script with fixed arguments
        [str(KEB), "token", *arguments],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def verified(data_dir: Path, token: str) -> Principal:
    """Check the token as the broker would, with the issuer's keys from the same data directory."""
    issuer = LocalIssuer(data_dir, ISSUER)

    async def keys() -> Mapping[str, Any]:
        return issuer.jwks()

    return await JwtVerifier(CachedKeys(keys), issuer=ISSUER).verify(token)


def broker_ran(data_dir: Path, issuer: str = ISSUER) -> LocalIssuer:
    """What ``keb serve`` leaves in its data directory: the issuer's key and client, the issuer's URL."""
    record_issuer(data_dir, issuer)
    return LocalIssuer(data_dir, issuer)


async def test_keb_token_prints_a_bare_token_of_the_local_client_with_all_scopes(tmp_path: Path) -> None:
    """stdout is one token and a newline: the client of ``local-client.json``, with all scopes."""
    broker_ran(tmp_path)
    result = keb_token(tmp_path)
    assert result.returncode == 0, result.stderr
    token = result.stdout.removesuffix("\n")
    assert token.count(".") == 2
    assert token.strip() == token
    assert " " not in token
    principal = await verified(tmp_path, token)
    assert principal.scopes == {"broker:write", "cld:read", "runtimes:read"}
    assert principal.subject == json.loads((tmp_path / CLIENT_FILE).read_text())["client_id"]


async def test_keb_token_gives_exactly_the_asked_scopes(tmp_path: Path) -> None:
    """Repeated ``--scope`` options give a token with those scopes and no others."""
    broker_ran(tmp_path)
    result = keb_token(tmp_path, "--scope", "cld:read", "--scope", "runtimes:read")
    assert result.returncode == 0, result.stderr
    assert (await verified(tmp_path, result.stdout.strip())).scopes == {"cld:read", "runtimes:read"}


def test_keb_token_refuses_an_unknown_scope(tmp_path: Path) -> None:
    """An unknown scope exits with status 2, naming it, and prints no token on stdout."""
    result = keb_token(tmp_path, "--scope", "broker:admin")
    assert result.returncode == 2
    assert "broker:admin" in result.stderr
    assert result.stdout == ""


def test_keb_token_needs_the_local_mode(tmp_path: Path) -> None:
    """With an external issuer there is nothing to mint with: exit status 2 and no token on stdout."""
    result = keb_token(tmp_path, APP_AUTH_MODE="jwt", APP_AUTH_ISSUER="https://issuer.test")
    assert result.returncode == 2
    assert result.stdout == ""


def test_keb_token_refuses_a_data_directory_no_broker_used(tmp_path: Path) -> None:
    """Without the broker's key there, a token would be refused: exit 2, the directory named, no new key."""
    result = keb_token(tmp_path / "elsewhere")
    assert result.returncode == 2
    assert str(tmp_path / "elsewhere") in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "elsewhere" / KEY_FILE).exists()


async def test_keb_token_in_a_subdirectory_finds_the_broker_data_directory(tmp_path: Path) -> None:
    """Run below the directory ``keb serve`` ran in (no APP_DATA_DIR), it signs with that broker's key."""
    broker_ran(tmp_path / ".keb")
    below = tmp_path / "docs" / "notes"
    below.mkdir(parents=True)
    result = keb_token(None, cwd=below)
    assert result.returncode == 0, result.stderr
    await verified(tmp_path / ".keb", result.stdout.strip())
    assert not (below / ".keb").exists()


async def test_keb_token_signs_for_the_issuer_the_broker_recorded(tmp_path: Path) -> None:
    """A broker on port 9000 recorded its issuer; with APP_DATA_DIR alone the token is for that issuer."""
    issuer = broker_ran(tmp_path, "http://127.0.0.1:9000")
    result = keb_token(tmp_path)
    assert result.returncode == 0, result.stderr

    async def keys() -> Mapping[str, Any]:
        return issuer.jwks()

    verifier = JwtVerifier(CachedKeys(keys), issuer="http://127.0.0.1:9000")
    assert (await verifier.verify(result.stdout.strip())).scopes


async def test_a_refused_token_names_the_expected_issuer(tmp_path: Path) -> None:
    """A token of another issuer is refused with a description naming the issuer the broker expects."""
    broker_ran(tmp_path, "http://127.0.0.1:9000")
    token = keb_token(tmp_path).stdout.strip()
    issuer = LocalIssuer(tmp_path, ISSUER)

    async def keys() -> Mapping[str, Any]:
        return issuer.jwks()

    with pytest.raises(UnauthenticatedError) as refused:
        await JwtVerifier(CachedKeys(keys), issuer=ISSUER).verify(token)
    assert ISSUER in refused.value.description
    assert "http://127.0.0.1:9000" in refused.value.description
    assert token not in refused.value.description


async def test_a_token_of_another_key_names_the_key_ids_expected(tmp_path: Path) -> None:
    """A token signed by another data directory's key is refused naming the key ids the issuer has."""
    broker_ran(tmp_path / "a")
    token = keb_token(tmp_path / "a").stdout.strip()
    other = broker_ran(tmp_path / "b")

    async def keys() -> Mapping[str, Any]:
        return other.jwks()

    expected = [key["kid"] for key in other.jwks()["keys"]]
    with pytest.raises(UnauthenticatedError) as refused:
        await JwtVerifier(CachedKeys(keys), issuer=ISSUER).verify(token)
    assert all(kid in refused.value.description for kid in expected)
    assert "key id" in refused.value.description
