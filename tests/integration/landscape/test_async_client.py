"""The asyncio flavour of the official client (``kubernetes.aio``) against the double."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml
from kubernetes.aio import client as aio_client
from kubernetes.aio import config as aio_config

from keb_app.landscape import FakeCluster, KubeApiServer

from .support import RUNTIME_GROUP, RUNTIME_VERSION, runtime_body


async def test_async_client_creates_and_reads_objects(server: KubeApiServer, kcp: FakeCluster) -> None:
    """kubernetes.aio creates a ServiceAccount and a Runtime, reads them back and sees a 409 Conflict."""
    api = await aio_config.new_client_from_config_dict(server.admin_kubeconfig("kcp"))
    try:
        core = aio_client.CoreV1Api(api)
        custom = aio_client.CustomObjectsApi(api)
        await core.create_namespaced_service_account(
            "kcp-system", aio_client.V1ServiceAccount(metadata=aio_client.V1ObjectMeta(name="async-sa"))
        )
        created = await custom.create_namespaced_custom_object(
            RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", runtime_body("rt-async")
        )
        names = [a.metadata.name for a in (await core.list_namespaced_service_account("kcp-system")).items]
        stale = dict(created, spec={**created["spec"], "shoot": {**created["spec"]["shoot"], "region": "x"}})
        await custom.replace_namespaced_custom_object(
            RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-async", stale
        )
        with pytest.raises(aio_client.exceptions.ApiException) as caught:
            await custom.replace_namespaced_custom_object(
                RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-async", stale
            )
    finally:
        await api.close()
    assert names == ["async-sa"]
    assert caught.value.status == 409


async def test_async_client_with_certificate_and_raw_subresource_call(server: KubeApiServer) -> None:
    """kubernetes.aio authenticates with a client certificate and posts adminkubeconfig via call_api."""
    server.add_cluster("skr", namespaces=("kyma-system",))
    garden = server.add_cluster("garden", namespaces=("garden-kyma-dev",))
    garden.put(
        "shoots",
        {
            "metadata": {"name": "c-1", "namespace": "garden-kyma-dev"},
            "status": {"advertisedAddresses": [{"name": "external", "url": server.cluster_url("skr")}]},
        },
    )
    garden_api = await aio_config.new_client_from_config_dict(
        server.admin_kubeconfig("garden", auth="certificate")
    )
    try:
        answer: Any = await garden_api.call_api(
            "/apis/core.gardener.cloud/v1beta1/namespaces/garden-kyma-dev/shoots/c-1/adminkubeconfig",
            "POST",
            path_params={},
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            body={"spec": {"expirationSeconds": 600}},
            response_types_map={201: "object"},
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
        )
    finally:
        await garden_api.close()
    skr_api = await aio_config.new_client_from_config_dict(
        yaml.safe_load(base64.b64decode(answer["status"]["kubeconfig"]))
    )
    try:
        namespaces = await aio_client.CoreV1Api(skr_api).list_namespace()
    finally:
        await skr_api.close()
    assert [n.metadata.name for n in namespaces.items] == ["kyma-system"]
