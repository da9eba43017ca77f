"""At APP_LOG_LEVEL=debug no token, key or kubeconfig reaches the log (issue 9, Found 4).

The whole embedded broker (local issuer, SQLite, the real Kubernetes adapter against the local landscape,
the operation engine running) with the process's logging configured as ``keb serve`` configures it, at
DEBUG, while a client gets a token, provisions, binds both ways and unbinds.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from keb_adapters.auth.local import CLIENT_FILE
from keb_app.logs import PAYLOAD_LOGGERS, RedactingFilter, configure_logging, redact
from tests.support import AWS, OSB, SERVICE, provision_body

from .test_end_to_end import BINDING_PATH, INSTANCE_PATH, live_broker, poll


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The process's logging as ``keb serve --log-level debug`` sets it up, written to a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    try:
        configure_logging("DEBUG", "text")
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buffer)
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name in PAYLOAD_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)


def secrets_of(kubeconfig: str) -> list[str]:
    """The credential values of a kubeconfig: tokens, client keys and certificates (encoded and decoded)."""
    found: list[str] = []
    for user in yaml.safe_load(kubeconfig).get("users", []):
        for key, value in (user.get("user") or {}).items():
            if key in ("token", "client-key-data", "client-certificate-data"):
                found.append(value)
                if key != "token":
                    found.append(base64.b64decode(value).decode())
    assert found, "the kubeconfig carries no credential to look for"
    return found


async def test_debug_log_of_token_provision_bind_and_unbind_carries_no_secret(
    tmp_path: Path, debug_log: io.StringIO
) -> None:
    """The log has debug lines of the broker but no access token, client secret, key or kubeconfig."""
    env = {"APP_AUTH_MODE": "local", "APP_LOG_LEVEL": "debug"}
    async with live_broker(tmp_path, env) as broker:
        logging.getLogger("keb.test").debug("debug logging is on")
        data_dir = broker.services.settings.data_dir
        client = json.loads((data_dir / CLIENT_FILE).read_text())
        issued = await broker.client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "broker:write"},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        headers = {**OSB, "Authorization": f"Bearer {token}"}

        provisioned = await broker.client.put(INSTANCE_PATH, headers=headers, json=provision_body(AWS))
        assert provisioned.status_code == 202, provisioned.text
        operation = provisioned.json()["operation"]

        async def state() -> str:
            polled = await broker.client.get(
                f"{INSTANCE_PATH}/last_operation", headers=headers, params={"operation": operation}
            )
            return str(polled.json()["state"])

        assert await poll(state, lambda value: value != "in progress") == "succeeded"
        kubeconfigs = []
        for binding, parameters in ((BINDING_PATH, {}), (BINDING_PATH + "-t", {"token_request": True})):
            body = {"service_id": SERVICE, "plan_id": AWS, "parameters": parameters}
            bound = await broker.client.put(binding, headers=headers, json=body)
            assert bound.status_code == 201, bound.text
            kubeconfigs.append(bound.json()["credentials"]["kubeconfig"])
            unbound = await broker.client.delete(
                binding, headers=headers, params={"service_id": SERVICE, "plan_id": AWS}
            )
            assert unbound.status_code == 200, unbound.text
        signing_key = (data_dir / "local-signing-key.json").read_text()

    log = debug_log.getvalue()
    assert "debug logging is on" in log
    secrets = [token, client["client_secret"], *[s for k in kubeconfigs for s in secrets_of(k)]]
    secrets += re.findall(r'"d"\s*:\s*"([^"]+)"', signing_key)  # the private part of the signing key
    for secret in secrets:
        assert secret not in log
    assert "BEGIN" not in log
    assert "client-key-data" not in log or "client-key-data: [redacted]" in log
    assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.", log)


def test_the_filter_redacts_what_a_library_would_log() -> None:
    """authlib's 'Issue token' line, a kubeconfig user and a PEM key lose their secrets in the filter."""
    record = logging.LogRecord(
        "authlib.oauth2", logging.DEBUG, __file__, 1, "Issue token %r to %r", None, None
    )
    record.args = ({"token_type": "Bearer", "access_token": "eyJhbGc.eyJzdWI.c2ln"}, "client")
    RedactingFilter().filter(record)
    assert (
        record.getMessage()
        == "Issue token {'token_type': 'Bearer', 'access_token': '[redacted]'} to 'client'"
    )
    kubeconfig = "users:\n- name: u\n  user:\n    client-key-data: LS0tLS1\n    token: abc.def-ghi\n"
    assert redact(kubeconfig) == (
        "users:\n- name: u\n  user:\n    client-key-data: [redacted]\n    token: [redacted]\n"
    )
    pem = "key -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY----- end"
    assert redact(pem) == "key [redacted] end"
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    assert (
        redact("token_request: true, expiration_seconds: 600")
        == "token_request: true, expiration_seconds: 600"
    )
