"""KEB-format plans and providers files: each key reaches the catalog and the Runtime resource, or is refused.

The files are written the way KEB's own test configuration (``cmd/broker/testdata``) uses each key: an aws
plan with unversioned ``mi.*`` / ``ri.*`` machines that ``machinesVersions`` maps to ``m7i.*`` / ``r8i.*``,
a plan volume of 81 GB, GPU machines available only in some zones, internal-only machines, and a plan
without the networking parameter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from keb_app.settings import Settings
from keb_domain.errors import ConfigurationError
from keb_domain.model.plans import PLANS_BY_NAME
from tests.integration.http.conftest import Broker, make_broker
from tests.support import SERVICE, provision_body

PLANS = """
preview,aws,build-runtime-aws:
  upgradableToPlans: [build-runtime-aws]
  volumeSizeGb: 81
  regularMachines: [mi.large, mi.xlarge, m6i.large, ri.large]
  additionalMachines: [ri.xlarge, g6.xlarge, c7i.large]
  internalOnlyMachines: [ri]
  regions:
    cf-eu11: [eu-central-1]
    default: [eu-central-1, us-east-1]
gcp,build-runtime-gcp:
  disableNetworking: true
  disableColocateControlPlane: true
  disableGvisor: true
  regularMachines: [n2-standard-2]
  regions:
    default: [europe-west3]
"""

PROVIDERS = """
aws:
  dualStack: true
  machines:
    mi.large: "mi.large (2vCPU, 8GB RAM)"
    mi.xlarge: "mi.xlarge (4vCPU, 16GB RAM)"
  machinesVersions:
    mi.{size}: m7i.{size}
    ri.{size}: r8i.{size}
  regionsSupportingMachine:
    g6:
      us-east-1: [x, y]
    ri:
      eu-central-1: []
      us-east-1: []
  regions:
    eu-central-1: {displayName: "eu-central-1 (Europe, Frankfurt)", zones: [a, b, c]}
    us-east-1: {displayName: "us-east-1 (US East, N. Virginia)", zones: [a, b, c, d, f]}
azure:
  clientConfiguration: public
  regions:
    westeurope: {displayName: "westeurope (Europe, Netherlands)", zones: ["1", "2", "3"]}
gcp:
  regions:
    europe-west3: {displayName: "europe-west3 (Europe, Frankfurt)", zones: [a, b, c]}
"""

AWS = PLANS_BY_NAME["aws"].id
GCP = PLANS_BY_NAME["gcp"].id


def files(tmp_path: Path, plans: str = PLANS, providers: str = PROVIDERS) -> dict[str, str]:
    (tmp_path / "plans.yaml").write_text(plans, encoding="utf-8")
    (tmp_path / "providers.yaml").write_text(providers, encoding="utf-8")
    return {
        "APP_PLANS_CONFIGURATION_FILE_PATH": str(tmp_path / "plans.yaml"),
        "APP_PROVIDERS_CONFIGURATION_FILE_PATH": str(tmp_path / "providers.yaml"),
    }


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    async for value in make_broker(files(tmp_path)):
        yield value


async def plan_of(broker: Broker, plan_id: str) -> dict[str, Any]:
    response = await broker.osb("GET", "/oauth/cf-eu10/v2/catalog")
    assert response.status_code == 200, response.text
    plans = response.json()["services"][0]["plans"]
    found: dict[str, Any] = next(p for p in plans if p["id"] == plan_id)
    return found


async def runtime_of(broker: Broker, instance_id: str) -> dict[str, Any]:
    await broker.settle()
    for body in broker.kcp.runtimes.values():
        if body["metadata"]["labels"]["kyma-project.io/instance-id"] == instance_id:
            return body
    raise AssertionError(f"no Runtime resource for {instance_id}")


def aws_body(**parameters: Any) -> dict[str, Any]:
    return provision_body(AWS, {"name": "c", "region": "us-east-1", **parameters})


async def test_the_catalog_offers_the_configured_names_and_the_runtime_gets_the_versioned_ones(
    broker: Broker,
) -> None:
    """Schemas list ``mi.large`` as configured; the Runtime resource gets ``m7i.large`` (machinesVersions)."""
    create = (await plan_of(broker, AWS))["schemas"]["service_instance"]["create"]["parameters"]
    assert create["properties"]["machineType"]["enum"] == ["mi.large", "mi.xlarge", "m6i.large", "ri.large"]
    pool = aws_body(
        additionalWorkerNodePools=[
            {
                "name": "gpu",
                "machineType": "g6.xlarge",
                "haZones": True,
                "autoScalerMin": 3,
                "autoScalerMax": 4,
            }
        ]
    )
    assert (await broker.osb("PUT", "/oauth/v2/service_instances/i-1", json=pool)).status_code == 202
    workers = (await runtime_of(broker, "i-1"))["spec"]["shoot"]["provider"]
    main = workers["workers"][0]
    assert main["machine"]["type"] == "m7i.large"
    assert main["volume"]["size"] == "81Gi"
    extra = workers["additionalWorkers"][0]
    assert extra["machine"]["type"] == "g6.xlarge"  # no template matches: unchanged
    assert extra["zones"] == ["us-east-1x", "us-east-1y"]  # regionsSupportingMachine's zone list
    assert extra["volume"]["size"] == "81Gi"
    assert main["zones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]


async def test_internal_only_machines_are_refused_to_external_accounts(broker: Broker) -> None:
    """``internalOnlyMachines``: a CUSTOMER account gets KEB's 400; an internal account gets r8i.large."""
    customer = aws_body(machineType="ri.large")
    customer["context"]["license_type"] = "CUSTOMER"
    refused = await broker.osb("PUT", "/oauth/v2/service_instances/i-ext", json=customer)
    assert refused.status_code == 400, refused.text
    assert "Machine type ri.large is not available for your account" in refused.json()["description"]
    pools = aws_body(
        additionalWorkerNodePools=[
            {
                "name": "mem",
                "machineType": "ri.xlarge",
                "haZones": False,
                "autoScalerMin": 1,
                "autoScalerMax": 2,
            }
        ]
    )
    pools["context"]["license_type"] = "PARTNER"
    refused = await broker.osb("PUT", "/oauth/v2/service_instances/i-ext", json=pools)
    assert refused.status_code == 400
    assert "ri.xlarge (used in worker node pools: mem)" in refused.json()["description"]
    internal = aws_body(machineType="ri.large")
    assert (await broker.osb("PUT", "/oauth/v2/service_instances/i-int", json=internal)).status_code == 202
    assert (await runtime_of(broker, "i-int"))["spec"]["shoot"]["provider"]["workers"][0]["machine"][
        "type"
    ] == "r8i.large"


async def test_disable_networking_removes_the_parameter_and_drops_it(broker: Broker) -> None:
    """``disableNetworking``: no ``networking`` in the schema; one sent anyway is dropped."""
    create = (await plan_of(broker, GCP))["schemas"]["service_instance"]["create"]["parameters"]
    assert "networking" not in create["properties"]
    assert (
        "networking"
        in (await plan_of(broker, AWS))["schemas"]["service_instance"]["create"]["parameters"]["properties"]
    )
    body = provision_body(
        GCP, {"name": "g", "region": "europe-west3", "networking": {"nodes": "10.250.0.0/20"}, "junk": 1}
    )
    assert (await broker.osb("PUT", "/oauth/v2/service_instances/g-1", json=body)).status_code == 202
    await broker.settle()
    fetched = await broker.osb("GET", "/oauth/v2/service_instances/g-1")
    assert "networking" not in fetched.json()["parameters"]
    assert "junk" not in fetched.json()["parameters"]


async def test_an_update_to_an_internal_only_machine_is_refused_to_external_accounts(broker: Broker) -> None:
    """The internal-only rule holds for updates too (KEB's instance_update.go)."""
    body = aws_body()
    body["context"]["license_type"] = "TRIAL"
    await broker.provisioned("i-1", body)
    response = await broker.patch("i-1", {"service_id": SERVICE, "parameters": {"machineType": "ri.large"}})
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("plans", "providers", "variable", "key"),
    [
        (PLANS.replace("volumeSizeGb: 81", "volumeSizeGib: 81"), PROVIDERS, "PLANS", "volumeSizeGib"),
        (
            PLANS,
            PROVIDERS.replace("dualStack: true", "dualStack: true\n  zonesDiscovery: true"),
            "PROVIDERS",
            "zonesDiscovery",
        ),
        (
            PLANS,
            PROVIDERS.replace("clientConfiguration: public", "clientConfiguration: mars"),
            "PROVIDERS",
            "clientConfiguration",
        ),
        (
            PLANS,
            PROVIDERS.replace("ri.{size}: r8i.{size}", "ri.{size}: r8i.{sise}"),
            "PROVIDERS",
            "machinesVersions",
        ),
        (
            PLANS,
            PROVIDERS.replace("mi.{size}: m7i.{size}", "mi.{a}{b}: m7i.{a}"),
            "PROVIDERS",
            "machinesVersions",
        ),
        (PLANS.replace("disableGvisor: true", "disableGvisor: maybe"), PROVIDERS, "PLANS", "disableGvisor"),
        (PLANS, PROVIDERS.replace("zones: [a, b, c]}", "zone: [a, b, c]}", 1), "PROVIDERS", "zone"),
    ],
)
def test_a_key_keb_would_not_honour_stops_startup_naming_key_and_file(
    tmp_path: Path, plans: str, providers: str, variable: str, key: str
) -> None:
    """An unknown key, zone discovery, a bad clientConfiguration or template: refused, key and file named."""
    env = {"APP_DATA_DIR": str(tmp_path), "APP_AUTH_MODE": "none", **files(tmp_path, plans, providers)}
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env(env)
    message = str(refused.value)
    assert f"APP_{variable}_CONFIGURATION_FILE_PATH" in message
    assert str(tmp_path / f"{variable.lower()}.yaml") in message
    assert key in message
