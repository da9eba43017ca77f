"""The ``serviceaccounts/token`` and Gardener ``shoots/adminkubeconfig`` subresources (wire §1.2, §1.3)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
import yaml
from cryptography import x509
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from keb_app.landscape import FakeCluster, KubeApiServer

from .conftest import ClientFactory
from .support import jwt_claims, jwt_header

GARDEN_NAMESPACE = "garden-kyma-dev"
ADMIN_KUBECONFIG_PATH = (
    "/apis/core.gardener.cloud/v1beta1/namespaces/{namespace}/shoots/{name}/adminkubeconfig"
)


def _token_request(seconds: int | None) -> Any:
    return client.AuthenticationV1TokenRequest(
        metadata=client.V1ObjectMeta(name="binding", namespace="default", labels={"a": "b"}),
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds),
    )


def _message(error: ApiException) -> str:
    return str(json.loads(error.body)["message"])


@pytest.fixture
def account(core: Any) -> Any:
    return core.create_namespaced_service_account(
        "default", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="binding"))
    )


def test_token_request_answers_201_with_a_signed_jwt(core: Any, account: Any) -> None:
    """A TokenRequest answers 201 with an RS256 JWT whose lifetime equals expirationSeconds."""
    answer, status, _ = core.create_namespaced_service_account_token_with_http_info(
        "binding", "default", _token_request(600)
    )
    claims = jwt_claims(answer.status.token)
    assert status == 201
    assert jwt_header(answer.status.token)["alg"] == "RS256"
    assert claims["exp"] - claims["iat"] == 600
    assert claims["sub"] == "system:serviceaccount:default:binding"
    assert claims["kubernetes.io"] == {
        "namespace": "default",
        "serviceaccount": {"name": "binding", "uid": account.metadata.uid},
    }
    assert answer.status.expiration_timestamp == dt.datetime.fromtimestamp(claims["exp"], dt.UTC)
    assert answer.spec.audiences == [claims["aud"][0]]


def test_token_request_defaults_to_one_hour(core: Any, account: Any) -> None:
    """Without expirationSeconds the token lives 3600 seconds."""
    answer = core.create_namespaced_service_account_token("binding", "default", _token_request(None))
    claims = jwt_claims(answer.status.token)
    assert claims["exp"] - claims["iat"] == 3600


def test_token_request_under_ten_minutes_is_invalid(core: Any, account: Any) -> None:
    """expirationSeconds below 600 answers 422 Invalid with Kubernetes' message."""
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_service_account_token("binding", "default", _token_request(599))
    assert caught.value.status == 422
    assert _message(caught.value) == (
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: '
        "may not specify a duration less than 10 minutes"
    )


def test_token_request_beyond_two_to_the_32_seconds_is_invalid(core: Any, account: Any) -> None:
    """expirationSeconds above 2^32 answers 422 Invalid."""
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_service_account_token("binding", "default", _token_request(2**32 + 1))
    assert caught.value.status == 422
    assert "may not specify a duration larger than 2^32 seconds" in _message(caught.value)


def test_token_request_for_missing_service_account_is_not_found(core: Any) -> None:
    """A TokenRequest for a ServiceAccount that does not exist answers 404."""
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_service_account_token("binding", "default", _token_request(600))
    assert caught.value.status == 404
    assert _message(caught.value) == 'serviceaccounts "binding" not found'


@pytest.fixture
def garden(server: KubeApiServer) -> FakeCluster:
    """A garden cluster with a Shoot whose advertised address is runtime cluster ``skr-1``."""
    server.add_cluster("skr-1", namespaces=("default", "kyma-system"))
    garden = server.add_cluster("garden", namespaces=(GARDEN_NAMESPACE,))
    garden.put(
        "shoots",
        {
            "metadata": {"name": "c-1234567", "namespace": GARDEN_NAMESPACE},
            "spec": {"region": "eu-central-1"},
            "status": {"advertisedAddresses": [{"name": "external", "url": server.cluster_url("skr-1")}]},
        },
    )
    return garden


@pytest.fixture
def garden_api(server: KubeApiServer, garden: FakeCluster, make_client: ClientFactory) -> Any:
    return make_client(server.admin_kubeconfig("garden"))


def _admin_kubeconfig(api: Any, shoot: str, body: dict[str, Any]) -> dict[str, Any]:
    """The raw subresource call of kubernetes-wire §3.4 for ``kubernetes`` 36.0.3."""
    answer = api.call_api(
        ADMIN_KUBECONFIG_PATH.format(namespace=GARDEN_NAMESPACE, name=shoot),
        "POST",
        path_params={},
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        response_types_map={201: "object"},
        auth_settings=["BearerToken"],
        _return_http_data_only=True,
    )
    assert isinstance(answer, dict)
    return answer


def _request(seconds: int | None) -> dict[str, Any]:
    spec = {} if seconds is None else {"expirationSeconds": seconds}
    return {
        "apiVersion": "authentication.gardener.cloud/v1alpha1",
        "kind": "AdminKubeconfigRequest",
        "spec": spec,
    }


def test_admin_kubeconfig_reaches_the_shoot_cluster(
    garden_api: Any, garden: FakeCluster, make_client: ClientFactory
) -> None:
    """The base64 kubeconfig of an AdminKubeconfigRequest reaches the Shoot's cluster by certificate."""
    answer = _admin_kubeconfig(garden_api, "c-1234567", _request(600))
    kubeconfig = yaml.safe_load(base64.b64decode(answer["status"]["kubeconfig"]))
    skr = client.CoreV1Api(make_client(kubeconfig))
    assert answer["kind"] == "AdminKubeconfigRequest"
    assert kubeconfig["current-context"] == f"{GARDEN_NAMESPACE}--c-1234567-external"
    assert set(kubeconfig["users"][0]["user"]) == {"client-certificate-data", "client-key-data"}
    assert sorted(n.metadata.name for n in skr.list_namespace().items) == ["default", "kyma-system"]
    assert garden.requests[-1].status == 201


def test_admin_kubeconfig_expiry_is_the_certificate_expiry(garden_api: Any, garden: FakeCluster) -> None:
    """status.expirationTimestamp equals the client certificate's notAfter, expirationSeconds from now."""
    answer = _admin_kubeconfig(garden_api, "c-1234567", _request(None))
    kubeconfig = yaml.safe_load(base64.b64decode(answer["status"]["kubeconfig"]))
    cert = x509.load_pem_x509_certificate(
        base64.b64decode(kubeconfig["users"][0]["user"]["client-certificate-data"])
    )
    expires = dt.datetime.strptime(answer["status"]["expirationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC
    )
    assert answer["spec"]["expirationSeconds"] == 3600
    assert cert.not_valid_after_utc == expires
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() == 3600


def test_admin_kubeconfig_is_capped_at_one_day(garden_api: Any, garden: FakeCluster) -> None:
    """An expiration beyond 24h is silently capped at 86400 seconds, as Gardener's default does."""
    answer = _admin_kubeconfig(garden_api, "c-1234567", _request(7 * 86400))
    assert answer["spec"]["expirationSeconds"] == 86400


def test_admin_kubeconfig_under_ten_minutes_is_invalid(garden_api: Any, garden: FakeCluster) -> None:
    """expirationSeconds below 600 answers 422 with Gardener's validation message."""
    with pytest.raises(ApiException) as caught:
        _admin_kubeconfig(garden_api, "c-1234567", _request(60))
    assert caught.value.status == 422
    assert _message(caught.value) == (
        'AdminKubeconfigRequest.authentication.gardener.cloud "" is invalid: '
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    )


def test_admin_kubeconfig_for_missing_shoot_is_not_found(garden_api: Any, garden: FakeCluster) -> None:
    """An AdminKubeconfigRequest for a Shoot that does not exist answers 404."""
    with pytest.raises(ApiException) as caught:
        _admin_kubeconfig(garden_api, "c-missing", _request(600))
    assert caught.value.status == 404
    assert _message(caught.value) == 'shoots.core.gardener.cloud "c-missing" not found'


def test_admin_kubeconfig_needs_an_advertised_address(garden_api: Any, garden: FakeCluster) -> None:
    """A Shoot without a kube-apiserver address in its status answers 422."""
    garden.put("shoots", {"metadata": {"name": "c-new", "namespace": GARDEN_NAMESPACE}, "spec": {}})
    with pytest.raises(ApiException) as caught:
        _admin_kubeconfig(garden_api, "c-new", _request(600))
    assert caught.value.status == 422
    assert "no suitable advertised address" in _message(caught.value)
