"""Reading a runtime's admin kubeconfig: the one place that parses it (kubernetes-wire §1.6).

The broker reads the Secret once per use and parses it once; the parsed document builds the client and
names the endpoint that the domain puts into binding and OIDC kubeconfigs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from keb_domain.errors import ClusterError
from keb_domain.model.binding import ClusterEndpoint


@attrs.frozen
class AdminKubeconfig:
    """A runtime's admin kubeconfig, parsed and checked: the document (credentials included) and its
    endpoint."""

    document: Mapping[str, Any] = attrs.field(repr=False)
    endpoint: ClusterEndpoint


def parse_admin_kubeconfig(text: str) -> AdminKubeconfig:
    """Parse and check with KEB's checks (``internal/kubeconfig/builder.go``).

    Raises ClusterError when the kubeconfig is not a YAML mapping or lacks a current context, a cluster,
    a server or CA data.
    """
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ClusterError("the runtime's admin kubeconfig is not valid YAML") from None
    if not isinstance(config, Mapping):
        raise ClusterError("the runtime's admin kubeconfig is not a mapping")
    if not config.get("current-context"):
        raise ClusterError("the runtime's admin kubeconfig has no current-context")
    clusters = config.get("clusters") or []
    if not clusters:
        raise ClusterError("the runtime's admin kubeconfig has no cluster")
    cluster = (clusters[0] or {}).get("cluster") or {}
    server, ca = cluster.get("server"), cluster.get("certificate-authority-data")
    if not server or not ca:
        raise ClusterError("the runtime's admin kubeconfig has no server or certificate-authority-data")
    return AdminKubeconfig(config, ClusterEndpoint(server=str(server), certificate_authority_data=str(ca)))
