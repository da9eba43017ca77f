"""``keb cleanup-bindings`` as an operator runs it: a subprocess against the embedded SQLite database."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs

from keb_adapters.crypto import AesGcmCipher
from keb_adapters.sql.database import create_engine, migrate
from keb_adapters.sql.storage import SqlStorage
from keb_domain.model.binding import Binding, CredentialStrategy
from keb_domain.secrets import Secret
from tests.builders import instance

KEB = Path(sys.executable).parent / "keb"
KEY = "0123456789abcdef0123456789abcdef"
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: cli-test-token\n"


@attrs.frozen
class Finished:
    returncode: int
    stdout: str
    stderr: str


async def run_keb(*args: str, env: dict[str, str]) -> Finished:
    """The keb command line as a subprocess with only the given APP_* settings (and no in-cluster hint)."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("APP_") and key != "KUBERNETES_SERVICE_HOST"
    }
    process = await asyncio.create_subprocess_exec(
        str(KEB), *args, env={**base, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


def stored_binding(binding_id: str, expires_at: datetime, cipher: AesGcmCipher) -> Binding:
    return Binding(
        instance_id="inst-1",
        binding_id=binding_id,
        strategy=CredentialStrategy.TOKEN_REQUEST,
        expiration_seconds=3600,
        created_at=expires_at - timedelta(hours=1),
        expires_at=expires_at,
        credentials=cipher.encrypt(Secret(KUBECONFIG)),
    )


async def test_cleanup_bindings_removes_the_expired_binding_and_keeps_the_live_one(tmp_path: Path) -> None:
    """The command prints the expired binding it removed, and the live one is still readable afterwards."""
    now = datetime.now(UTC)
    cipher = AesGcmCipher(Secret(KEY))
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'keb.db'}")
    try:
        await migrate(engine)
        storage = SqlStorage(engine)
        async with storage() as uow:
            # The runtime no longer exists in the landscape: revoking finds nothing, which is fine.
            await uow.instances.add(instance(runtime_id="runtime-gone"))
            await uow.bindings.add(stored_binding("b-expired", now - timedelta(hours=1), cipher))
            await uow.bindings.add(stored_binding("b-live", now + timedelta(hours=1), cipher))
            await uow.commit()
        await engine.dispose()

        result = await run_keb(
            "cleanup-bindings", env={"APP_DATA_DIR": str(tmp_path), "APP_DATABASE_SECRET_KEY": KEY}
        )

        assert result.returncode == 0, result.stderr
        assert "removed binding b-expired of instance inst-1" in result.stdout
        assert "b-live" not in result.stdout
        assert "no expired bindings left" in result.stdout
        assert "cli-test-token" not in result.stdout + result.stderr
        async with storage() as uow:
            assert await uow.bindings.get("inst-1", "b-expired") is None
            live = await uow.bindings.get("inst-1", "b-live")
        assert live is not None
        assert cipher.decrypt(live.credentials).reveal() == KUBECONFIG
    finally:
        await engine.dispose()
