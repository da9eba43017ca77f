"""KEB's runtime configuration: the Kyma template per plan, from a ConfigMap in KCP.

The ConfigMap (KEB: ``kcp-system/keb-runtime-config``, label ``keb-config: "true"``; the chart's
``runtimeConfiguration`` value) has one key per plan name and a ``default`` key. Each value is a YAML
document whose ``kyma-template`` is itself a YAML string holding the Kyma CR, beside
``additional-components``::

    default: |-
      kyma-template: |-
        apiVersion: operator.kyma-project.io/v1beta2
        kind: Kyma
        ...
      additional-components: []
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from keb_domain.errors import KebError
from keb_domain.model.resources import DEFAULT_KYMA_TEMPLATE

DEFAULT_KEY = "default"
TEMPLATE_KEY = "kyma-template"


class RuntimeConfigurationError(KebError):
    """The runtime configuration has no usable Kyma template for a plan; the message names the key."""


def kyma_template(data: Mapping[str, str] | None, plan_name: str) -> Mapping[str, Any]:
    """The plan's Kyma template, else ``default``'s; the built-in one when the ConfigMap is absent or has
    neither key. Raises RuntimeConfigurationError for an entry that is not KEB's format."""
    if not data:
        return DEFAULT_KYMA_TEMPLATE
    key = plan_name if plan_name in data else DEFAULT_KEY
    if key not in data:
        return DEFAULT_KYMA_TEMPLATE
    try:
        entry = yaml.safe_load(data[key])
        if not isinstance(entry, Mapping) or not isinstance(entry.get(TEMPLATE_KEY), str):
            raise RuntimeConfigurationError(f"runtime configuration key {key!r}: no {TEMPLATE_KEY} string")
        template = yaml.safe_load(entry[TEMPLATE_KEY])
    except yaml.YAMLError as error:
        raise RuntimeConfigurationError(f"runtime configuration key {key!r}: invalid YAML: {error}") from None
    if not isinstance(template, Mapping) or template.get("kind") != "Kyma":
        raise RuntimeConfigurationError(
            f"runtime configuration key {key!r}: {TEMPLATE_KEY} is not a Kyma resource"
        )
    spec = template.get("spec")
    if not isinstance(spec, Mapping) or not spec.get("channel"):
        raise RuntimeConfigurationError(
            f"runtime configuration key {key!r}: {TEMPLATE_KEY} has no spec.channel"
        )
    return template


def config_map_entry(template: Mapping[str, Any]) -> str:
    """A ConfigMap value in KEB's format for ``template`` (what the local landscape seeds)."""
    return yaml.safe_dump(
        {TEMPLATE_KEY: yaml.safe_dump(dict(template), sort_keys=False), "additional-components": []},
        sort_keys=False,
    )
