"""Builders shared by unit and integration tests: a fake clock, settings, and request bodies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from keb_adapters.memory.accounts import MemoryCredentialsBindings
from keb_adapters.memory.clusters import MemoryControlPlane
from keb_app.landscape.pools import local_pools
from keb_app.settings import Settings
from keb_domain.model.plans import KYMA_SERVICE_ID, PLANS_BY_NAME

AWS = PLANS_BY_NAME["aws"].id
AZURE = PLANS_BY_NAME["azure"].id
TRIAL = PLANS_BY_NAME["trial"].id
FREE = PLANS_BY_NAME["free"].id
SERVICE = KYMA_SERVICE_ID
OSB = {"X-Broker-API-Version": "2.14"}


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 27, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class SequentialIds:
    """Predictable ids: op-1, op-2, ... and shoot names c-0000001, ..."""

    def __init__(self) -> None:
        self.count = 0

    def new_id(self) -> str:
        self.count += 1
        return f"00000000-0000-4000-8000-{self.count:012d}"

    def shoot_name(self) -> str:
        self.count += 1
        return f"c-{self.count:07x}"


def settings_for_tests(env: Mapping[str, str] | None = None, **changes: Any) -> Settings:
    """Embedded-default settings with fast polling; ``changes`` replace Settings fields."""
    base = {
        "APP_DATA_DIR": "/nonexistent-keb-test-dir",
        "APP_OPERATION_POLL_INTERVAL": "1s",
        "APP_DATABASE_SECRET_KEY": "0123456789abcdef0123456789abcdef",
        # Most tests are about what the broker does once a caller is allowed in; auth has its own tests.
        "APP_AUTH_MODE": "none",
    }
    settings = Settings.from_env({**base, **(env or {})})
    return attrs.evolve(settings, **changes) if changes else settings


def context(
    ga: str = "ga-1", sa: str = "sa-1", user: str = "user@example.com", **extra: Any
) -> dict[str, Any]:
    return {"globalaccount_id": ga, "subaccount_id": sa, "user_id": user, **extra}


def provision_body(
    plan_id: str = AWS, parameters: Mapping[str, Any] | None = None, **context_changes: Any
) -> dict[str, Any]:
    params = dict(parameters) if parameters is not None else {"name": "my-cluster", "region": "eu-central-1"}
    return {
        "service_id": SERVICE,
        "plan_id": plan_id,
        "context": context(**context_changes),
        "parameters": params,
    }


def memory_pools(
    control_plane: MemoryControlPlane | None = None, size: int = 20
) -> MemoryCredentialsBindings:
    """The local landscape's pools in memory, with Shoots counted from ``control_plane``."""
    pools = MemoryCredentialsBindings(control_plane)
    for name, labels in local_pools(size):
        pools.add(name, labels)
    return pools
