"""CRUD semantics of the API double as the official sync client sees them (kubernetes-wire §1.1, §4.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from keb_app.landscape import FakeCluster, KubeApiServer

from .support import RUNTIME_GROUP, RUNTIME_VERSION, raw_request, runtime_body


def _status(error: ApiException) -> dict[str, Any]:
    body = json.loads(error.body)
    assert isinstance(body, dict)
    return body


def _service_account(name: str, **labels: str) -> Any:
    return client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name, labels=labels or None))


def _create_runtime(custom: Any, name: str = "rt-1") -> dict[str, Any]:
    created = custom.create_namespaced_custom_object(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", runtime_body(name)
    )
    assert isinstance(created, dict)
    return created


def test_create_answers_201_with_server_metadata(core: Any) -> None:
    """A create answers 201 and fills uid, resourceVersion and an RFC 3339 creationTimestamp."""
    account, status, headers = core.create_namespaced_service_account_with_http_info(
        "default", _service_account("sa-1")
    )
    assert status == 201
    assert headers["Content-Type"] == "application/json"
    assert account.metadata.uid
    assert account.metadata.resource_version.isdigit()
    assert account.metadata.creation_timestamp.tzinfo is not None


def test_create_of_existing_object_is_already_exists(core: Any) -> None:
    """Creating the same name twice answers 409 AlreadyExists with kube-apiserver's message."""
    core.create_namespaced_service_account("default", _service_account("twice"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_service_account("default", _service_account("twice"))
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "AlreadyExists"
    assert _status(caught.value)["message"] == 'serviceaccounts "twice" already exists'


def test_get_of_missing_object_is_not_found(core: Any) -> None:
    """Reading a missing object answers 404 NotFound naming the resource and object."""
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_secret("missing", "default")
    assert caught.value.status == 404
    assert _status(caught.value)["message"] == 'secrets "missing" not found'
    assert _status(caught.value)["details"] == {"name": "missing", "kind": "secrets"}


def test_create_in_missing_namespace_is_not_found(core: Any) -> None:
    """Creating into a namespace that does not exist answers 404 for the namespace."""
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_service_account("kyma-system", _service_account("sa"))
    assert caught.value.status == 404
    assert _status(caught.value)["message"] == 'namespaces "kyma-system" not found'


def test_body_namespace_must_match_the_url(core: Any) -> None:
    """A body naming another namespace than the URL answers 400 BadRequest."""
    body = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="sa", namespace="kcp-system"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_service_account("default", body)
    assert caught.value.status == 400
    assert _status(caught.value)["reason"] == "BadRequest"


def test_replace_with_stale_resource_version_is_conflict(core: Any) -> None:
    """A PUT carrying an outdated resourceVersion answers 409 Conflict with the real message."""
    first = core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"), data={"a": "1"})
    )
    first.data = {"a": "2"}
    core.replace_namespaced_config_map("cm", "default", first)
    first.data = {"a": "3"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cm", "default", first)
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "Conflict"
    assert _status(caught.value)["message"] == (
        'Operation cannot be fulfilled on configmaps "cm": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert core.read_namespaced_config_map("cm", "default").data == {"a": "2"}


def test_replace_keeps_server_owned_metadata(core: Any) -> None:
    """A PUT cannot change uid or creationTimestamp, and it bumps resourceVersion."""
    created = core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"), data={"a": "1"})
    )
    body = {
        "metadata": {
            "name": "cm",
            "uid": "forged",
            "creationTimestamp": "2000-01-01T00:00:00Z",
            "resourceVersion": created.metadata.resource_version,
        },
        "data": {"a": "2"},
    }
    replaced = core.replace_namespaced_config_map("cm", "default", body)
    assert replaced.metadata.uid == created.metadata.uid
    assert replaced.metadata.creation_timestamp == created.metadata.creation_timestamp
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)


def test_resource_versions_increase_across_writes(core: Any) -> None:
    """Every write gets a higher resourceVersion than the one before, across objects."""
    versions = [
        int(
            core.create_namespaced_service_account(
                "default", _service_account(f"sa-{i}")
            ).metadata.resource_version
        )
        for i in range(3)
    ]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3


def test_status_is_dropped_on_create(custom: Any) -> None:
    """A Runtime created with a status comes back without it (status subresource)."""
    body = runtime_body("rt-status")
    body["status"] = {"state": "Ready"}
    created = custom.create_namespaced_custom_object(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", body
    )
    assert "status" not in created
    assert created["metadata"]["generation"] == 1


def test_main_resource_write_ignores_status(custom: Any) -> None:
    """A PUT of the main resource leaves status as it was (KEB's fake client does not, a server does)."""
    runtime = _create_runtime(custom)
    runtime["status"] = {"state": "Ready"}
    replaced = custom.replace_namespaced_custom_object(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-1", runtime
    )
    assert "status" not in replaced


def test_status_write_changes_only_status(custom: Any) -> None:
    """A PUT on /status sets status and ignores spec and labels in the same body."""
    runtime = _create_runtime(custom)
    runtime["status"] = {"state": "Ready"}
    runtime["spec"]["shoot"]["region"] = "somewhere-else"
    runtime["metadata"]["labels"]["extra"] = "x"
    updated = custom.replace_namespaced_custom_object_status(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-1", runtime
    )
    assert updated["status"] == {"state": "Ready"}
    assert updated["spec"]["shoot"]["region"] == "eu-central-1"
    assert "extra" not in updated["metadata"]["labels"]


def test_generation_follows_spec_changes_only(custom: Any) -> None:
    """generation is bumped by a spec change, not by status or label changes."""
    _create_runtime(custom)
    labelled = custom.patch_namespaced_custom_object(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-1", {"metadata": {"labels": {"x": "y"}}}
    )
    with_status = custom.patch_namespaced_custom_object_status(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-1", {"status": {"state": "Pending"}}
    )
    respec = custom.patch_namespaced_custom_object(
        RUNTIME_GROUP,
        RUNTIME_VERSION,
        "kcp-system",
        "runtimes",
        "rt-1",
        {"spec": {"security": {"administrators": ["other@example.com"]}}},
    )
    assert (labelled["metadata"]["generation"], with_status["metadata"]["generation"]) == (1, 1)
    assert respec["metadata"]["generation"] == 2
    assert respec["status"] == {"state": "Pending"}


def test_strategic_merge_patch_is_refused_for_custom_resources(kcp: FakeCluster, custom: Any) -> None:
    """Custom resources accept merge and JSON patches but answer 415 to strategic merge, like a CRD."""
    _create_runtime(custom)
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            RUNTIME_GROUP,
            RUNTIME_VERSION,
            "kcp-system",
            "runtimes",
            "rt-1",
            {"metadata": {"labels": {"a": "b"}}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert caught.value.status == 415
    patched = custom.patch_namespaced_custom_object(
        RUNTIME_GROUP,
        RUNTIME_VERSION,
        "kcp-system",
        "runtimes",
        "rt-1",
        [{"op": "replace", "path": "/spec/shoot/region", "value": "us-east-1"}],
        _content_type="application/json-patch+json",
    )
    assert patched["spec"]["shoot"]["region"] == "us-east-1"


def _json_patch(server: KubeApiServer, path: str, operations: Any) -> Any:
    return raw_request(
        server.admin_kubeconfig("kcp"),
        "PATCH",
        path,
        json.dumps(operations).encode(),
        {"content-type": "application/json-patch+json"},
    )


def test_json_patch_applies_every_operation_or_none(server: KubeApiServer, kcp: FakeCluster) -> None:
    """A JSON patch whose ``test`` fails answers 422 and changes nothing; one that passes applies all."""
    kcp.create("configmaps", {"metadata": {"name": "cm", "namespace": "default"}, "data": {"a": "1"}})
    path = "/api/v1/namespaces/default/configmaps/cm"
    failing = [
        {"op": "add", "path": "/data/b", "value": "2"},
        {"op": "test", "path": "/data/a", "value": "9"},
    ]
    refused = _json_patch(server, path, failing)
    assert refused.status == 422
    assert json.loads(refused.data)["reason"] == "Invalid"
    assert (kcp.get("configmaps", "cm", "default") or {})["data"] == {"a": "1"}
    passing = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "move", "from": "/data/a", "path": "/data/b"},
        {"op": "add", "path": "/metadata/labels", "value": {"x/y": "z"}},
    ]
    applied = _json_patch(server, path, passing)
    assert applied.status == 200
    stored = kcp.get("configmaps", "cm", "default") or {}
    assert stored["data"] == {"b": "1"}
    assert stored["metadata"]["labels"] == {"x/y": "z"}


@pytest.mark.parametrize(
    "operations",
    [
        {"op": "add", "path": "/data/b", "value": "2"},  # not a list
        [{"op": "append", "path": "/data/a", "value": "2"}],  # jsonpatch's extension, not RFC 6902
        [{"op": "add", "path": "data/b", "value": "2"}],  # not a JSON pointer
        [{"path": "/data/b", "value": "2"}],  # no op
    ],
)
def test_malformed_json_patch_is_a_bad_request(
    server: KubeApiServer, kcp: FakeCluster, operations: Any
) -> None:
    """A JSON patch that is not a list of RFC 6902 operations answers 400 and changes nothing."""
    kcp.create("configmaps", {"metadata": {"name": "cm", "namespace": "default"}, "data": {"a": "1"}})
    response = _json_patch(server, "/api/v1/namespaces/default/configmaps/cm", operations)
    assert response.status == 400
    assert (kcp.get("configmaps", "cm", "default") or {})["data"] == {"a": "1"}


def test_merge_patch_null_removes_a_key(kcp: FakeCluster) -> None:
    """In a merge patch (RFC 7386) null deletes a key, maps merge and other values replace."""
    kcp.create(
        "configmaps",
        {
            "metadata": {"name": "cm", "namespace": "default", "labels": {"a": "1", "b": "2"}},
            "data": {"k": "v"},
        },
    )
    patched = kcp.patch(
        "configmaps", "cm", {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"k": "w"}}, "default"
    )
    assert patched["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert patched["data"] == {"k": "w"}


def test_list_answers_leave_the_stored_objects_as_they_are(server: KubeApiServer, kcp: FakeCluster) -> None:
    """Built-in list items go out without kind and apiVersion, yet the stored objects keep both."""
    kcp.create("configmaps", {"metadata": {"name": "cm", "namespace": "default"}})
    response = raw_request(server.admin_kubeconfig("kcp"), "GET", "/api/v1/namespaces/default/configmaps")
    assert response.status == 200
    (item,) = json.loads(response.data)["items"]
    assert "kind" not in item
    assert "apiVersion" not in item
    stored = kcp.get("configmaps", "cm", "default") or {}
    assert (stored["kind"], stored["apiVersion"]) == ("ConfigMap", "v1")


def test_python_hooks_hand_out_copies(kcp: FakeCluster) -> None:
    """Changing what get or list returned does not change the stored object."""
    kcp.create("configmaps", {"metadata": {"name": "cm", "namespace": "default"}, "data": {"a": "1"}})
    (kcp.get("configmaps", "cm", "default") or {})["data"]["a"] = "changed"
    kcp.list("configmaps", "default")[0]["data"]["a"] = "changed"
    assert (kcp.get("configmaps", "cm", "default") or {})["data"] == {"a": "1"}


def test_delete_with_finalizer_sets_deletion_timestamp(kcp: FakeCluster, custom: Any) -> None:
    """DELETE on an object with finalizers only marks it; it goes once the finalizers are removed."""
    body = runtime_body("rt-final")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    custom.create_namespaced_custom_object(RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", body)
    answered = custom.delete_namespaced_custom_object(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-final"
    )
    assert answered["metadata"]["deletionTimestamp"]
    still_there = custom.get_namespaced_custom_object(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-final"
    )
    assert still_there["metadata"]["finalizers"] == ["example.com/hold"]
    assert kcp.remove_finalizers("runtimes", "rt-final", "kcp-system") is None
    with pytest.raises(ApiException) as caught:
        custom.get_namespaced_custom_object(
            RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-final"
        )
    assert caught.value.status == 404


def test_update_emptying_finalizers_completes_deletion(custom: Any) -> None:
    """A client update that removes the last finalizer of a deleting object removes the object."""
    body = runtime_body("rt-fin")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    custom.create_namespaced_custom_object(RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", body)
    custom.delete_namespaced_custom_object(RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-fin")
    custom.patch_namespaced_custom_object(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-fin", {"metadata": {"finalizers": None}}
    )
    listed = custom.list_namespaced_custom_object(RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes")
    assert listed["items"] == []


def test_delete_without_finalizers_removes_the_object(kcp: FakeCluster, rbac: Any) -> None:
    """DELETE of a ClusterRoleBinding removes it at once and answers a Success Status."""
    rbac.create_cluster_role_binding(
        client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name="crb"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="x"),
        )
    )
    answered = rbac.delete_cluster_role_binding("crb")
    assert answered.status == "Success"
    assert kcp.get("clusterrolebindings", "crb") is None


def test_list_filters_by_label_selector(core: Any) -> None:
    """A list with labelSelector k=v,k2=v2 returns only objects carrying both labels."""
    core.create_namespaced_service_account("default", _service_account("both", app="keb", tier="a"))
    core.create_namespaced_service_account("default", _service_account("one", app="keb", tier="b"))
    core.create_namespaced_service_account("default", _service_account("none"))
    listed = core.list_namespaced_service_account("default", label_selector="app=keb,tier=a")
    assert [a.metadata.name for a in listed.items] == ["both"]
    assert listed.metadata.resource_version
    assert [
        a.metadata.name for a in core.list_namespaced_service_account("default", label_selector="app").items
    ] == [
        "both",
        "one",
    ]


def test_unknown_resource_is_not_found(custom: Any) -> None:
    """A resource the server does not serve answers 404 'the server could not find the requested resource'."""
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert caught.value.status == 404
    assert _status(caught.value)["message"] == "the server could not find the requested resource"


def test_generate_name_creates_a_unique_name(core: Any) -> None:
    """A create with generateName gets a name starting with that prefix."""
    body = client.V1ServiceAccount(metadata=client.V1ObjectMeta(generate_name="kyma-"))
    first = core.create_namespaced_service_account("default", body)
    second = core.create_namespaced_service_account("default", body)
    assert first.metadata.name.startswith("kyma-")
    assert first.metadata.name != second.metadata.name


def test_runtime_without_required_fields_is_invalid(custom: Any) -> None:
    """A Runtime missing CRD-required fields answers 422 Invalid listing each missing field."""
    body = runtime_body("rt-bad")
    del body["spec"]["shoot"]["secretBindingName"]
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", body)
    assert caught.value.status == 422
    assert _status(caught.value)["message"] == (
        'Runtime.infrastructuremanager.kyma-project.io "rt-bad" is invalid: '
        "spec.shoot.secretBindingName: Required value"
    )


def test_post_without_content_type_is_read_as_json(server: KubeApiServer, kcp: FakeCluster) -> None:
    """A POST without Content-Type is decoded as JSON, and the answer carries Content-Length."""
    body = json.dumps({"metadata": {"name": "raw"}}).encode()
    response = raw_request(
        server.admin_kubeconfig("kcp"),
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body,
        {"accept": "*/*"},
    )
    assert response.status == 201
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.data)
    assert kcp.get("configmaps", "raw", "default") is not None


def test_secret_string_data_is_stored_as_base64_data(core: Any) -> None:
    """stringData of a Secret is merged into data as base64, as kube-apiserver does."""
    core.create_namespaced_secret(
        "default", client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"config": "abc"})
    )
    secret = core.read_namespaced_secret("s", "default")
    assert secret.data == {"config": "YWJj"}
    assert secret.type == "Opaque"
    assert secret.string_data is None


def test_deleting_a_namespace_removes_its_content(kcp: FakeCluster, core: Any, custom: Any) -> None:
    """A deleted namespace takes its objects with it, refuses new content while terminating, then goes."""
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team")))
    core.create_namespaced_config_map("team", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm")))
    held = runtime_body("rt-held")
    held["metadata"].update(namespace="team", finalizers=["example.com/hold"])
    custom.create_namespaced_custom_object(RUNTIME_GROUP, RUNTIME_VERSION, "team", "runtimes", held)
    core.delete_namespace("team")
    assert core.read_namespace("team").status.phase == "Terminating"
    assert kcp.get("configmaps", "cm", "team") is None
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(
            "team", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm2"))
        )
    assert caught.value.status == 403
    kcp.remove_finalizers("runtimes", "rt-held", "team")
    assert kcp.get("namespaces", "team") is None


def test_seeded_objects_are_read_back_through_the_api(kcp: FakeCluster, custom: Any) -> None:
    """Objects seeded with put() keep their status and are served like any other object."""
    body = runtime_body("rt-seed")
    body["status"] = {"state": "Ready"}
    kcp.put("runtimes", body)
    served = custom.get_namespaced_custom_object(
        RUNTIME_GROUP, RUNTIME_VERSION, "kcp-system", "runtimes", "rt-seed"
    )
    assert served["status"] == {"state": "Ready"}
    assert (
        kcp.set_status("runtimes", "rt-seed", {"state": "Failed"}, "kcp-system")["status"]["state"]
        == "Failed"
    )
    assert [(r.method, r.status) for r in kcp.requests] == [("GET", 200)]


def test_unsupported_methods_answer_a_json_status(server: KubeApiServer, kcp: FakeCluster) -> None:
    """OPTIONS on a resource answers 405 MethodNotAllowed as a JSON Status, not an HTML error page."""
    response = raw_request(server.admin_kubeconfig("kcp"), "OPTIONS", "/api/v1/namespaces/default/configmaps")
    assert response.status == 405
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["reason"] == "MethodNotAllowed"


def test_unknown_cluster_is_not_found(server: KubeApiServer, kcp: FakeCluster) -> None:
    """A path under a cluster name the server does not host answers 404 NotFound."""
    kubeconfig = server.admin_kubeconfig("kcp")
    kubeconfig["clusters"][0]["cluster"]["server"] = server.cluster_url("nope")
    response = raw_request(kubeconfig, "GET", "/api/v1/namespaces")
    assert response.status == 404
    assert response.json()["reason"] == "NotFound"
