"""Secrets (tokens, keys, Secret data) never reach a repr."""

from __future__ import annotations

import json

from keb_app.landscape import FakeCluster, KimSimulator, KubeApiServer
from keb_app.landscape._auth import Credentials
from keb_app.landscape._routing import ApiRequest, ApiResponse


def test_reprs_do_not_show_credentials(server: KubeApiServer, kcp: FakeCluster) -> None:
    """Server, cluster, issued certificates, requests and responses keep tokens and keys out of repr."""
    token = kcp.admin_token
    issued = server.issue_client_certificate("kcp")
    request = ApiRequest(
        method="POST",
        path="/api/v1/namespaces/default/secrets",
        body=b'{"data": {"config": "c2VjcmV0"}}',
        credentials=Credentials(bearer_token=token),
    )
    response = ApiResponse(201, json.dumps({"status": {"token": token}}).encode())
    shown = " ".join(repr(x) for x in (server, kcp, issued, request, response, KimSimulator(server)))
    assert token not in shown
    assert "c2VjcmV0" not in shown
    assert issued.key_pem.decode() not in shown
    assert "BEGIN" not in shown
