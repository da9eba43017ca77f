"""The Kyma template from KEB's runtime configuration ConfigMap, per plan with ``default`` as fallback."""

from __future__ import annotations

import pytest

from keb_domain.model.resources import DEFAULT_KYMA_TEMPLATE
from keb_domain.model.runtime_config import RuntimeConfigurationError, config_map_entry, kyma_template
from keb_domain.usecases.instances import DeprovisionCommand
from tests.support import AWS, SERVICE
from tests.unit.harness import make_core, provision_command


def template(channel: str, *modules: str) -> dict[str, object]:
    return {
        "apiVersion": "operator.kyma-project.io/v1beta2",
        "kind": "Kyma",
        "metadata": {"name": "tbd", "namespace": "kcp-system"},
        "spec": {"channel": channel, "modules": [{"name": m} for m in modules]},
    }


def test_the_plan_key_wins_over_default() -> None:
    """A key named after the plan is used; other plans fall back to ``default``."""
    data = {
        "aws": config_map_entry(template("fast", "istio")),
        "default": config_map_entry(template("regular")),
    }
    assert kyma_template(data, "aws")["spec"] == {"channel": "fast", "modules": [{"name": "istio"}]}
    assert kyma_template(data, "gcp")["spec"] == {"channel": "regular", "modules": []}


@pytest.mark.parametrize("data", [None, {}, {"azure": config_map_entry(template("fast"))}])
def test_without_a_usable_key_the_built_in_template_is_used(data: dict[str, str] | None) -> None:
    """An absent ConfigMap, or one with neither the plan nor ``default``, gives the built-in template."""
    assert kyma_template(data, "aws") == DEFAULT_KYMA_TEMPLATE


def test_keb_chart_format_is_read() -> None:
    """The chart's ``runtimeConfiguration`` value, written as KEB's operators do, parses."""
    entry = (
        "kyma-template: |-\n"
        "  apiVersion: operator.kyma-project.io/v1beta2\n"
        "  kind: Kyma\n"
        "  metadata:\n"
        "    name: tbd\n"
        "  spec:\n"
        "    channel: fast\n"
        "    modules:\n"
        "      - name: api-gateway\n"
        "additional-components: []\n"
    )
    assert kyma_template({"default": entry}, "aws")["spec"]["channel"] == "fast"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("kyma-template: [", "invalid YAML"),
        ("additional-components: []", "no kyma-template string"),
        ("kyma-template: 'kind: Secret'", "is not a Kyma resource"),
        ("kyma-template: 'kind: Kyma'", "has no spec.channel"),
    ],
)
def test_a_malformed_entry_is_an_error_naming_its_key(entry: str, message: str) -> None:
    """KEB's format is enforced; the error names the key that is wrong."""
    with pytest.raises(RuntimeConfigurationError, match=message) as raised:
        kyma_template({"default": entry}, "aws")
    assert "'default'" in raised.value.description


async def test_a_changed_config_map_applies_to_the_next_provisioning() -> None:
    """No restart: the processor reads the ConfigMap for each new Kyma resource."""
    core = make_core()
    core.runtime_configuration.config_map = {"default": config_map_entry(template("fast", "istio"))}
    await core.instances.provision(provision_command("i-1", ga="ga-1", sa="sa-1"))
    await core.settle()
    core.runtime_configuration.config_map = {"aws": config_map_entry(template("regular", "btp-operator"))}
    await core.instances.provision(provision_command("i-2", ga="ga-1", sa="sa-2"))
    await core.settle()
    first = core.kcp.kymas[core.instance("i-1").runtime_id.lower()]["spec"]
    second = core.kcp.kymas[core.instance("i-2").runtime_id.lower()]["spec"]
    assert (first["channel"], first["modules"]) == ("fast", [{"name": "istio"}])
    assert (second["channel"], second["modules"]) == ("regular", [{"name": "btp-operator"}])


async def test_a_malformed_config_map_fails_the_provisioning_with_its_reason() -> None:
    """The operation fails, saying which key is wrong, and no Kyma resource is written."""
    core = make_core()
    core.runtime_configuration.config_map = {"default": "kyma-template: ["}
    result = await core.instances.provision(provision_command("i-1"))
    await core.settle()
    operation = core.operation(result.operation_id)
    assert operation.state.value == "failed"
    assert "runtime configuration key 'default'" in operation.description
    assert not core.kcp.kymas
    await core.instances.deprovision(DeprovisionCommand("i-1", SERVICE, AWS))
    await core.settle()
