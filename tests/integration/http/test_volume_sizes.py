"""``additionalVolumeSizeGi`` and KEB's dynamic volume sizes (APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_PLANS,
APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED): schemas, rules and the workers' volumes in the Runtime resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from keb_adapters.memory.clusters import MemoryControlPlane
from keb_adapters.memory.landscape_facts import MemoryMachineVolumeSizes
from keb_adapters.memory.storage import MemoryStorage
from keb_app.bootstrap import build_services
from keb_app.landscape.facts import built_in_volume_sizes
from keb_app.settings import Settings
from keb_domain.errors import ConfigurationError
from keb_domain.model.volumes import VolumeSizeTable
from tests.integration.http.conftest import Broker, make_broker
from tests.integration.http.switched import (
    POOL,
    aws,
    controls_order,
    refused_provisioning,
    schema_properties,
    the_runtime,
)
from tests.support import AWS, AZURE, SERVICE, TRIAL, FakeClock, provision_body, settings_for_tests

DYNAMIC = {"APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED": "true"}
LISTED = {**DYNAMIC, "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_PLANS": "aws,trial"}
BUILT_IN = built_in_volume_sizes()
# KEB's KCR ConfigMap gives sizes per resolved machine type; m6i.4xlarge differs, as in KEB's test file.
TABLE = VolumeSizeTable({**BUILT_IN, "aws": {**BUILT_IN["aws"], "m6i.4xlarge": 150}})


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    async for value in make_broker(LISTED, volume_sizes=MemoryMachineVolumeSizes(TABLE)):
        yield value


def volumes(broker: Broker) -> list[str]:
    provider = the_runtime(broker)["spec"]["shoot"]["provider"]
    return [w["volume"]["size"] for w in [*provider["workers"], *provider.get("additionalWorkers", [])]]


async def test_listed_plans_offer_it_with_the_configured_maximum() -> None:
    """aws and trial (listed) show it on create and update, bounded 0..max; pools of aws too; azure not."""
    env = {**LISTED, "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_MAX_SIZE": "250"}
    async for broker in make_broker(env):
        for plan_id in (AWS, TRIAL):
            for which in ("create", "update"):
                prop = (await schema_properties(broker, plan_id, which))["additionalVolumeSizeGi"]
                assert (prop["type"], prop["minimum"], prop["maximum"], prop["default"]) == (
                    "integer",
                    0,
                    250,
                    0,
                )
        pool = (await schema_properties(broker, AWS))["additionalWorkerNodePools"]["items"]
        assert pool["properties"]["additionalVolumeSizeGi"]["maximum"] == 250
        assert (
            pool["_controlsOrder"][pool["_controlsOrder"].index("autoScalerMax") + 1]
            == "additionalVolumeSizeGi"
        )
        order = await controls_order(broker, AWS)
        assert order.index("autoScalerMax") + 1 == order.index("additionalVolumeSizeGi")
        assert "additionalVolumeSizeGi" not in await schema_properties(broker, AZURE)


async def test_the_machine_type_decides_the_volume_and_the_additional_size_is_added(broker: Broker) -> None:
    """Dynamic sizes: m6i.4xlarge has 150Gi (+20), the pool's m6i.large 80Gi (+5)."""
    pool = {**POOL, "additionalVolumeSizeGi": 5}
    body = aws(machineType="m6i.4xlarge", additionalVolumeSizeGi=20, additionalWorkerNodePools=[pool])
    await broker.provisioned("inst-1", body)
    assert volumes(broker) == ["170Gi", "85Gi"]


async def test_an_update_grows_the_volume(broker: Broker) -> None:
    """additionalVolumeSizeGi is updatable: the main worker's volume follows."""
    await broker.provisioned("inst-1", aws(machineType="m6i.large"))
    assert volumes(broker) == ["80Gi"]
    response = await broker.patch(
        "inst-1", {"service_id": SERVICE, "parameters": {"additionalVolumeSizeGi": 40}}
    )
    assert response.status_code == 202, response.text
    await broker.settle()
    assert volumes(broker) == ["120Gi"]


@pytest.mark.parametrize(("machine", "message"), [("m6i.2xlarge", "not found"), ("m6i.xlarge", "zero")])
async def test_a_machine_type_without_a_size_fails_the_operation(machine: str, message: str) -> None:
    """KEB's lookupVolumeSize: a machine type the table lost after start, or sized 0, fails provisioning."""
    sizes = MemoryMachineVolumeSizes(TABLE)
    async for broker in make_broker(DYNAMIC, volume_sizes=sizes):
        aws_sizes = {m: s for m, s in BUILT_IN["aws"].items() if m != "m6i.2xlarge"}
        sizes.table = VolumeSizeTable({"aws": {**aws_sizes, "m6i.xlarge": 0}})
        operation = await broker.provision("inst-1", aws(machineType=machine))
        await broker.settle()
        response = await broker.osb(
            "GET", "/oauth/v2/service_instances/inst-1/last_operation", params={"operation": operation}
        )
        assert response.json()["state"] == "failed"
        assert message in response.json()["description"]
        assert not broker.kcp.runtimes


async def test_without_the_config_map_provisioning_waits_for_it() -> None:
    """KEB retries a KCR ConfigMap that went missing; once it is back the runtime gets its sizes."""
    sizes = MemoryMachineVolumeSizes(TABLE)
    async for broker in make_broker(DYNAMIC, volume_sizes=sizes):
        sizes.table = None
        operation = await broker.provision("inst-1", aws(machineType="m6i.4xlarge"))
        for _ in range(5):  # retried with backoff, still in progress
            broker.clock.advance(60)
            await broker.step()
        assert not broker.kcp.runtimes
        assert await broker.last_operation("inst-1", operation) == "in progress"
        sizes.table = TABLE
        await broker.settle()
        assert volumes(broker) == ["150Gi"]


@pytest.mark.parametrize(
    ("plan_id", "parameters", "message"),
    [
        (AZURE, {"region": "westeurope", "additionalVolumeSizeGi": 10}, "not available for plan azure"),
        (
            AZURE,
            {
                "region": "westeurope",
                "additionalWorkerNodePools": [
                    {**POOL, "machineType": "Standard_D2s_v5", "additionalVolumeSizeGi": 1}
                ],
            },
            "not available for plan azure",
        ),
        (AWS, {"region": "eu-central-1", "additionalVolumeSizeGi": -1}, "additionalVolumeSizeGi"),
        (AWS, {"region": "eu-central-1", "additionalVolumeSizeGi": 101}, "additionalVolumeSizeGi"),
    ],
)
async def test_refused_outside_the_listed_plans_and_the_bounds(
    broker: Broker, plan_id: str, parameters: dict[str, Any], message: str
) -> None:
    """A plan not listed (main worker or pool), a negative or too large size: 400, nothing created."""
    assert message in await refused_provisioning(broker, provision_body(plan_id, {"name": "c", **parameters}))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (None, "consumption-reporter-config (APP_BROKER_KCR_CONFIG_MAP_NAME) does not exist"),
        (VolumeSizeTable({**BUILT_IN, "aws": {"m6i.large": 80}}), "no volume size for aws/"),
    ],
)
async def test_startup_needs_a_size_for_every_machine_type(
    table: VolumeSizeTable | None, message: str
) -> None:
    """KEB's ValidateAllMachineTypes: no ConfigMap, or a machine type of the providers file without a size,
    stops startup naming the variable and what is missing."""
    services = build_services(
        settings_for_tests(DYNAMIC),
        storage=MemoryStorage(),
        control_plane=MemoryControlPlane(FakeClock()),
        volume_sizes=MemoryMachineVolumeSizes(table),
        run_engine=False,
    )
    with pytest.raises(ConfigurationError, match="APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED") as raised:
        await services.start()
    await services.stop()
    assert message in str(raised.value)


def test_the_plans_need_dynamic_volume_sizes() -> None:
    """KEB's Config.Validate: the plans list without APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED stops startup."""
    with pytest.raises(ConfigurationError, match="requires APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED"):
        Settings.from_env({"APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_PLANS": "aws"})
