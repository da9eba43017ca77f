"""Authentication and RBAC: admin tokens, client certificates, ServiceAccount tokens (wire §1.3)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from keb_app.landscape import FakeCluster, KubeApiServer
from keb_app.landscape._kubeconfig import certificate_user

from .conftest import ClientFactory
from .support import FakeClock, raw_request

BINDING = "kyma-binding-1"


def _with_user(kubeconfig: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(kubeconfig)
    changed["users"][0]["user"] = user
    return changed


@pytest.fixture
def skr(server: KubeApiServer) -> FakeCluster:
    """A runtime cluster with a control Secret, as in KEB's bind_envtest_test.go."""
    skr = server.add_cluster("skr", namespaces=("default", "kyma-system"))
    skr.put("secrets", {"metadata": {"name": "secret-to-check-first", "namespace": "default"}, "data": {}})
    return skr


@pytest.fixture
def skr_admin(server: KubeApiServer, skr: FakeCluster, make_client: ClientFactory) -> Any:
    return make_client(server.admin_kubeconfig("skr"))


def _bind(skr_admin: Any, expiration: int = 600) -> str:
    """KEB's binding steps: ServiceAccount, all-wildcard ClusterRole, ClusterRoleBinding, TokenRequest."""
    core, rbac = client.CoreV1Api(skr_admin), client.RbacAuthorizationV1Api(skr_admin)
    meta = client.V1ObjectMeta(
        name=BINDING, labels={"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"}
    )
    core.create_namespaced_service_account("kyma-system", client.V1ServiceAccount(metadata=meta))
    rbac.create_cluster_role(
        client.V1ClusterRole(
            metadata=meta, rules=[client.V1PolicyRule(api_groups=["*"], resources=["*"], verbs=["*"])]
        )
    )
    rbac.create_cluster_role_binding(
        client.V1ClusterRoleBinding(
            metadata=meta,
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=BINDING
            ),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name=BINDING, namespace="kyma-system")],
        )
    )
    answer = core.create_namespaced_service_account_token(
        BINDING,
        "kyma-system",
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=expiration)
        ),
    )
    return str(answer.status.token)


def _read_control_secret(api: Any) -> Any:
    return client.CoreV1Api(api).read_namespaced_secret("secret-to-check-first", "default")


def test_requests_without_credentials_are_unauthorized(server: KubeApiServer, kcp: FakeCluster) -> None:
    """A request without any credential answers 401 Unauthorized."""
    response = raw_request(server.admin_kubeconfig("kcp"), "GET", "/api/v1/namespaces", token=False)
    assert response.status == 401
    assert response.json()["reason"] == "Unauthorized"


def test_unknown_bearer_token_is_unauthorized(
    server: KubeApiServer, kcp: FakeCluster, make_client: ClientFactory
) -> None:
    """A bearer token the cluster never issued answers 401."""
    api = make_client(_with_user(server.admin_kubeconfig("kcp"), {"token": "not-a-token"}))
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(api).list_namespace()
    assert caught.value.status == 401


def test_admin_token_of_another_cluster_is_unauthorized(
    server: KubeApiServer, kcp: FakeCluster, skr: FakeCluster, make_client: ClientFactory
) -> None:
    """Each cluster has its own admin token; KCP's token does not open the runtime cluster."""
    kcp_token = server.admin_kubeconfig("kcp")["users"][0]["user"]
    api = make_client(_with_user(server.admin_kubeconfig("skr"), kcp_token))
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(api).list_namespace()
    assert caught.value.status == 401


def test_service_account_token_works_while_bound(
    server: KubeApiServer, skr_admin: Any, make_client: ClientFactory
) -> None:
    """A binding's token reads the control Secret through its ClusterRoleBinding."""
    token = _bind(skr_admin)
    api = make_client(_with_user(server.admin_kubeconfig("skr"), {"token": token}))
    assert _read_control_secret(api).metadata.name == "secret-to-check-first"


def test_token_is_forbidden_once_its_cluster_role_binding_is_gone(
    server: KubeApiServer, skr_admin: Any, make_client: ClientFactory
) -> None:
    """After unbinding deletes the ClusterRoleBinding, the token answers 403 with a Kubernetes message."""
    token = _bind(skr_admin)
    api = make_client(_with_user(server.admin_kubeconfig("skr"), {"token": token}))
    client.RbacAuthorizationV1Api(skr_admin).delete_cluster_role_binding(BINDING)
    with pytest.raises(ApiException) as caught:
        _read_control_secret(api)
    assert caught.value.status == 403
    assert json.loads(caught.value.body)["message"] == (
        'secrets "secret-to-check-first" is forbidden: '
        'User "system:serviceaccount:kyma-system:kyma-binding-1" '
        'cannot get resource "secrets" in API group "" in the namespace "default"'
    )


def test_token_is_unauthorized_once_its_service_account_is_gone(
    server: KubeApiServer, skr_admin: Any, make_client: ClientFactory
) -> None:
    """After the ServiceAccount is deleted, its token no longer authenticates (401)."""
    token = _bind(skr_admin)
    api = make_client(_with_user(server.admin_kubeconfig("skr"), {"token": token}))
    client.CoreV1Api(skr_admin).delete_namespaced_service_account(BINDING, "kyma-system")
    with pytest.raises(ApiException) as caught:
        _read_control_secret(api)
    assert caught.value.status == 401


def test_token_is_bound_to_the_service_account_uid(
    server: KubeApiServer, skr_admin: Any, make_client: ClientFactory
) -> None:
    """A ServiceAccount re-created under the same name does not revive tokens of the old one."""
    token = _bind(skr_admin)
    core = client.CoreV1Api(skr_admin)
    core.delete_namespaced_service_account(BINDING, "kyma-system")
    core.create_namespaced_service_account(
        "kyma-system", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=BINDING))
    )
    api = make_client(_with_user(server.admin_kubeconfig("skr"), {"token": token}))
    with pytest.raises(ApiException) as caught:
        _read_control_secret(api)
    assert caught.value.status == 401


def test_token_expires_with_its_exp_claim(
    server: KubeApiServer, skr_admin: Any, clock: FakeClock, make_client: ClientFactory
) -> None:
    """Once the server's clock passes exp, the token answers 401."""
    token = _bind(skr_admin, expiration=600)
    api = make_client(_with_user(server.admin_kubeconfig("skr"), {"token": token}))
    clock.advance(599)
    assert _read_control_secret(api).metadata.name == "secret-to-check-first"
    clock.advance(1)
    with pytest.raises(ApiException) as caught:
        _read_control_secret(api)
    assert caught.value.status == 401


def test_token_of_another_cluster_is_unauthorized(
    server: KubeApiServer, skr_admin: Any, kcp: FakeCluster, make_client: ClientFactory
) -> None:
    """A ServiceAccount token is only accepted by the cluster that issued it."""
    token = _bind(skr_admin)
    api = make_client(_with_user(server.admin_kubeconfig("kcp"), {"token": token}))
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(api).list_namespace()
    assert caught.value.status == 401


def test_role_binding_grants_only_its_namespace(
    server: KubeApiServer, skr: FakeCluster, skr_admin: Any, make_client: ClientFactory
) -> None:
    """A RoleBinding to a Role lets the account read Secrets in that namespace only."""
    core, rbac = client.CoreV1Api(skr_admin), client.RbacAuthorizationV1Api(skr_admin)
    core.create_namespaced_service_account(
        "kyma-system", client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
    )
    rbac.create_namespaced_role(
        "kyma-system",
        client.V1Role(
            metadata=client.V1ObjectMeta(name="reader"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get", "list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        "kyma-system",
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="reader"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="reader"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace="kyma-system")],
        ),
    )
    token = core.create_namespaced_service_account_token(
        "reader",
        "kyma-system",
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    reader = client.CoreV1Api(make_client(_with_user(server.admin_kubeconfig("skr"), {"token": token})))
    assert reader.list_namespaced_secret("kyma-system").items == []
    with pytest.raises(ApiException) as caught:
        reader.list_namespaced_secret("default")
    assert caught.value.status == 403


def test_client_certificate_works_for_its_cluster(
    server: KubeApiServer, skr: FakeCluster, make_client: ClientFactory
) -> None:
    """A certificate kubeconfig issued for a cluster has full access to it."""
    api = make_client(server.admin_kubeconfig("skr", auth="certificate"))
    assert _read_control_secret(api).metadata.name == "secret-to-check-first"


def test_client_certificate_of_another_cluster_is_refused(
    server: KubeApiServer, kcp: FakeCluster, skr: FakeCluster, make_client: ClientFactory
) -> None:
    """A certificate issued for KCP answers 401 on the runtime cluster although both share one CA."""
    kcp_cert_user = server.admin_kubeconfig("kcp", auth="certificate")["users"][0]["user"]
    api = make_client(_with_user(server.admin_kubeconfig("skr"), kcp_cert_user))
    with pytest.raises(ApiException) as caught:
        _read_control_secret(api)
    assert caught.value.status == 401


def test_expired_client_certificate_is_refused(
    server: KubeApiServer, skr: FakeCluster, clock: FakeClock, make_client: ClientFactory
) -> None:
    """A certificate past its notAfter answers 401: TLS lets it through, the authenticator refuses it."""
    issued = server.issue_client_certificate("skr", not_before=clock() - 7200, not_after=clock() - 3600)
    api = make_client(
        _with_user(server.admin_kubeconfig("skr"), certificate_user(issued.cert_pem, issued.key_pem))
    )
    with pytest.raises(ApiException) as caught:
        _read_control_secret(api)
    assert caught.value.status == 401


def test_removed_cluster_revokes_its_certificates(
    server: KubeApiServer, skr: FakeCluster, make_client: ClientFactory
) -> None:
    """A cluster removed and added again under the same name does not accept certificates of the old one."""
    kubeconfig = server.admin_kubeconfig("skr", auth="certificate")
    server.remove_cluster("skr")
    server.add_cluster("skr")
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(make_client(kubeconfig)).list_namespace()
    assert caught.value.status == 401
