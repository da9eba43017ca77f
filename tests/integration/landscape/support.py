"""Helpers shared by the landscape tests: a controllable clock, Runtime bodies, raw requests."""

from __future__ import annotations

import base64
import json
from typing import Any

import urllib3

RUNTIME_GROUP = "infrastructuremanager.kyma-project.io"
RUNTIME_VERSION = "v1"


class FakeClock:
    """A clock that only moves when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def runtime_body(name: str, shoot: str = "c-1234567", **labels: str) -> dict[str, Any]:
    """A Runtime CR with every field the CRD requires, as KEB's create step builds it."""
    return {
        "apiVersion": f"{RUNTIME_GROUP}/{RUNTIME_VERSION}",
        "kind": "Runtime",
        "metadata": {
            "name": name,
            "namespace": "kcp-system",
            "labels": {"kyma-project.io/runtime-id": name, **labels},
        },
        "spec": {
            "shoot": {
                "name": shoot,
                "purpose": "evaluation",
                "platformRegion": "cf-eu10",
                "region": "eu-central-1",
                "secretBindingName": "aws-binding",
                "provider": {
                    "type": "aws",
                    "workers": [{"name": "cpu-worker-0", "minimum": 1, "maximum": 3}],
                },
                "networking": {"pods": "10.96.0.0/13", "services": "10.104.0.0/13", "nodes": "10.250.0.0/16"},
            },
            "security": {
                "administrators": ["admin@example.com"],
                "networking": {"filter": {"egress": {"enabled": False}}},
            },
        },
    }


def jwt_claims(token: str) -> dict[str, Any]:
    """The unverified claims of a JWT, as KEB's tests read them."""
    payload = token.split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(decoded, dict)
    return decoded


def jwt_header(token: str) -> dict[str, Any]:
    header = token.split(".", maxsplit=1)[0]
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    assert isinstance(decoded, dict)
    return decoded


def raw_request(
    kubeconfig: dict[str, Any],
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    token: bool = True,
) -> urllib3.BaseHTTPResponse:
    """One HTTPS request with exactly the given headers, the kubeconfig's CA and, optionally, its token.

    The token goes in a lower-case ``authorization`` header, as some clients send it.
    """
    cluster = kubeconfig["clusters"][0]["cluster"]
    ca = base64.b64decode(cluster["certificate-authority-data"]).decode("ascii")
    all_headers = dict(headers or {})
    if token:
        all_headers["authorization"] = f"Bearer {kubeconfig['users'][0]['user']['token']}"
    with urllib3.PoolManager(ca_cert_data=ca, retries=False) as pool:
        return pool.request(method, cluster["server"] + path, body=body, headers=all_headers)
