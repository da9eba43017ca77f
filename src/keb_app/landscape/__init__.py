"""The local landscape: a stateful Kubernetes API double over HTTPS and a KIM simulator.

It stands in for the Kyma control plane (KCP), Gardener and every runtime (SKR) cluster when no real
cluster is available: the broker's real Kubernetes adapter is tested against it, and ``make run`` uses it
as the embedded default (decisions §5). No real cluster is ever created.
"""

from keb_app.landscape._errors import ApiError
from keb_app.landscape._faults import RequestRecord
from keb_app.landscape._resources import PrinterColumn, ResourceRegistry, ResourceType, SubresourceType
from keb_app.landscape.apiserver import KubeApiServer
from keb_app.landscape.cluster import FakeCluster
from keb_app.landscape.kim import KimSimulator, decode_kubeconfig_secret, skr_cluster_name
from keb_app.landscape.local import LocalLandscape, start_local_landscape

__all__ = [
    "ApiError",
    "FakeCluster",
    "KimSimulator",
    "KubeApiServer",
    "LocalLandscape",
    "PrinterColumn",
    "RequestRecord",
    "ResourceRegistry",
    "ResourceType",
    "SubresourceType",
    "decode_kubeconfig_secret",
    "skr_cluster_name",
    "start_local_landscape",
]
