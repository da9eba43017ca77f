"""What the broker's operations send to KCP, read from the API double's request log and stored objects:
the Runtime CR (kubernetes-wire §1.5) and the Kyma CR (§1.7) of a provisioning, the PUTs of an update,
and the deletes of a deprovisioning. The workers run when told to, on a fake broker clock, and KIM is
stepped by hand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import pytest

from keb_adapters.kubernetes.client import LazyClient
from keb_adapters.kubernetes.control_plane import (
    KubernetesControlPlane,
    KubernetesMachineVolumeSizes,
    KubernetesRuntimeConfiguration,
    KubernetesSeedRegions,
)
from keb_adapters.kubernetes.gardener import KubernetesCredentialsBindings, KubernetesGardener
from keb_adapters.kubernetes.runtime_clusters import KubernetesRuntimeClusters
from keb_adapters.memory.storage import MemoryStorage
from keb_app.app import create_app
from keb_app.bootstrap import Services, build_services
from keb_app.landscape import FakeCluster, KimSimulator
from keb_app.landscape.facts import kcr_volume_sizes, seeds_cache
from keb_app.landscape.pools import CREDENTIALS_BINDINGS
from keb_domain.errors import ClusterConflictError
from keb_domain.model.instance import Instance
from keb_domain.model.plans import PLANS_BY_NAME
from keb_domain.model.runtime_config import config_map_entry
from tests.support import AWS, OSB, SERVICE, FakeClock, provision_body, settings_for_tests

from .conftest import READY_AFTER
from .support import KYMAS_PATH, RUNTIMES_PATH, ManualClock, WireTap, calls, kyma_body

INSTANCE = "inst-1"
INSTANCE_PATH = f"/oauth/cf-eu10/v2/service_instances/{INSTANCE}"


class UpperCaseIds:
    """Random ids in upper case, so that lower-casing the runtime id is visible on the wire."""

    def new_id(self) -> str:
        return str(uuid.uuid4()).upper()

    def shoot_name(self) -> str:
        return f"c-{uuid.uuid4().hex[:7]}"


@attrs.define
class WireBroker:
    client: httpx.AsyncClient
    services: Services
    clock: FakeClock
    kcp: FakeCluster
    kim: KimSimulator
    kim_clock: ManualClock

    async def settle(self) -> None:
        """Run due operations, step KIM and move both clocks until no operation is unfinished."""
        for _ in range(100):
            due = await self.services.storage.next_due_at()
            if due is None:
                return
            self.clock.current = max(self.clock.current, due)
            await self.services.engine.run_once()
            self.kim.step()
            self.kim_clock.advance(READY_AFTER)
        raise AssertionError("operations did not settle")

    async def state(self, operation: str | None = None) -> str:
        params = {"operation": operation} if operation else {}
        response = await self.client.get(f"{INSTANCE_PATH}/last_operation", params=params, headers=OSB)
        assert response.status_code == 200, response.text
        return str(response.json()["state"])

    async def instance(self) -> Instance:
        async with self.services.storage() as uow:
            instance = await uow.instances.get(INSTANCE)
        assert instance is not None
        return instance


@pytest.fixture
def broker_env() -> dict[str, str]:
    """Settings of the broker fixture beyond the defaults; a test parametrizes it to switch features on."""
    return {}


@pytest.fixture
async def broker(
    *,
    broker_env: dict[str, str],
    kcp_client: LazyClient,
    kcp: FakeCluster,
    kim: KimSimulator,
    kim_clock: ManualClock,
    control_plane: KubernetesControlPlane,
    gardener: KubernetesGardener,
    runtime_clusters: KubernetesRuntimeClusters,
    credentials_bindings: KubernetesCredentialsBindings,
    runtime_configuration: KubernetesRuntimeConfiguration,
) -> AsyncIterator[WireBroker]:
    clock = FakeClock(datetime.now(UTC))
    # What the local landscape seeds; dynamic volume sizes need theirs at startup.
    kcp.create("configmaps", seeds_cache("gardener-seeds-cache"), "kcp-system")
    kcp.create("configmaps", kcr_volume_sizes("consumption-reporter-config"), "kcp-system")
    services = build_services(
        settings_for_tests({"APP_OPERATION_POLL_INTERVAL": "10s", **broker_env}),
        storage=MemoryStorage(),
        control_plane=control_plane,
        gardener=gardener,
        runtime_clusters=runtime_clusters,
        credentials_bindings=credentials_bindings,
        runtime_configuration=runtime_configuration,
        seed_regions=KubernetesSeedRegions(kcp_client),
        volume_sizes=KubernetesMachineVolumeSizes(kcp_client),
        clock=clock,
        ids=UpperCaseIds(),
        run_engine=False,
    )
    await services.start()
    # Litestar's precise ASGI callable types are narrower than the loose ones httpx declares.
    transport = httpx.ASGITransport(app=create_app(services, manage_services=False))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://keb.test") as client:
            yield WireBroker(client, services, clock, kcp, kim, kim_clock)
    finally:
        await services.stop()


@pytest.fixture
async def provisioned(broker: WireBroker) -> WireBroker:
    """The broker after a provisioning of the aws plan that succeeded."""
    response = await broker.client.put(INSTANCE_PATH, json=provision_body(AWS), headers=OSB)
    assert response.status_code == 202, response.text
    await broker.settle()
    assert await broker.state() == "succeeded"
    return broker


def _runtime(broker: WireBroker, name: str) -> dict[str, Any]:
    runtime = broker.kcp.get("runtimes", name, "kcp-system")
    assert runtime is not None
    return runtime


async def test_runtime_cr_is_named_after_the_lower_cased_runtime_id(provisioned: WireBroker) -> None:
    """The Runtime CR is POSTed to kcp-system and named after the runtime id in lower case."""
    instance = await provisioned.instance()
    name = instance.runtime_id.lower()
    assert instance.runtime_id != name
    assert ("POST", RUNTIMES_PATH, 201) in calls(provisioned.kcp)
    assert _runtime(provisioned, name)["metadata"]["namespace"] == "kcp-system"


async def test_runtime_cr_is_looked_up_before_it_is_posted(provisioned: WireBroker) -> None:
    """KEB's create step: GET the Runtime (404), then POST it, once."""
    name = (await provisioned.instance()).runtime_id.lower()
    runtime_calls = [c for c in calls(provisioned.kcp, RUNTIMES_PATH) if c[0] != "GET" or c[2] == 404]
    assert runtime_calls[:2] == [("GET", f"{RUNTIMES_PATH}/{name}", 404), ("POST", RUNTIMES_PATH, 201)]
    assert [c for c in runtime_calls if c[0] == "POST"] == [("POST", RUNTIMES_PATH, 201)]


async def test_runtime_cr_carries_every_kyma_label(provisioned: WireBroker) -> None:
    """The Runtime CR has all kyma-project.io labels of §1.5 with the instance's values."""
    instance = await provisioned.instance()
    labels = _runtime(provisioned, instance.runtime_id.lower())["metadata"]["labels"]
    assert labels == {
        "kyma-project.io/instance-id": INSTANCE,
        "kyma-project.io/runtime-id": instance.runtime_id,
        "kyma-project.io/broker-plan-id": AWS,
        "kyma-project.io/broker-plan-name": "aws",
        "kyma-project.io/global-account-id": "ga-1",
        "kyma-project.io/subaccount-id": "sa-1",
        "kyma-project.io/shoot-name": instance.shoot_name,
        "kyma-project.io/platform-region": "cf-eu10",
        "kyma-project.io/region": "eu-central-1",
        "kyma-project.io/provider": "AWS",
        "operator.kyma-project.io/kyma-name": instance.runtime_id.lower(),
    }


async def test_runtime_cr_spec_has_the_fields_kim_requires(provisioned: WireBroker) -> None:
    """spec.shoot and spec.security carry every field the Runtime CRD requires, with the instance's values."""
    instance = await provisioned.instance()
    spec = _runtime(provisioned, instance.runtime_id.lower())["spec"]
    shoot = spec["shoot"]
    assert shoot["name"] == instance.shoot_name
    assert shoot["purpose"]
    assert shoot["platformRegion"] == "cf-eu10"
    assert shoot["region"] == "eu-central-1"
    assert shoot["secretBindingName"] == instance.credentials_binding == "aws-001"
    assert shoot["provider"]["type"] == "aws"
    assert shoot["provider"]["workers"][0]["name"] == "cpu-worker-0"
    assert shoot["networking"]["type"] == "calico"
    assert {"pods", "services", "nodes"} <= set(shoot["networking"])
    assert spec["security"]["administrators"] == ["user@example.com"]
    assert isinstance(spec["security"]["networking"]["filter"]["egress"]["enabled"], bool)


async def test_broker_never_writes_runtime_status(provisioned: WireBroker) -> None:
    """Only KIM writes status: the broker neither PUTs nor PATCHes Runtimes, and never touches /status."""
    writes = [c for c in calls(provisioned.kcp) if c[0] in ("PUT", "PATCH") or c[1].endswith("/status")]
    assert writes == []


async def test_provisioning_polls_the_runtime_until_it_is_ready(provisioned: WireBroker) -> None:
    """The check step reads the Runtime CR again while KIM reports it Pending."""
    name = (await provisioned.instance()).runtime_id.lower()
    reads = [c for c in calls(provisioned.kcp) if c == ("GET", f"{RUNTIMES_PATH}/{name}", 200)]
    assert len(reads) >= 2


async def test_kyma_cr_is_posted_after_the_runtime_is_ready(provisioned: WireBroker) -> None:
    """The Kyma CR is looked up (404) and POSTed to kcp-system, named after the lower-cased runtime id."""
    name = (await provisioned.instance()).runtime_id.lower()
    assert calls(provisioned.kcp, KYMAS_PATH) == [
        ("GET", f"{KYMAS_PATH}/{name}", 404),
        ("POST", KYMAS_PATH, 201),
    ]
    assert provisioned.kcp.get("kymas", name, "kcp-system") is not None


async def test_kyma_cr_carries_labels_annotation_and_modules(provisioned: WireBroker) -> None:
    """The Kyma CR has the common labels, KLM's managed-by, the skr-domain annotation and default modules."""
    instance = await provisioned.instance()
    kyma = provisioned.kcp.get("kymas", instance.runtime_id.lower(), "kcp-system")
    assert kyma is not None
    labels = kyma["metadata"]["labels"]
    runtime_labels = _runtime(provisioned, instance.runtime_id.lower())["metadata"]["labels"]
    assert runtime_labels.items() <= labels.items()
    assert labels["operator.kyma-project.io/managed-by"] == "lifecycle-manager"
    assert labels["operator.kyma-project.io/internal"] == "true"
    assert kyma["metadata"]["annotations"]["skr-domain"].startswith(f"{instance.shoot_name}.")
    assert kyma["spec"]["channel"] == "regular"
    assert [m["name"] for m in kyma["spec"]["modules"]] == ["api-gateway", "istio", "btp-operator"]


async def test_deprovisioning_deletes_kyma_then_runtime_and_waits_for_it(provisioned: WireBroker) -> None:
    """Deprovisioning DELETEs the Kyma CR, then the Runtime CR, then reads the Runtime until it is 404."""
    name = (await provisioned.instance()).runtime_id.lower()
    provisioned.kcp.clear_requests()
    response = await provisioned.client.delete(
        INSTANCE_PATH, params={"service_id": SERVICE, "plan_id": AWS}, headers=OSB
    )
    assert response.status_code == 202, response.text
    await provisioned.settle()
    log = calls(provisioned.kcp)
    deletes = [c for c in log if c[0] == "DELETE"]
    assert deletes == [("DELETE", f"{KYMAS_PATH}/{name}", 200), ("DELETE", f"{RUNTIMES_PATH}/{name}", 200)]
    assert log[-1] == ("GET", f"{RUNTIMES_PATH}/{name}", 404)
    assert ("GET", f"{RUNTIMES_PATH}/{name}", 200) in log[log.index(deletes[-1]) :]
    assert provisioned.kcp.get("runtimes", name, "kcp-system") is None


# --- an existing Kyma CR --------------------------------------------------------------------------------


async def test_existing_kyma_cr_is_relabelled_with_a_put(
    broker: WireBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Kyma CR that exists already is read and PUT back with the broker's labels and its own spec."""
    response = await broker.client.put(INSTANCE_PATH, json=provision_body(AWS), headers=OSB)
    assert response.status_code == 202, response.text
    await broker.services.engine.run_once()  # up to the wait for KIM: the Runtime CR exists now
    name = (await broker.instance()).runtime_id.lower()
    seeded = broker.kcp.create("kymas", {**kyma_body(name), "spec": {"channel": "fast"}})
    tap = WireTap(broker.kcp, monkeypatch)
    await broker.settle()
    assert await broker.state() == "succeeded"
    assert calls(broker.kcp, KYMAS_PATH) == [
        ("GET", f"{KYMAS_PATH}/{name}", 200),
        ("PUT", f"{KYMAS_PATH}/{name}", 200),
    ]
    [body] = tap.bodies("PUT", f"{KYMAS_PATH}/{name}")
    assert body["metadata"]["resourceVersion"] == seeded["metadata"]["resourceVersion"]
    assert body["metadata"]["labels"]["kyma-project.io/instance-id"] == INSTANCE
    kyma = broker.kcp.get("kymas", name, "kcp-system")
    assert kyma is not None
    assert kyma["spec"] == {"channel": "fast"}


# --- update ---------------------------------------------------------------------------------------------


async def _update(broker: WireBroker, parameters: dict[str, Any]) -> str:
    response = await broker.client.patch(
        INSTANCE_PATH,
        params={"accepts_incomplete": "true"},
        json={"service_id": SERVICE, "plan_id": AWS, "parameters": parameters},
        headers=OSB,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["operation"])


async def test_update_puts_the_runtime_with_the_version_it_read(
    provisioned: WireBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update GETs the Runtime CR and PUTs it back with that resourceVersion and the new worker bounds."""
    name = (await provisioned.instance()).runtime_id.lower()
    tap = WireTap(provisioned.kcp, monkeypatch)
    operation = await _update(provisioned, {"autoScalerMax": 7})
    await provisioned.settle()
    assert await provisioned.state(operation) == "succeeded"
    path = f"{RUNTIMES_PATH}/{name}"
    runtime_calls = [(r.method, r.status) for r in tap.requests if r.path == path]
    assert runtime_calls[:2] == [("GET", 200), ("PUT", 200)]
    read = next(r for r in tap.requests if r.path == path and r.method == "GET")
    put = next(r for r in tap.requests if r.path == path and r.method == "PUT")
    assert put.body["metadata"]["resourceVersion"] == read.response["metadata"]["resourceVersion"]
    assert _runtime(provisioned, name)["spec"]["shoot"]["provider"]["workers"][0]["maximum"] == 7
    assert _runtime(provisioned, name)["metadata"]["generation"] == 2


async def test_update_waits_for_kim_to_observe_the_new_generation(provisioned: WireBroker) -> None:
    """After the PUT the update keeps reading the Runtime until KIM reports Ready for generation 2."""
    name = (await provisioned.instance()).runtime_id.lower()
    provisioned.kcp.clear_requests()
    operation = await _update(provisioned, {"autoScalerMax": 7})
    await provisioned.services.engine.run_once()
    assert await provisioned.state(operation) == "in progress"  # KIM's Ready is about generation 1
    await provisioned.settle()
    assert await provisioned.state(operation) == "succeeded"
    assert _runtime(provisioned, name)["status"]["observedGeneration"] == 2
    reads = [c for c in calls(provisioned.kcp) if c == ("GET", f"{RUNTIMES_PATH}/{name}", 200)]
    assert len(reads) >= 3  # the read before the PUT, then the check step's polls


async def test_update_conflict_is_retried_with_a_fresh_read(provisioned: WireBroker) -> None:
    """A 409 Conflict on the Runtime PUT makes the update read the Runtime again and PUT once more."""
    name = (await provisioned.instance()).runtime_id.lower()
    provisioned.kcp.clear_requests()
    provisioned.kcp.inject_fault("PUT", f"/runtimes/{name}$", 409, 1)
    operation = await _update(provisioned, {"autoScalerMax": 7})
    await provisioned.settle()
    assert await provisioned.state(operation) == "succeeded"
    path = f"{RUNTIMES_PATH}/{name}"
    writes = [(m, s) for m, p, s in calls(provisioned.kcp) if p == path]
    assert writes[:4] == [("GET", 200), ("PUT", 409), ("GET", 200), ("PUT", 200)]
    assert _runtime(provisioned, name)["spec"]["shoot"]["provider"]["workers"][0]["maximum"] == 7


CREDENTIALS_BINDINGS_PATH = (
    "/apis/security.gardener.cloud/v1alpha1/namespaces/garden-kyma-dev/credentialsbindings"
)


async def test_the_runtime_names_the_binding_claimed_in_the_garden_project(
    provisioned: WireBroker, garden: FakeCluster
) -> None:
    """The claimed CredentialsBinding carries tenantName=GA and is the Runtime's secretBindingName."""
    instance = await provisioned.instance()
    runtime = _runtime(provisioned, instance.runtime_id.lower())
    binding = garden.get(
        CREDENTIALS_BINDINGS, runtime["spec"]["shoot"]["secretBindingName"], "garden-kyma-dev"
    )
    assert binding is not None
    assert binding["metadata"]["labels"] == {"hyperscalerType": "aws", "tenantName": "ga-1"}


async def test_a_claim_is_a_label_selected_list_and_a_versioned_put(
    provisioned: WireBroker, garden: FakeCluster
) -> None:
    """KEB's selectors go to the list verb; the claim is one PUT that carries the resourceVersion it read."""
    lists = [r.query for r in garden.requests if r.method == "GET" and r.path == CREDENTIALS_BINDINGS_PATH]
    assert any("tenantName%3Dga-1" in q or "tenantName=ga-1" in q for q in lists)
    assert any("%21tenantName" in q or "!tenantName" in q for q in lists)
    puts = [c for c in calls(garden, CREDENTIALS_BINDINGS_PATH) if c[0] == "PUT"]
    assert puts == [("PUT", f"{CREDENTIALS_BINDINGS_PATH}/aws-001", 200)]


async def test_a_stale_claim_is_refused_by_the_api_server(
    credentials_bindings: KubernetesCredentialsBindings, garden: FakeCluster
) -> None:
    """A PUT with an outdated resourceVersion is a conflict, which makes a racing claimer read again."""
    read = await credentials_bindings.get("aws-001")
    assert read is not None
    garden.patch(
        CREDENTIALS_BINDINGS, "aws-001", {"metadata": {"labels": {"tenantName": "ga-x"}}}, "garden-kyma-dev"
    )
    with pytest.raises(ClusterConflictError):
        await credentials_bindings.relabel(read, {**read.labels, "tenantName": "ga-y"})


async def test_the_kyma_resource_follows_the_runtime_configuration_config_map(broker: WireBroker) -> None:
    """The plan's kyma-template in kcp-system/keb-runtime-config shapes the Kyma CR, read at apply time."""
    template = {
        "apiVersion": "operator.kyma-project.io/v1beta2",
        "kind": "Kyma",
        "metadata": {"name": "tbd", "namespace": "kcp-system"},
        "spec": {"channel": "fast", "modules": [{"name": "istio"}]},
    }
    broker.kcp.create(
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "keb-runtime-config",
                "namespace": "kcp-system",
                "labels": {"keb-config": "true"},
            },
            "data": {"aws": config_map_entry(template)},
        },
        "kcp-system",
    )
    response = await broker.client.put(INSTANCE_PATH, json=provision_body(AWS), headers=OSB)
    assert response.status_code == 202, response.text
    await broker.settle()
    instance = await broker.instance()
    kyma = broker.kcp.get("kymas", instance.runtime_id.lower(), "kcp-system")
    assert kyma is not None
    assert kyma["spec"] == {"channel": "fast", "modules": [{"name": "istio"}]}
    assert ("GET", "/api/v1/namespaces/kcp-system/configmaps/keb-runtime-config", 200) in calls(broker.kcp)


async def test_without_the_config_map_the_built_in_template_is_used(provisioned: WireBroker) -> None:
    """A 404 for the ConfigMap is not an error: the Kyma CR gets the built-in template's channel."""
    instance = await provisioned.instance()
    kyma = provisioned.kcp.get("kymas", instance.runtime_id.lower(), "kcp-system")
    assert kyma is not None
    assert kyma["spec"]["channel"] == "regular"
    assert ("GET", "/api/v1/namespaces/kcp-system/configmaps/keb-runtime-config", 404) in calls(
        provisioned.kcp
    )


@pytest.mark.parametrize(
    ("plan", "region", "provider", "volume", "zones", "maximum"),
    [
        ("alicloud", "eu-west-1", "alicloud", "cloud_essd", ["eu-west-1a", "eu-west-1b"], 20),
        ("build-runtime-alicloud", "ap-southeast-1", "alicloud", "cloud_essd", None, 20),
        ("gdch", "us-west16", "gdch", "Standard", ["us-west16-a", "us-west16-b", "us-west16-c"], 10),
    ],
)
async def test_the_alicloud_and_gdch_runtimes_go_over_the_wire_as_keb_writes_them(
    *,
    broker: WireBroker,
    garden: FakeCluster,
    plan: str,
    region: str,
    provider: str,
    volume: str,
    zones: list[str] | None,
    maximum: int,
) -> None:
    """The POSTed Runtime carries KEB's provider type, region, machine, volume and zones and names the
    binding claimed from the plan's pool in the garden project; KIM makes it Ready, provisioning succeeds."""
    body = provision_body(PLANS_BY_NAME[plan].id, {"name": "my-cluster", "region": region})
    response = await broker.client.put(INSTANCE_PATH, json=body, headers=OSB)
    assert response.status_code == 202, response.text
    await broker.settle()
    assert await broker.state() == "succeeded"
    instance = await broker.instance()
    runtime = _runtime(broker, instance.runtime_id.lower())
    shoot = runtime["spec"]["shoot"]
    assert (shoot["provider"]["type"], shoot["region"], shoot["platformRegion"]) == (
        provider,
        region,
        "cf-eu10",
    )
    [worker] = shoot["provider"]["workers"]
    machine = "n3-standard-2-gdc" if provider == "gdch" else "ecs.g9i.large"
    assert worker["machine"]["type"] == machine
    assert worker["volume"] == {"size": "80Gi", "type": volume}
    # eu-west-1 has two zones in KEB's alicloud configuration: a multi-zone runtime takes what there is.
    assert worker["zones"] == (zones or [f"{region}a", f"{region}b", f"{region}c"])
    assert (worker["minimum"], worker["maximum"]) == (3, maximum)
    assert shoot["secretBindingName"] == instance.credentials_binding == f"{provider}-001"
    binding = garden.get(CREDENTIALS_BINDINGS, f"{provider}-001", "garden-kyma-dev")
    assert binding is not None
    assert binding["metadata"]["labels"] == {"hyperscalerType": provider, "tenantName": "ga-1"}
    assert binding["provider"]["type"] == provider


SWITCHED_ON = {
    "APP_BROKER_GVISOR_ENABLED": "true",
    "APP_BROKER_ACL_ENABLED_PLANS": "all",
    "APP_BROKER_DYNAMIC_VOLUME_SIZE_ENABLED": "true",
    "APP_BROKER_ADDITIONAL_VOLUME_SIZE_GI_PLANS": "aws",
}


@pytest.mark.parametrize("broker_env", [SWITCHED_ON])
async def test_the_switched_parameters_reach_kim_in_keb_s_wire_shape(broker: WireBroker) -> None:
    """Over HTTPS, with the ConfigMaps the local landscape seeds (read at startup, then for each request and
    Runtime resource): enforceSeedLocation, the ACL, gVisor's CRI
    and the machine type's volume plus additionalVolumeSizeGi, first on create, then changed by an update."""
    parameters = {
        "name": "c",
        "region": "eu-central-1",
        "machineType": "m6i.large",
        "colocateControlPlane": True,
        "additionalVolumeSizeGi": 20,
        "gvisor": {"enabled": True},
        "accessControlList": {"allowedCIDRs": ["5.6.0.0/16"]},
    }
    body = provision_body(AWS, parameters)
    body["context"]["globalaccount_id"] = "ga-1"
    response = await broker.client.put(INSTANCE_PATH, json=body, headers=OSB)
    assert response.status_code == 400, response.text  # ga-1 is not on the (absent) gVisor whitelist
    del parameters["gvisor"]
    response = await broker.client.put(INSTANCE_PATH, json=provision_body(AWS, parameters), headers=OSB)
    assert response.status_code == 202, response.text
    await broker.settle()
    assert await broker.state() == "succeeded"
    name = (await broker.instance()).runtime_id.lower()
    shoot = _runtime(broker, name)["spec"]["shoot"]
    assert shoot["enforceSeedLocation"] is True
    assert shoot["kubernetes"]["kubeAPIServer"]["acl"] == {"allowedCIDRs": ["5.6.0.0/16"]}
    assert shoot["provider"]["workers"][0]["volume"] == {"size": "100Gi", "type": "gp3"}
    assert "cri" not in shoot["provider"]["workers"][0]
    change = {"accessControlList": {"allowedCIDRs": []}, "additionalVolumeSizeGi": 0}
    patch = await broker.client.patch(
        INSTANCE_PATH,
        params={"accepts_incomplete": "true"},
        json={"service_id": SERVICE, "parameters": change},
        headers=OSB,
    )
    assert patch.status_code == 202, patch.text
    await broker.settle()
    shoot = _runtime(broker, name)["spec"]["shoot"]
    assert "acl" not in shoot["kubernetes"]["kubeAPIServer"]
    assert shoot["provider"]["workers"][0]["volume"]["size"] == "80Gi"
    assert shoot["enforceSeedLocation"] is True
