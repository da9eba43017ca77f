"""Kubeconfig documents the landscape hands out (admin, Gardener admin kubeconfig, KIM's runtime secret)."""

from __future__ import annotations

import base64
from typing import Any

import yaml


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def build_kubeconfig(
    clusters: list[tuple[str, str]], ca_pem: bytes, user_name: str, user: dict[str, Any]
) -> dict[str, Any]:
    """A kubeconfig with one cluster and context per ``(name, server URL)``; the first is current.

    Every context uses the same user, as Gardener's admin kubeconfig does for several advertised
    addresses (``pkg/utils/secrets/control_plane.go``).
    """
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": clusters[0][0],
        "clusters": [
            {"name": name, "cluster": {"certificate-authority-data": _b64(ca_pem), "server": server}}
            for name, server in clusters
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user_name}} for name, _ in clusters],
        "users": [{"name": user_name, "user": user}],
    }


def certificate_user(cert_pem: bytes, key_pem: bytes) -> dict[str, Any]:
    """A kubeconfig user authenticating with a client certificate."""
    return {"client-certificate-data": _b64(cert_pem), "client-key-data": _b64(key_pem)}


def token_user(token: str) -> dict[str, Any]:
    """A kubeconfig user authenticating with a bearer token."""
    return {"token": token}


def dump(kubeconfig: dict[str, Any]) -> str:
    """The YAML text of a kubeconfig, as written to files and Secrets."""
    return yaml.safe_dump(kubeconfig, default_flow_style=False, sort_keys=False)
