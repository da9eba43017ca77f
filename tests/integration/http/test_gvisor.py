"""``gvisor`` (KEB's APP_BROKER_GVISOR_ENABLED and its whitelist): schemas, rules and the Runtime resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from keb_app.settings import Settings
from keb_domain.errors import ConfigurationError
from tests.integration.http.conftest import Broker, make_broker
from tests.integration.http.switched import (
    POOL,
    aws,
    controls_order,
    refused_provisioning,
    schema_properties,
    the_runtime,
)
from tests.support import AWS, FREE, SERVICE, TRIAL

GVISOR_CRI = {"name": "containerd", "containerRuntimes": [{"type": "gvisor"}]}
REFUSED = "The gvisor parameter is not available for your account. Please contact us for further assistance."


def enabled(tmp_path: Path, *accounts: str) -> dict[str, str]:
    whitelist = tmp_path / "gvisor.yaml"
    whitelist.write_text("whitelist:\n" + "".join(f"  - {a}\n" for a in accounts), encoding="utf-8")
    return {
        "APP_BROKER_GVISOR_ENABLED": "true",
        "APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH": str(whitelist),
    }


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    async for value in make_broker(enabled(tmp_path, "ga-1")):
        yield value


async def test_every_plan_offers_it_on_create_update_and_in_pools(broker: Broker) -> None:
    """KEB's createSchemaWithProperties: gvisor in every plan's schemas, and in the pool items."""
    for plan_id in (AWS, TRIAL, FREE):
        for which in ("create", "update"):
            properties = await schema_properties(broker, plan_id, which)
            assert properties["gvisor"]["properties"]["enabled"]["type"] == "boolean"
            assert properties["gvisor"]["required"] == ["enabled"]
    pool = (await schema_properties(broker, AWS))["additionalWorkerNodePools"]["items"]
    assert "gvisor" in pool["properties"]
    assert pool["_controlsOrder"][-1] == "gvisor"
    order = await controls_order(broker, AWS)
    assert order.index("autoScalerMax") < order.index("gvisor") < order.index("additionalWorkerNodePools")


async def test_not_offered_when_switched_off() -> None:
    """Without APP_BROKER_GVISOR_ENABLED no schema has gvisor."""
    async for broker in make_broker():
        assert "gvisor" not in await schema_properties(broker, AWS)
        pool = (await schema_properties(broker, AWS))["additionalWorkerNodePools"]["items"]
        assert "gvisor" not in pool["properties"]


async def test_enabled_it_sets_the_container_runtime_of_the_worker_and_the_pool(broker: Broker) -> None:
    """gvisor.enabled on the main worker and a pool: both Gardener workers get the gVisor CRI."""
    body = aws(gvisor={"enabled": True}, additionalWorkerNodePools=[{**POOL, "gvisor": {"enabled": True}}])
    await broker.provisioned("inst-1", body)
    provider = the_runtime(broker)["spec"]["shoot"]["provider"]
    assert provider["workers"][0]["cri"] == GVISOR_CRI
    assert provider["additionalWorkers"][0]["cri"] == GVISOR_CRI


async def test_not_enabled_no_worker_has_a_cri(broker: Broker) -> None:
    """gvisor.enabled=false, or no gvisor: KEB's ToGardenerCRI gives nil, so no ``cri``."""
    await broker.provisioned("inst-1", aws(gvisor={"enabled": False}, additionalWorkerNodePools=[POOL]))
    provider = the_runtime(broker)["spec"]["shoot"]["provider"]
    assert "cri" not in provider["workers"][0]
    assert "cri" not in provider["additionalWorkers"][0]


async def test_an_update_switches_it_on_and_off(broker: Broker) -> None:
    """gvisor is updatable: on, then off again, on the main worker."""
    await broker.provisioned("inst-1", aws())
    for value in (True, False):
        patch = {"service_id": SERVICE, "parameters": {"gvisor": {"enabled": value}}}
        response = await broker.patch("inst-1", patch)
        assert response.status_code == 202, response.text
        await broker.settle()
        worker = the_runtime(broker)["spec"]["shoot"]["provider"]["workers"][0]
        assert (worker.get("cri") == GVISOR_CRI) is value


@pytest.mark.parametrize(
    "parameters",
    [{"gvisor": {"enabled": True}}, {"additionalWorkerNodePools": [{**POOL, "gvisor": {"enabled": True}}]}],
)
async def test_a_global_account_not_whitelisted_is_refused(
    broker: Broker, parameters: dict[str, object]
) -> None:
    """KEB's validateGvisorAccess: 400 with KEB's message on create and on update, nothing written."""
    body = aws(**parameters)
    body["context"]["globalaccount_id"] = "ga-other"
    assert await refused_provisioning(broker, body) == REFUSED
    other = aws()
    other["context"]["globalaccount_id"] = "ga-other"
    await broker.provisioned("inst-2", other)
    refused = await broker.patch("inst-2", {"service_id": SERVICE, "parameters": parameters})
    assert refused.status_code == 400, refused.text
    assert "cri" not in the_runtime(broker)["spec"]["shoot"]["provider"]["workers"][0]


async def test_a_bad_whitelist_file_stops_startup(tmp_path: Path) -> None:
    """A whitelist file that is not KEB's ``whitelist:`` list names the variable."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("whitelist: not-a-list\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH"):
        Settings.from_env({"APP_GVISOR_WHITELISTED_GLOBAL_ACCOUNTS_FILE_PATH": str(bad)})
