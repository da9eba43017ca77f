"""The seeds cache and the machine volume sizes, read from KCP ConfigMaps over HTTPS as KEB writes them;
the local landscape's seeded ConfigMaps are among them, so ``make run`` can colocate and size volumes."""

from __future__ import annotations

from typing import Any

import pytest

from keb_adapters.kubernetes.client import LazyClient
from keb_adapters.kubernetes.control_plane import KubernetesMachineVolumeSizes, KubernetesSeedRegions
from keb_app.landscape import FakeCluster
from keb_app.landscape.facts import kcr_volume_sizes, seeds_cache
from keb_app.settings import Settings
from keb_domain.errors import ClusterUnavailableError
from keb_domain.model.plans import PLANS_BY_NAME, Provider
from tests.support import settings_for_tests


def config_map(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_the_seeded_seeds_cache_gives_keb_s_regions(kcp: FakeCluster, kcp_client: LazyClient) -> None:
    """The landscape's gardener-seeds-cache is KEB's installation template: aws seeds in three regions."""
    kcp.create("configmaps", seeds_cache("gardener-seeds-cache"), "kcp-system")
    seeds = KubernetesSeedRegions(kcp_client)
    assert await seeds.seed_regions(Provider.AWS) == ("eu-west-1", "eu-central-1", "us-east-1")
    assert await seeds.seed_regions(Provider.OPENSTACK) == ("eu-de-1",)


async def test_a_provider_without_a_key_uses_default_and_no_config_map_gives_none(
    kcp: FakeCluster, kcp_client: LazyClient
) -> None:
    """KEB's ConfigMapReader falls back to ``default``; a missing ConfigMap or entry means no seed region."""
    seeds = KubernetesSeedRegions(kcp_client, "my-seeds")
    assert await seeds.seed_regions(Provider.GCP) == ()
    kcp.create("configmaps", config_map("my-seeds", {"aws": "seedRegions: [us-east-1]"}), "kcp-system")
    assert await seeds.seed_regions(Provider.GCP) == ()
    kcp.create("configmaps", config_map("other", {"default": "seedRegions:\n- europe-west1\n"}), "kcp-system")
    assert await KubernetesSeedRegions(kcp_client, "other").seed_regions(Provider.GCP) == ("europe-west1",)


@pytest.mark.parametrize("entry", ["seedRegions: eu-west-1", "[a, b]", "seedRegions: [", "other: []"])
async def test_an_entry_not_in_keb_s_format_is_unavailable(
    kcp: FakeCluster, kcp_client: LazyClient, entry: str
) -> None:
    """Not a ``seedRegions`` list: the operator must fix the ConfigMap (503 for the request)."""
    kcp.create("configmaps", config_map("gardener-seeds-cache", {"aws": entry}), "kcp-system")
    with pytest.raises(ClusterUnavailableError, match="gardener-seeds-cache"):
        await KubernetesSeedRegions(kcp_client).seed_regions(Provider.AWS)


async def test_the_seeded_volume_sizes_cover_every_built_in_machine(
    kcp: FakeCluster, kcp_client: LazyClient
) -> None:
    """Every machine type the built-in configuration offers has a size, under its resolved name."""
    kcp.create("configmaps", kcr_volume_sizes("consumption-reporter-config"), "kcp-system")
    table = await KubernetesMachineVolumeSizes(kcp_client).volume_sizes()
    assert table is not None
    policy = settings_for_tests().broker.policy
    for plan_name in ("aws", "azure", "gcp", "sap-converged-cloud"):
        plan = PLANS_BY_NAME[plan_name]
        assert plan.provider is not None
        config = policy.plans[plan_name]
        provider_config = policy.provider_config(plan.provider)
        for machine in config.regular_machines + config.additional_machines:
            assert table.size_gb(plan.provider, provider_config.resolve_machine(machine)) > 0


async def test_volume_sizes_are_read_in_keb_s_nodemeter_format(
    kcp: FakeCluster, kcp_client: LazyClient
) -> None:
    """``default_volume_size: "150Gi"`` by provider and machine, case-insensitive; no ConfigMap: None."""
    sizes = KubernetesMachineVolumeSizes(kcp_client, "kcr")
    assert await sizes.volume_sizes() is None
    nodemeter = (
        "meters:\n  node:\n    machine_types:\n      AWS:\n        M6i.Large: {default_volume_size: 150Gi}\n"
    )
    kcp.create("configmaps", config_map("kcr", {"nodemeterconfig.yaml": nodemeter}), "kcp-system")
    table = await sizes.volume_sizes()
    assert table is not None
    assert table.size_gb(Provider.AWS, "m6i.large") == 150


@pytest.mark.parametrize(
    "data",
    [
        {"other.yaml": ""},
        {"nodemeterconfig.yaml": "meters: {}"},
        {"nodemeterconfig.yaml": "meters: {node: {machine_types: {aws: {m5: {default_volume_size: big}}}}}"},
    ],
)
async def test_a_volume_size_config_map_not_in_keb_s_format_is_unavailable(
    kcp: FakeCluster, kcp_client: LazyClient, data: dict[str, str]
) -> None:
    """No nodemeterconfig.yaml, no machine_types, a size not ``<n>Gi``: an error naming the ConfigMap."""
    kcp.create("configmaps", config_map("consumption-reporter-config", data), "kcp-system")
    with pytest.raises(ClusterUnavailableError, match="consumption-reporter-config"):
        await KubernetesMachineVolumeSizes(kcp_client).volume_sizes()


def test_the_config_map_names_are_keb_s_variables() -> None:
    """APP_BROKER_GARDENER_SEEDS_CACHE_CONFIG_MAP_NAME and APP_BROKER_KCR_CONFIG_MAP_NAME, KEB's defaults."""
    assert (settings_for_tests().seeds_cache_name, settings_for_tests().kcr_config_map_name) == (
        "gardener-seeds-cache",
        "consumption-reporter-config",
    )
    changed = Settings.from_env(
        {"APP_BROKER_GARDENER_SEEDS_CACHE_CONFIG_MAP_NAME": "s", "APP_BROKER_KCR_CONFIG_MAP_NAME": "k"}
    )
    assert (changed.seeds_cache_name, changed.kcr_config_map_name) == ("s", "k")
