"""The plans configuration's ``disableColocateControlPlane`` and ``disableGvisor``, in KEB's format: the
plan's schemas lack the parameters, and what is sent anyway never reaches the Runtime resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from keb_adapters.memory.landscape_facts import MemorySeedRegions
from keb_domain.model.plans import Provider
from tests.integration.http.conftest import Broker, make_broker
from tests.integration.http.switched import schema_properties, the_runtime
from tests.integration.http.test_keb_configuration import AWS, GCP, files
from tests.support import provision_body

SWITCHED_ON = {"APP_BROKER_GVISOR_ENABLED": "true"}
SEEDS = MemorySeedRegions({Provider.GCP: ("europe-west3",), Provider.AWS: ("us-east-1",)})


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    async for value in make_broker({**files(tmp_path), **SWITCHED_ON}, seed_regions=SEEDS):
        yield value


async def test_a_plan_without_the_switches_offers_both(broker: Broker) -> None:
    """aws (no disable* key) shows gvisor (also in pools) and colocateControlPlane."""
    properties = await schema_properties(broker, AWS)
    assert {"gvisor", "colocateControlPlane"} <= set(properties)
    assert "gvisor" in properties["additionalWorkerNodePools"]["items"]["properties"]
    assert "gvisor" in await schema_properties(broker, AWS, "update")


async def test_the_switches_hide_the_parameters_of_their_plan(broker: Broker) -> None:
    """gcp (disableColocateControlPlane, disableGvisor) shows neither, not even in its pools or update."""
    for which in ("create", "update"):
        properties = await schema_properties(broker, GCP, which)
        assert not {"gvisor", "colocateControlPlane"} & set(properties)
        assert "gvisor" not in properties["additionalWorkerNodePools"]["items"]["properties"]


async def test_sent_anyway_they_do_not_reach_the_runtime(broker: Broker) -> None:
    """Parameters a plan's schema lacks are dropped (keb's rule for unknown parameters): no seed location,
    no gVisor for gcp."""
    body = provision_body(
        GCP,
        {"name": "c", "region": "europe-west3", "colocateControlPlane": True, "gvisor": {"enabled": False}},
    )
    await broker.provisioned("inst-1", body)
    shoot = the_runtime(broker)["spec"]["shoot"]
    assert shoot["enforceSeedLocation"] is False
    assert "cri" not in shoot["provider"]["workers"][0]


async def test_refused_when_unsupported_parameters_are(tmp_path: Path) -> None:
    """With APP_BROKER_REJECT_UNSUPPORTED_PARAMETERS a disabled parameter is a 400."""
    env = {**files(tmp_path), **SWITCHED_ON, "APP_BROKER_REJECT_UNSUPPORTED_PARAMETERS": "true"}
    async for broker in make_broker(env, seed_regions=SEEDS):
        body = provision_body(GCP, {"name": "c", "region": "europe-west3", "colocateControlPlane": True})
        response = await broker.osb("PUT", "/oauth/v2/service_instances/i", json=body)
        assert response.status_code == 400, response.text
        assert "colocateControlPlane" in response.json()["description"]
