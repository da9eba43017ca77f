"""``keb token [--scope ...]``: a bare token of the embedded issuer on stdout, for shell scripts (§4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from keb_adapters.auth.local import CLIENT_FILE, LocalIssuer
from keb_adapters.auth.verifier import CachedKeys, JwtVerifier
from keb_domain.auth import Principal

KEB = Path(sys.executable).with_name("keb")  # the console script installed beside this interpreter
ISSUER = "http://127.0.0.1:8080"  # the default APP_BROKER_URL, hence the default issuer


def keb_token(data_dir: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``keb token`` with a clean APP_* environment and ``data_dir`` as APP_DATA_DIR."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("APP_")}
    environment.update({"APP_DATA_DIR": str(data_dir), **env})
    return subprocess.run(  # noqa: S603  # our own console script with fixed arguments
        [str(KEB), "token", *arguments],
        env=environment,
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


async def test_keb_token_prints_a_bare_token_of_the_local_client_with_all_scopes(tmp_path: Path) -> None:
    """stdout is one token and a newline: the client of ``local-client.json``, with all scopes."""
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
