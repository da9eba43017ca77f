"""``APP_AUTH_MODE=local``: the broker issues tokens and refuses requests without the right one (§4)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from keb_adapters.auth.local import CLIENT_FILE
from tests.integration.auth.conftest import bearer
from tests.integration.http.conftest import Broker
from tests.support import OSB, provision_body

CATALOG = "/oauth/v2/catalog"


def client_credentials(broker: Broker) -> tuple[str, str]:
    """The id and secret an operator reads from ``{APP_DATA_DIR}/local-client.json``."""
    document = json.loads((Path(broker.services.settings.data_dir) / CLIENT_FILE).read_text())
    return document["client_id"], document["client_secret"]


def token_of(broker: Broker, *scopes: str) -> str:
    issuer = broker.services.local_issuer
    assert issuer is not None
    return issuer.mint(scopes).reveal()


def assert_refused(response: httpx.Response, status: int, challenge: str) -> None:
    """A refusal with a JSON description and an RFC 6750 challenge starting with ``challenge``."""
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["description"]
    assert response.headers["www-authenticate"].startswith(challenge)


async def test_a_request_without_a_token_is_401(local_broker: Broker) -> None:
    """No Authorization header: 401 with a JSON description and a Bearer challenge naming the realm."""
    response = await local_broker.client.get(CATALOG, headers=OSB)
    assert_refused(response, 401, 'Bearer realm="keb"')
    assert "error=" not in response.headers["www-authenticate"]  # RFC 6750 §3.1: no error code here


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token abc"])
async def test_a_header_that_is_not_bearer_is_401_invalid_request(
    local_broker: Broker, authorization: str
) -> None:
    """Another scheme, or Bearer without a token, is 401 ``invalid_request``."""
    response = await local_broker.client.get(CATALOG, headers={**OSB, "Authorization": authorization})
    assert_refused(response, 401, 'Bearer realm="keb", error="invalid_request"')


async def test_a_malformed_token_is_401_invalid_token(local_broker: Broker) -> None:
    """A bearer value that is not a JWT is 401 ``invalid_token`` with a description."""
    response = await local_broker.client.get(CATALOG, headers={**OSB, **bearer("not.a.jwt")})
    assert_refused(response, 401, 'Bearer realm="keb", error="invalid_token"')
    assert "error_description=" in response.headers["www-authenticate"]


async def test_the_bearer_scheme_is_case_insensitive(local_broker: Broker) -> None:
    """RFC 7235 auth schemes are case-insensitive: ``bearer <token>`` works as ``Bearer <token>``."""
    headers = {**OSB, "Authorization": f"bearer {token_of(local_broker, 'broker:write')}"}
    response = await local_broker.client.get(CATALOG, headers=headers)
    assert response.status_code == 200


async def test_a_token_without_broker_write_is_403_on_osb_routes(local_broker: Broker) -> None:
    """A valid token lacking ``broker:write`` is 403 ``insufficient_scope`` naming the scope."""
    token = token_of(local_broker, "cld:read", "runtimes:read")
    response = await local_broker.client.get(CATALOG, headers={**OSB, **bearer(token)})
    assert_refused(response, 403, 'Bearer realm="keb", error="insufficient_scope"')
    assert 'scope="broker:write"' in response.headers["www-authenticate"]
    assert "broker:write" in response.json()["description"]


async def test_a_token_without_broker_write_is_403_on_expire(local_broker: Broker) -> None:
    """``/expire/...`` (KEB's cleanup jobs) is guarded like the OSB routes."""
    token = token_of(local_broker, "cld:read")
    response = await local_broker.client.put("/expire/service_instance/i-1", headers=bearer(token))
    assert_refused(response, 403, 'Bearer realm="keb", error="insufficient_scope"')


async def test_a_token_from_the_token_endpoint_opens_the_catalog(local_broker: Broker) -> None:
    """Client credentials with HTTP Basic and ``scope=broker:write`` give a token that opens the catalog."""
    response = await local_broker.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "broker:write"},
        auth=client_credentials(local_broker),
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "broker:write"
    assert response.headers["cache-control"] == "no-store"
    catalog = await local_broker.client.get(
        CATALOG, headers={**OSB, **bearer(response.json()["access_token"])}
    )
    assert catalog.status_code == 200
    assert catalog.json()["services"]


async def test_the_token_endpoint_refuses_a_wrong_secret(local_broker: Broker) -> None:
    """A wrong client secret is 401 ``invalid_client``, and no token."""
    client_id, _ = client_credentials(local_broker)
    response = await local_broker.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, "wrong")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()


async def test_the_token_endpoint_refuses_an_unknown_scope(local_broker: Broker) -> None:
    """A scope the broker does not know is 400 ``invalid_scope``."""
    response = await local_broker.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "broker:admin"},
        auth=client_credentials(local_broker),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_the_token_endpoint_refuses_another_grant_type(local_broker: Broker) -> None:
    """Only ``client_credentials`` is served: ``password`` is 400 ``unsupported_grant_type``."""
    response = await local_broker.client.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": "u", "password": "p"},
        auth=client_credentials(local_broker),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_a_token_of_the_token_endpoint_is_limited_to_the_asked_scope(local_broker: Broker) -> None:
    """A token asked for ``cld:read`` does not open the OSB routes."""
    response = await local_broker.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "cld:read"},
        auth=client_credentials(local_broker),
    )
    token = response.json()["access_token"]
    catalog = await local_broker.client.get(CATALOG, headers={**OSB, **bearer(token)})
    assert catalog.status_code == 403


@pytest.mark.parametrize("path", ["/healthz", "/oauth2/certs", "/schema/openapi.json", "/schema/swagger"])
async def test_open_paths_need_no_token(local_broker: Broker, path: str) -> None:
    """Health, the issuer's keys and the API document answer without a token."""
    response = await local_broker.client.get(path)
    assert response.status_code == 200


async def test_the_certs_endpoint_serves_the_keys_that_verify_the_tokens(local_broker: Broker) -> None:
    """``/oauth2/certs`` publishes the public key whose kid the issued tokens name, and no private part."""
    keys = (await local_broker.client.get("/oauth2/certs")).json()["keys"]
    issuer = local_broker.services.local_issuer
    assert issuer is not None
    assert keys == issuer.jwks()["keys"]
    assert all("d" not in key for key in keys)


async def test_the_keys_carry_an_etag_that_answers_304(local_broker: Broker) -> None:
    """A JWKS client that sends back the keys' ETag gets 304 without a body; another tag gets the keys."""
    etag = (await local_broker.client.get("/oauth2/certs")).headers["etag"]
    again = await local_broker.client.get("/oauth2/certs", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = await local_broker.client.get("/oauth2/certs", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200
    assert other.json()["keys"]


async def test_401_comes_before_the_version_header_check(local_broker: Broker) -> None:
    """Without a token and without ``X-Broker-API-Version`` the answer is 401, not 412."""
    response = await local_broker.client.get(CATALOG)
    assert response.status_code == 401


async def test_a_valid_token_still_meets_the_version_header_check(local_broker: Broker) -> None:
    """With a good token and no ``X-Broker-API-Version`` the OSB rules apply: 412."""
    response = await local_broker.client.get(CATALOG, headers=bearer(token_of(local_broker, "broker:write")))
    assert response.status_code == 412


async def test_a_refused_request_changes_nothing(local_broker: Broker) -> None:
    """A valid provisioning request with a token lacking the scope creates no instance."""
    token = token_of(local_broker, "cld:read")
    put = await local_broker.osb(
        "PUT", "/oauth/v2/service_instances/i-1", headers=bearer(token), json=provision_body()
    )
    assert put.status_code == 403
    allowed = bearer(token_of(local_broker, "broker:write"))
    fetched = await local_broker.osb("GET", "/oauth/v2/service_instances/i-1", headers=allowed)
    assert fetched.status_code == 404
