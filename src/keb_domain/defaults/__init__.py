"""The built-in plans and providers configuration, in KEB's formats.

Modelled on KEB's local configuration (``scripts/values.yaml``), EU Access keys included. The broker uses
it when ``APP_PLANS_CONFIGURATION_FILE_PATH`` / ``APP_PROVIDERS_CONFIGURATION_FILE_PATH`` are not set; a
tool that uses the domain as a library gets the same data here. The YAML files beside this module are
package data, read with ``importlib.resources``; each call returns a fresh copy, so a caller may change it.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml

from keb_domain.model.regions import RegionPolicy


@functools.cache
def _load(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load(resources.files(__name__).joinpath(name).read_text("utf-8"))
    return dict(loaded or {})


def plans_configuration() -> dict[str, Any]:
    """The built-in ``plansConfiguration`` document, as parsed YAML."""
    return copy.deepcopy(_load("plans.yaml"))


def providers_configuration() -> dict[str, Any]:
    """The built-in ``providersConfiguration`` document, as parsed YAML."""
    return copy.deepcopy(_load("providers.yaml"))


@functools.cache
def region_policy() -> RegionPolicy:
    """The RegionPolicy of the built-in configuration, KEB's trial mapping and BTP's platform regions."""
    return RegionPolicy.from_keb_configuration(plans_configuration(), providers_configuration())
