"""Bodies of the Runtime and Kyma CRs (kubernetes-wire §1.5 and §1.7): the domain's desired values as the
Kubernetes adapter writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from keb_adapters.kubernetes.resources import kyma_body, runtime_body
from keb_domain.model.instance import Instance
from keb_domain.model.plans import KYMA_SERVICE_ID, PLANS_BY_NAME, Plan, Provider
from keb_domain.model.resources import RuntimeDefaults, desired_kyma, desired_runtime, resource_name
from tests.support import AWS
from tests.unit.harness import default_config, make_core, provision_command

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
RUNTIME_ID = "9A8B7C6D-1111-4000-8000-ABCDEF012345"
POLICY = default_config().policy
DEFAULTS = RuntimeDefaults()
OIDC_ENTRY = {
    "clientID": "client",
    "issuerURL": "https://issuer.example.com",
    "groupsClaim": "roles",
    "groupsPrefix": "oidc:",
    "usernameClaim": "email",
    "usernamePrefix": "oidc:",
    "signingAlgs": ["ES256"],
    "requiredClaims": ["aud=kyma", "tier=gold"],
    "encodedJwksArray": "ZXhhbXBsZQ==",
}


def build_runtime(
    instance: Instance, plan: Plan, runtime_id: str, defaults: RuntimeDefaults
) -> dict[str, Any]:
    """The Runtime CR the broker writes for the instance."""
    return runtime_body(desired_runtime(instance, plan, runtime_id, POLICY, defaults))


def build_kyma(instance: Instance, runtime_id: str, defaults: RuntimeDefaults) -> dict[str, Any]:
    """The Kyma CR the broker writes for the instance."""
    return kyma_body(desired_kyma(instance, runtime_id, defaults))


def an_instance(plan: str = "aws", **changes: Any) -> Instance:
    base = Instance(
        instance_id="inst-1",
        service_id=KYMA_SERVICE_ID,
        plan_id=PLANS_BY_NAME[plan].id,
        plan_name=plan,
        global_account_id="ga-1",
        subaccount_id="sa-1",
        user_id="user@example.com",
        platform_region="cf-eu10",
        provider=Provider.AWS,
        cluster_region="eu-central-1",
        shoot_name="c-1234567",
        created_at=T0,
        updated_at=T0,
        parameters={"name": "my-cluster", "region": "eu-central-1"},
        runtime_id=RUNTIME_ID,
    )
    return attrs.evolve(base, **changes)


def runtime(instance: Instance | None = None, plan: str = "aws") -> dict[str, Any]:
    used = instance or an_instance(plan)
    return build_runtime(used, PLANS_BY_NAME[used.plan_name], RUNTIME_ID, DEFAULTS)


def shoot(instance: Instance | None = None) -> dict[str, Any]:
    result: dict[str, Any] = runtime(instance)["spec"]["shoot"]
    return result


def with_parameters(**parameters: Any) -> Instance:
    return an_instance(parameters={"name": "my-cluster", "region": "eu-central-1", **parameters})


COMMON_LABELS = {
    "kyma-project.io/instance-id": "inst-1",
    "kyma-project.io/runtime-id": RUNTIME_ID,
    "kyma-project.io/broker-plan-id": AWS,
    "kyma-project.io/broker-plan-name": "aws",
    "kyma-project.io/global-account-id": "ga-1",
    "kyma-project.io/subaccount-id": "sa-1",
    "kyma-project.io/shoot-name": "c-1234567",
    "kyma-project.io/platform-region": "cf-eu10",
    "kyma-project.io/region": "eu-central-1",
    "kyma-project.io/provider": "AWS",
    "operator.kyma-project.io/kyma-name": RUNTIME_ID.lower(),
}


# --- Runtime CR ---------------------------------------------------------------------------------------


def test_the_runtime_is_named_after_the_lower_cased_runtime_id_in_kcp_system() -> None:
    """metadata.name is KymaRuntimeResourceName (lower-case runtime id); the namespace is kcp-system."""
    body = runtime()
    assert (body["apiVersion"], body["kind"]) == ("infrastructuremanager.kyma-project.io/v1", "Runtime")
    assert body["metadata"]["name"] == "9a8b7c6d-1111-4000-8000-abcdef012345"
    assert body["metadata"]["namespace"] == "kcp-system"


def test_the_runtime_carries_kebs_labels() -> None:
    """All labels KIM validates, plus platform region and provider."""
    assert runtime()["metadata"]["labels"] == COMMON_LABELS


def test_the_platform_region_label_is_left_out_when_unknown() -> None:
    """``kyma-project.io/platform-region`` is set only if there is a platform region."""
    assert (
        "kyma-project.io/platform-region"
        not in runtime(an_instance(platform_region=""))["metadata"]["labels"]
    )


def test_the_shoot_names_where_and_for_what() -> None:
    """Shoot name, purpose, platform region, region and provider type come from the instance."""
    spec = shoot()
    assert spec["name"] == "c-1234567"
    assert spec["purpose"] == "development"
    assert (spec["platformRegion"], spec["region"]) == ("cf-eu10", "eu-central-1")
    assert spec["provider"]["type"] == "aws"
    assert spec["kubernetes"]["version"] == DEFAULTS.kubernetes_version


def test_the_main_worker_defaults_to_the_first_machine_three_zones_and_3_to_20_nodes() -> None:
    """cpu-worker-0 of a standard plan: first regular machine, autoscaler defaults, three zones."""
    (worker,) = shoot()["provider"]["workers"]
    assert worker == {
        "name": "cpu-worker-0",
        "machine": {"type": "m6i.large"},
        "minimum": 3,
        "maximum": 20,
        "maxSurge": 3,
        "maxUnavailable": 0,
        "zones": ["eu-central-1a", "eu-central-1b", "eu-central-1c"],
        "volume": {"size": "80Gi", "type": "gp3"},
    }
    assert "additionalWorkers" not in shoot()["provider"]


def test_the_main_worker_follows_machine_type_and_autoscaler_parameters() -> None:
    """machineType, autoScalerMin and autoScalerMax go to cpu-worker-0."""
    (worker,) = shoot(with_parameters(machineType="m5.xlarge", autoScalerMin=4, autoScalerMax=9))["provider"][
        "workers"
    ]
    assert (worker["machine"]["type"], worker["minimum"], worker["maximum"]) == ("m5.xlarge", 4, 9)


@pytest.mark.parametrize(
    ("provider", "region", "zones"),
    [
        (Provider.AZURE, "westeurope", ["1", "2", "3"]),
        (Provider.GCP, "europe-west3", ["europe-west3-a", "europe-west3-b", "europe-west3-c"]),
    ],
)
def test_zone_names_follow_the_provider(provider: Provider, region: str, zones: list[str]) -> None:
    """Azure zones are numbers; GCP zones carry the region name."""
    plan = "azure" if provider is Provider.AZURE else "gcp"
    instance = an_instance(plan, provider=provider, cluster_region=region)
    assert runtime(instance)["spec"]["shoot"]["provider"]["workers"][0]["zones"] == zones


def test_a_trial_runs_one_small_node_in_one_zone_for_evaluation() -> None:
    """Trial and free have one fixed node and the evaluation purpose."""
    instance = an_instance("trial", parameters={"name": "trial-1"})
    spec = runtime(instance)["spec"]["shoot"]
    (worker,) = spec["provider"]["workers"]
    assert (worker["machine"]["type"], worker["minimum"], worker["maximum"]) == ("m6i.xlarge", 1, 1)
    assert worker["zones"] == ["eu-central-1a"]
    assert spec["purpose"] == "evaluation"


def test_additional_pools_become_additional_workers() -> None:
    """HA pools span three zones, others one; labels, annotations and taints are copied."""
    pools = [
        {"name": "ha", "machineType": "c7i.large", "haZones": True, "autoScalerMin": 3, "autoScalerMax": 6},
        {
            "name": "single",
            "machineType": "m6i.large",
            "haZones": False,
            "autoScalerMin": 0,
            "autoScalerMax": 1,
            "labels": {"team": "a"},
            "taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}],
        },
    ]
    ha, single = shoot(with_parameters(additionalWorkerNodePools=pools))["provider"]["additionalWorkers"]
    assert (ha["name"], ha["machine"]["type"], ha["minimum"], ha["maximum"]) == ("ha", "c7i.large", 3, 6)
    assert ha["zones"] == ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
    assert single["zones"] == ["eu-central-1a"]
    assert single["labels"] == {"team": "a"}
    assert single["taints"] == [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]


def test_networking_defaults() -> None:
    """calico with nodes 10.250.0.0/16, pods 10.96.0.0/13, services 10.104.0.0/13."""
    assert shoot()["networking"] == {
        "type": "calico",
        "nodes": "10.250.0.0/16",
        "pods": "10.96.0.0/13",
        "services": "10.104.0.0/13",
    }


def test_networking_parameters_and_dual_stack() -> None:
    """Given networks are used; dualStack is set where the provider supports it."""
    networking = {
        "nodes": "10.180.0.0/16",
        "pods": "10.0.0.0/13",
        "services": "10.16.0.0/13",
        "dualStack": True,
    }
    assert shoot(with_parameters(networking=networking))["networking"] == {"type": "calico", **networking}
    azure = an_instance(
        "azure", provider=Provider.AZURE, cluster_region="westeurope", parameters={"networking": networking}
    )
    assert "dualStack" not in shoot(azure)["networking"]


def oidc_of(instance: Instance) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = shoot(instance)["kubernetes"]["kubeAPIServer"]["additionalOidcConfig"]
    return result


def test_without_oidc_the_default_issuer_is_configured() -> None:
    """skrOIDCDefaultValues apply when the user gives no oidc."""
    default = DEFAULTS.oidc
    assert oidc_of(an_instance()) == [
        {
            "clientID": default.client_id,
            "issuerURL": default.issuer_url,
            "groupsClaim": "groups",
            "groupsPrefix": "-",
            "usernameClaim": "sub",
            "usernamePrefix": "-",
            "signingAlgs": ["RS256"],
            "requiredClaims": {},
        }
    ]


def test_the_oidc_object_overrides_the_default_field_by_field() -> None:
    """The legacy object form is merged onto the default; unset fields keep the default."""
    (entry,) = oidc_of(with_parameters(oidc={"clientID": "mine", "issuerURL": "https://idp.example.com"}))
    assert (entry["clientID"], entry["issuerURL"]) == ("mine", "https://idp.example.com")
    assert (entry["groupsClaim"], entry["signingAlgs"]) == ("groups", ["RS256"])


def test_the_oidc_list_is_used_as_given() -> None:
    """Each list entry becomes one config; requiredClaims become a map, the JWKS is passed on."""
    configs = oidc_of(with_parameters(oidc={"list": [OIDC_ENTRY, {**OIDC_ENTRY, "clientID": "second"}]}))
    assert [c["clientID"] for c in configs] == ["client", "second"]
    assert configs[0] == {
        "clientID": "client",
        "issuerURL": "https://issuer.example.com",
        "groupsClaim": "roles",
        "groupsPrefix": "oidc:",
        "usernameClaim": "email",
        "usernamePrefix": "oidc:",
        "signingAlgs": ["ES256"],
        "requiredClaims": {"aud": "kyma", "tier": "gold"},
        "jwks": "ZXhhbXBsZQ==",
    }


def test_an_empty_oidc_list_configures_no_issuer() -> None:
    """``{"list": []}`` means no OIDC at all."""
    assert oidc_of(with_parameters(oidc={"list": []})) == []


def test_a_dash_clears_the_required_claims() -> None:
    """``requiredClaims: ["-"]`` in the object form means no required claims."""
    (entry,) = oidc_of(
        with_parameters(oidc={"clientID": "c", "issuerURL": "https://i", "requiredClaims": ["-"]})
    )
    assert entry["requiredClaims"] == {}


def test_administrators_default_to_the_user() -> None:
    """security.administrators is the parameter, else ``[context.user_id]``."""
    assert runtime()["spec"]["security"]["administrators"] == ["user@example.com"]
    assert runtime(with_parameters(administrators=[]))["spec"]["security"]["administrators"] == [
        "user@example.com"
    ]
    admins = ["a@example.com", "b@example.com"]
    assert runtime(with_parameters(administrators=admins))["spec"]["security"]["administrators"] == admins


@pytest.mark.parametrize(
    ("licence", "egress"), [(None, True), ("SAPDEV", True), ("CUSTOMER", False), ("partner", False)]
)
def test_the_egress_filter_is_on_for_internal_accounts_only(licence: str | None, egress: bool) -> None:
    """External licences (CUSTOMER, PARTNER, TRIAL) get no egress filter."""
    instance = an_instance(context={"license_type": licence} if licence else {})
    assert runtime(instance)["spec"]["security"]["networking"]["filter"]["egress"]["enabled"] is egress


# --- Kyma CR ------------------------------------------------------------------------------------------


def kyma(instance: Instance | None = None) -> dict[str, Any]:
    return build_kyma(instance or an_instance(), RUNTIME_ID, DEFAULTS)


def test_the_kyma_is_named_like_the_runtime_with_kebs_labels() -> None:
    """Same name and namespace as the Runtime, common labels plus lifecycle-manager's."""
    body = kyma()
    assert (body["apiVersion"], body["kind"]) == ("operator.kyma-project.io/v1beta2", "Kyma")
    assert body["metadata"]["name"] == RUNTIME_ID.lower()
    assert body["metadata"]["namespace"] == "kcp-system"
    assert body["metadata"]["labels"] == {
        **COMMON_LABELS,
        "operator.kyma-project.io/managed-by": "lifecycle-manager",
        "operator.kyma-project.io/internal": "true",
    }
    assert body["metadata"]["annotations"] == {"skr-domain": "c-1234567.kyma.example.com"}


def test_external_accounts_are_not_labelled_internal() -> None:
    """``operator.kyma-project.io/internal`` is set only for internal licences."""
    labels = kyma(an_instance(context={"license_type": "TRIAL"}))["metadata"]["labels"]
    assert "operator.kyma-project.io/internal" not in labels


def test_the_kyma_template_modules_are_the_default() -> None:
    """Without modules the template's channel and modules stay."""
    assert kyma()["spec"] == {
        "channel": "regular",
        "modules": [{"name": "api-gateway"}, {"name": "istio"}, {"name": "btp-operator"}],
    }


@pytest.mark.parametrize(
    ("modules", "spec"),
    [
        ({"default": False}, {"modules": []}),
        ({"default": True, "channel": "fast"}, {"channel": "fast"}),
        (
            {"channel": "fast", "list": [{"name": "keda", "channel": "", "customResourcePolicy": "Ignore"}]},
            {"channel": "fast", "modules": [{"name": "keda", "customResourcePolicy": "Ignore"}]},
        ),
        ({"list": []}, {"modules": []}),
    ],
)
def test_the_modules_parameter_shapes_the_kyma_spec(modules: dict[str, Any], spec: dict[str, Any]) -> None:
    """channel overrides the template; a list replaces the modules; default:false empties them."""
    expected = {**kyma()["spec"], **spec}
    assert kyma(with_parameters(modules=modules))["spec"] == expected


def test_building_a_kyma_leaves_the_template_alone() -> None:
    """The template is copied, so one instance's modules never leak into the next."""
    kyma(with_parameters(modules={"list": []}))
    assert kyma()["spec"]["modules"] != []


# --- what the processor writes ------------------------------------------------------------------------


async def test_the_processor_writes_the_runtime_and_kyma_built_for_the_instance() -> None:
    """After provisioning, KCP holds exactly the bodies built for the stored instance."""
    core = make_core()
    await core.instances.provision(provision_command(parameters={"name": "c", "region": "us-east-1"}))
    await core.settle()
    instance = core.instance("inst-1")
    name = resource_name(instance.runtime_id)
    expected = build_runtime(instance, PLANS_BY_NAME["aws"], instance.runtime_id, core.config.runtime)
    stored = core.kcp.runtimes[name]
    assert stored["spec"] == expected["spec"]
    assert stored["metadata"]["labels"] == expected["metadata"]["labels"]
    assert stored["metadata"]["namespace"] == "kcp-system"
    expected_kyma = build_kyma(instance, instance.runtime_id, core.config.runtime)
    assert core.kcp.kymas[name]["spec"] == expected_kyma["spec"]
    assert core.kcp.kymas[name]["metadata"]["labels"] == expected_kyma["metadata"]["labels"]


@pytest.mark.parametrize("tolerance", ["node", "zone"])
def test_the_configured_failure_tolerance_makes_standard_control_planes_highly_available(
    tolerance: str,
) -> None:
    """APP_INFRASTRUCTURE_MANAGER_CONTROL_PLANE_FAILURE_TOLERANCE reaches spec.shoot.controlPlane (KEB)."""
    defaults = attrs.evolve(DEFAULTS, control_plane_failure_tolerance=tolerance)
    body = build_runtime(an_instance(), PLANS_BY_NAME["aws"], RUNTIME_ID, defaults)
    assert body["spec"]["shoot"]["controlPlane"] == {
        "highAvailability": {"failureTolerance": {"type": tolerance}}
    }


def test_no_failure_tolerance_and_non_standard_plans_leave_the_control_plane_out() -> None:
    """Without the setting, and for trial, free and azure_lite even with it, there is no controlPlane."""
    assert "controlPlane" not in runtime()["spec"]["shoot"]
    defaults = attrs.evolve(DEFAULTS, control_plane_failure_tolerance="zone")
    trial = an_instance("trial", parameters={"name": "t"})
    body = build_runtime(trial, PLANS_BY_NAME["trial"], RUNTIME_ID, defaults)
    assert "controlPlane" not in body["spec"]["shoot"]
