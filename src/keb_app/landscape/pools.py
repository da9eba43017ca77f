"""The hyperscaler account pools the local landscape seeds in ``garden-{project}``.

One pool for every pool the default HAP rules (``keb_domain.model.hap.DEFAULT_RULES``) can select, so that
every plan provisions out of the box: dedicated pools per hyperscaler (``alicloud`` and ``gdch`` included),
EU Access pools (``cf-eu11`` for aws, ``cf-ch20`` for azure), ``gcp_cf-sa30``, and the shared pools of
trial and SAP Converged Cloud. Each binding
points at a Secret of the same name, as Gardener's do; nothing in them is a real account.
"""

from __future__ import annotations

from typing import Any

from keb_domain.model.hap import EU_ACCESS, HYPERSCALER_TYPE, SHARED

CREDENTIALS_BINDINGS = "credentialsbindings.security.gardener.cloud"


def local_pools(size: int) -> list[tuple[str, dict[str, str]]]:
    """(name, labels) of every seeded binding; ``size`` bindings per dedicated pool, two per shared one."""
    pools: list[tuple[str, dict[str, str], int]] = [
        ("aws", {HYPERSCALER_TYPE: "aws"}, size),
        ("azure", {HYPERSCALER_TYPE: "azure"}, size),
        ("gcp", {HYPERSCALER_TYPE: "gcp"}, size),
        ("gcp-cf-sa30", {HYPERSCALER_TYPE: "gcp_cf-sa30"}, size),
        ("alicloud", {HYPERSCALER_TYPE: "alicloud"}, size),
        ("gdch", {HYPERSCALER_TYPE: "gdch"}, size),
        ("aws-eu", {HYPERSCALER_TYPE: "aws", EU_ACCESS: "true"}, size),
        ("azure-eu", {HYPERSCALER_TYPE: "azure", EU_ACCESS: "true"}, size),
        ("aws-shared", {HYPERSCALER_TYPE: "aws", SHARED: "true"}, 2),
        ("azure-shared", {HYPERSCALER_TYPE: "azure", SHARED: "true"}, 2),
        ("gcp-shared", {HYPERSCALER_TYPE: "gcp", SHARED: "true"}, 2),
        ("openstack-shared", {HYPERSCALER_TYPE: "openstack", SHARED: "true"}, 2),
    ]
    return [
        (f"{prefix}-{index:03d}", dict(labels))
        for prefix, labels, count in pools
        for index in range(1, count + 1)
    ]


def credentials_binding(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """A CredentialsBinding as an operator creates it for a pool (``credentialsRef`` to a Secret)."""
    return {
        "apiVersion": "security.gardener.cloud/v1alpha1",
        "kind": "CredentialsBinding",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "provider": {"type": labels[HYPERSCALER_TYPE].split("_")[0]},
        "credentialsRef": {"apiVersion": "v1", "kind": "Secret", "name": name, "namespace": namespace},
    }
