"""``build_services(verifier=...)``: a test or an embedding program supplies its own token verifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.memory.storage import MemoryStorage
from keb_app.bootstrap import Services, build_services
from keb_domain.auth import Principal
from keb_domain.errors import UnauthenticatedError
from tests.integration.auth.conftest import bearer
from tests.integration.http.conftest import asgi_client
from tests.support import OSB, FakeClock, SequentialIds, settings_for_tests

CATALOG = "/oauth/v2/catalog"
MODES = {
    "local": {"APP_AUTH_MODE": "local"},
    "jwt": {"APP_AUTH_MODE": "jwt", "APP_AUTH_ISSUER": "https://issuer.test"},
}


class PasswordVerifier:
    """Accepts one fixed token as a principal with the given scopes; refuses everything else."""

    def __init__(self, token: str, *scopes: str) -> None:
        self.token = token
        self.scopes = frozenset(scopes)
        self.seen: list[str] = []

    async def verify(self, token: str) -> Principal:
        self.seen.append(token)
        if token != self.token:
            raise UnauthenticatedError("not the password")
        return Principal("tester", self.scopes)


def services_with(verifier: PasswordVerifier, data_dir: Path, env: dict[str, str]) -> Services:
    clock = FakeClock()
    return build_services(
        settings_for_tests({**env, "APP_DATA_DIR": str(data_dir)}),
        storage=MemoryStorage(),
        control_plane=MemoryControlPlane(clock),
        clock=clock,
        ids=SequentialIds(),
        run_engine=False,
        verifier=verifier,
    )


@pytest.mark.parametrize("mode", sorted(MODES))
async def test_the_given_verifier_decides_who_gets_in(tmp_path: Path, mode: str) -> None:
    """The middleware asks the supplied verifier, not the one the mode would build."""
    verifier = PasswordVerifier("open-sesame", "broker:write")
    async with asgi_client(services_with(verifier, tmp_path, MODES[mode])) as client:
        accepted = await client.get(CATALOG, headers={**OSB, **bearer("open-sesame")})
        refused = await client.get(CATALOG, headers={**OSB, **bearer("guess")})
    assert (accepted.status_code, refused.status_code) == (200, 401)
    assert verifier.seen == ["open-sesame", "guess"]


async def test_a_local_token_is_refused_when_another_verifier_is_given(tmp_path: Path) -> None:
    """In local mode with an override, the embedded issuer still issues, but its tokens are not trusted."""
    services = services_with(PasswordVerifier("open-sesame", "broker:write"), tmp_path, MODES["local"])
    assert services.local_issuer is not None
    token = services.local_issuer.mint().reveal()
    async with asgi_client(services) as client:
        response = await client.get(CATALOG, headers={**OSB, **bearer(token)})
    assert response.status_code == 401


async def test_the_scope_rules_apply_to_the_given_verifiers_principals(tmp_path: Path) -> None:
    """A principal of the supplied verifier without ``broker:write`` is 403 on OSB routes."""
    services = services_with(PasswordVerifier("open-sesame", "cld:read"), tmp_path, MODES["jwt"])
    async with asgi_client(services) as client:
        response = await client.get(CATALOG, headers={**OSB, **bearer("open-sesame")})
    assert response.status_code == 403
