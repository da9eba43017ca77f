"""Validation of provisioning and update parameters.

Three layers, as in cosmicpython: syntax is the HTTP adapter's job (JSON, field types); the plan's JSON
schema (draft-04) checks shape and enums; the semantic rules below check what a schema cannot express
(CIDR overlaps, autoscaler order, OIDC URLs, worker pool rules). Every failure names the parameter.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators

from keb_domain.errors import InvalidParametersError
from keb_domain.model.configuration import TRIAL_REGIONS, PlanConfig
from keb_domain.model.plans import Plan, PlanKind, Provider
from keb_domain.model.regions import RegionPolicy
from keb_domain.model.schemas import (
    DEFAULT_NODES_CIDR,
    DEFAULT_PODS_CIDR,
    DEFAULT_SERVICES_CIDR,
    SEED_CIDRS,
    SIGNING_ALGORITHMS,
)

MAX_PARAMETERS_SIZE = 64 * 1024
TRIAL_DROPPED_PARAMETERS = ("machineType", "autoScalerMin", "autoScalerMax")
MAX_NODES_PREFIX = 23
HA_MIN_NODES = 3
HA_ZONES = 3

_SEED_NETWORKS = tuple(ipaddress.ip_network(cidr) for cidr in SEED_CIDRS)


def check_size(parameters: Mapping[str, Any]) -> None:
    """KEB rejects parameters above 64 KiB before anything else."""
    encoded = json.dumps(parameters, separators=(",", ":"), ensure_ascii=False).encode()
    if len(encoded) > MAX_PARAMETERS_SIZE:
        raise InvalidParametersError("request parameters too large: the limit is 64 KiB")


def _path(error: jsonschema.exceptions.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(parameters)"


def _describe(error: jsonschema.exceptions.ValidationError) -> str:
    if error.validator == "oneOf":
        branches = error.validator_value if isinstance(error.validator_value, list) else []
        titles = [str(s["title"]) for s in branches if isinstance(s, Mapping) and s.get("title")]
        forms = " or ".join(titles) or "one of its forms"
        if not error.context:  # valid under several forms
            return f"{_path(error)}: matches more than one form ({forms}); it must match exactly one"
        # No form matched: report the error that got furthest into the input; its form is the one the
        # user meant (an ``oidc.list`` entry missing a field, not "list is not an object field").
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        return f"{_path(error)}: does not match any form ({forms}); {_describe(deepest)}"
    return f"{_path(error)}: {error.message}"


def _ecmascript(pattern: str) -> str:
    """The pattern with ECMAScript's ``$``: the end of the input only.

    KEB validates with an ECMAScript engine (keb-reference §2.3). Python's ``$`` also matches before a
    final newline, which let ``"my-cluster\\n"`` pass ``^[a-zA-Z0-9-]*$``; ``\\Z`` is the ECMAScript ``$``.
    """
    return re.sub(r"(?<!\\)\$", r"\\Z", pattern)


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.exceptions.ValidationError]:
    if validator.is_type(instance, "string") and not re.search(_ecmascript(pattern), instance):
        yield jsonschema.exceptions.ValidationError(f"{instance!r} does not match {pattern!r}")


def _property_names(
    validator: Any, names: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.exceptions.ValidationError]:
    """Draft-06 ``propertyNames``, which the pool schemas use for label and annotation keys.

    A plain draft-04 validator skips the keyword and would accept any key.
    """
    if validator.is_type(instance, "object"):
        for name in instance:
            yield from validator.descend(instance=name, schema=names)


# types-jsonschema leaves extend() unannotated.
_Draft4Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft4Validator, {"pattern": _pattern, "propertyNames": _property_names}
)


def validate_against_schema(schema: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
    """Validate with draft-04 semantics; all violations are reported, sorted by path."""
    validator = _Draft4Validator(schema)
    errors = sorted(validator.iter_errors(parameters), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        causes = "; ".join(_describe(e) for e in errors)
        raise InvalidParametersError(f"while validating input parameters: {causes}")


# --- semantic rules -----------------------------------------------------------------------------------


def _check_autoscaler(minimum: Any, maximum: Any, where: str) -> None:
    if isinstance(minimum, int) and isinstance(maximum, int) and minimum > maximum:
        raise InvalidParametersError(
            f"{where}autoScalerMax {maximum} should be larger than or equal to autoScalerMin {minimum}"
        )


def _network(value: Any, key: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise InvalidParametersError(f"networking.{key}: {value!r} is not a valid CIDR") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise InvalidParametersError(f"networking.{key}: {value!r} must be an IPv4 CIDR")
    if str(network) != value:
        raise InvalidParametersError(f"networking.{key}: {value!r} is not canonical, use {network}")
    return network


def check_networking(networking: Mapping[str, Any], provider: Provider, policy: RegionPolicy) -> None:
    """Canonical IPv4 CIDRs, nodes /23 or wider, no overlap with seeds or each other."""
    given = {
        "nodes": networking.get("nodes", DEFAULT_NODES_CIDR),
        "pods": networking.get("pods", DEFAULT_PODS_CIDR),
        "services": networking.get("services", DEFAULT_SERVICES_CIDR),
    }
    networks = {key: _network(value, key) for key, value in given.items()}
    if networks["nodes"].prefixlen > MAX_NODES_PREFIX:
        raise InvalidParametersError(
            f"networking.nodes: the prefix of {given['nodes']} is longer than /{MAX_NODES_PREFIX}"
        )
    for key, network in networks.items():
        for seed in _SEED_NETWORKS:
            if network.overlaps(seed):
                raise InvalidParametersError(
                    f"networking.{key}: {network} overlaps the Gardener seed range {seed}"
                )
    keys = list(networks)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            if networks[first].overlaps(networks[second]):
                raise InvalidParametersError(
                    f"networking.{first} {networks[first]} overlaps networking.{second} {networks[second]}"
                )
    if networking.get("dualStack") and not policy.provider_config(provider).dual_stack:
        raise InvalidParametersError(f"networking.dualStack: not supported on {provider.keb_name}")


def _check_oidc_entry(entry: Mapping[str, Any], where: str) -> None:
    issuer = entry.get("issuerURL")
    if issuer:
        parsed = urllib.parse.urlsplit(str(issuer))
        if parsed.scheme != "https" or not parsed.hostname:
            raise InvalidParametersError(f"{where}.issuerURL: must be an https URL")
        if parsed.fragment or parsed.query or parsed.username or parsed.password:
            raise InvalidParametersError(
                f"{where}.issuerURL: must not contain a query, fragment or user info"
            )
    algorithms = entry.get("signingAlgs") or []
    unknown = [alg for alg in algorithms if alg not in SIGNING_ALGORITHMS]
    if unknown:
        raise InvalidParametersError(
            f"{where}.signingAlgs: unsupported {', '.join(map(str, unknown))}; "
            f"allowed are {', '.join(SIGNING_ALGORITHMS)}"
        )
    jwks = entry.get("encodedJwksArray")
    if jwks and jwks != "-":
        try:
            base64.b64decode(str(jwks), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParametersError(f"{where}.encodedJwksArray: must be base64 or '-'") from None


def check_oidc(oidc: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> None:
    """Issuer URLs, signing algorithms and JWKS encoding; an update may not switch list and object form."""
    if "list" in oidc:
        for index, entry in enumerate(oidc.get("list") or []):
            _check_oidc_entry(entry, f"oidc.list[{index}]")
    else:
        _check_oidc_entry(oidc, "oidc")
    if previous is not None and ("list" in previous) != ("list" in oidc):
        raise InvalidParametersError(
            "oidc: the list and the object form cannot be mixed; keep the form in use"
        )


def check_worker_pools(
    pools: Iterable[Mapping[str, Any]],
    *,
    ha_supported: bool,
    zones_in_region: int,
    machine_available: Any,
    previous: Iterable[Mapping[str, Any]] = (),
) -> None:
    """Unique names, HA pools with three zones and at least three nodes, immutable ``haZones``."""
    seen: set[str] = set()
    before = {p.get("name"): p for p in previous}
    for pool in pools:
        name = str(pool.get("name"))
        where = f"additionalWorkerNodePools[{name}]"
        if name in seen:
            raise InvalidParametersError(f"additionalWorkerNodePools: the name {name!r} is used twice")
        seen.add(name)
        ha = bool(pool.get("haZones", True)) and ha_supported
        minimum, maximum = pool.get("autoScalerMin", 3), pool.get("autoScalerMax", 20)
        _check_autoscaler(minimum, maximum, f"{where}: ")
        if ha and isinstance(minimum, int) and minimum < HA_MIN_NODES:
            raise InvalidParametersError(
                f"{where}: autoScalerMin must be at least {HA_MIN_NODES} when haZones is true"
            )
        if ha and zones_in_region < HA_ZONES:
            raise InvalidParametersError(
                f"{where}: haZones needs {HA_ZONES} zones, the region has {zones_in_region}"
            )
        machine = pool.get("machineType")
        if machine is not None and not machine_available(str(machine)):
            raise InvalidParametersError(f"{where}: machine type {machine} is not available in this region")
        taints = [(t.get("key"), t.get("effect")) for t in pool.get("taints") or [] if isinstance(t, Mapping)]
        repeated = {taint for taint in taints if taints.count(taint) > 1}
        if repeated:
            key, effect = sorted(repeated, key=str)[0]
            raise InvalidParametersError(f"{where}: the taint {key}:{effect} is given twice")
        old = before.get(name)
        if old is not None and bool(old.get("haZones", True)) != bool(pool.get("haZones", True)):
            raise InvalidParametersError(f"{where}: haZones cannot be changed")
        if old is not None and old.get("machineType") != machine:
            raise InvalidParametersError(f"{where}: machineType cannot be changed")


def check_trial_parameters(parameters: Mapping[str, Any]) -> None:
    """Trial takes an abstract ``region`` and a ``provider``, neither of them in its schema."""
    region = parameters.get("region")
    if region not in (None, "") and region not in TRIAL_REGIONS:
        raise InvalidParametersError(f"region: {region!r} is not one of {', '.join(TRIAL_REGIONS)}")
    provider = parameters.get("provider")
    if provider is not None:
        try:
            Provider.from_trial_parameter(str(provider))
        except ValueError:
            raise InvalidParametersError(f"provider: {provider!r} is not one of AWS, Azure, GCP") from None


def check_semantics(
    *,
    policy: RegionPolicy,
    plan: Plan,
    provider: Provider,
    cluster_region: str,
    parameters: Mapping[str, Any],
    previous: Mapping[str, Any] | None = None,
) -> None:
    """Rules beyond the schema. ``previous`` holds the instance's parameters on update."""
    provider_config = policy.provider_config(provider)
    bounds = plan.autoscaler
    if bounds is not None:
        base = previous or {}
        minimum = parameters.get("autoScalerMin", base.get("autoScalerMin", bounds.default_min))
        maximum = parameters.get("autoScalerMax", base.get("autoScalerMax", bounds.max_when_unset))
        _check_autoscaler(minimum, maximum, "")
    machine = parameters.get("machineType")
    if machine is not None and not provider_config.machine_available_in(str(machine), cluster_region):
        raise InvalidParametersError(f"machineType: {machine} is not available in region {cluster_region}")
    if "networking" in parameters and isinstance(parameters["networking"], Mapping):
        check_networking(parameters["networking"], provider, policy)
    if isinstance(parameters.get("oidc"), Mapping):
        prior = previous.get("oidc") if previous else None
        check_oidc(parameters["oidc"], prior if isinstance(prior, Mapping) else None)
    pools = parameters.get("additionalWorkerNodePools")
    if isinstance(pools, list):
        check_worker_pools(
            pools,
            ha_supported=plan.kind is PlanKind.STANDARD,
            zones_in_region=len(provider_config.zones(cluster_region)),
            machine_available=lambda m: provider_config.machine_available_in(m, cluster_region),
            previous=(previous or {}).get("additionalWorkerNodePools") or (),
        )


def check_internal_only_machines(config: PlanConfig | None, parameters: Mapping[str, Any]) -> None:
    """The plan's ``internalOnlyMachines`` are refused to external accounts, with KEB's messages."""
    if config is None or not config.internal_only_machines:
        return
    machine = parameters.get("machineType")
    if isinstance(machine, str) and machine and config.is_internal_only(machine):
        raise InvalidParametersError(
            f"Machine type {machine} is not available for your account. For details, please contact your "
            "sales representative."
        )
    used: dict[str, list[str]] = {}
    for pool in parameters.get("additionalWorkerNodePools") or []:
        pool_machine = str(pool.get("machineType", "")) if isinstance(pool, Mapping) else ""
        if pool_machine and config.is_internal_only(pool_machine):
            used.setdefault(pool_machine, []).append(str(pool.get("name", "")))
    if used:
        listed = ", ".join(
            f"{m} (used in worker node pools: {', '.join(names)})" for m, names in used.items()
        )
        raise InvalidParametersError(
            f"The following machine types: {listed} are not available for your account. For details, "
            "please contact your sales representative."
        )


def check_audit_log_access_update(
    plan: Plan, parameters: Mapping[str, Any], previous: Mapping[str, Any]
) -> None:
    """KEB's update rules for ``auditLogAccess``: not for trial and free, and never switched off again."""
    value = parameters.get("auditLogAccess")
    if value is None:
        return
    if plan.kind in (PlanKind.TRIAL, PlanKind.FREE):
        raise InvalidParametersError(f"Audit Log Access is not available for {plan.name} plan.")
    if value is False and previous.get("auditLogAccess") is True:
        raise InvalidParametersError("Audit Log Access cannot be disabled once enabled.")


INGRESS_FILTERING_NOT_AVAILABLE = "ingress filtering option is not available"


def check_ingress_filtering(
    plan: Plan, parameters: Mapping[str, Any], listed_plans: frozenset[str], external: bool
) -> None:
    """KEB's ``validateIngressFiltering``: only for the listed plans, and never on for external accounts."""
    value = parameters.get("ingressFiltering")
    if value is None:
        return
    if plan.name not in listed_plans or (external and value is True):
        raise InvalidParametersError(INGRESS_FILTERING_NOT_AVAILABLE)


GVISOR_NOT_AVAILABLE = (
    "The gvisor parameter is not available for your account. Please contact us for further assistance."
)


def _gvisor_on(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("enabled") is True


def gvisor_requested(parameters: Mapping[str, Any]) -> bool:
    """``gvisor.enabled`` on the main worker or on any additional worker pool."""
    pools = parameters.get("additionalWorkerNodePools")
    pool_list = pools if isinstance(pools, list) else []
    return _gvisor_on(parameters.get("gvisor")) or any(
        isinstance(pool, Mapping) and _gvisor_on(pool.get("gvisor")) for pool in pool_list
    )


def check_gvisor(parameters: Mapping[str, Any], global_account_id: str, allowed: frozenset[str]) -> None:
    """KEB's ``validateGvisorAccess``: gVisor only for the global accounts of the gVisor whitelist."""
    if gvisor_requested(parameters) and global_account_id not in allowed:
        raise InvalidParametersError(GVISOR_NOT_AVAILABLE)


ACL_NOT_SUPPORTED = "AccessControlList is not supported for this plan"


def check_access_control_list(plan: Plan, parameters: Mapping[str, Any], acl_plans: frozenset[str]) -> None:
    """KEB's ``validateACL``: only for the ACL plans; every allowed CIDR canonical (IPv4 or IPv6)."""
    acl = parameters.get("accessControlList")
    if acl is None:
        return
    if plan.name not in acl_plans:
        raise InvalidParametersError(ACL_NOT_SUPPORTED)
    cidrs = acl.get("allowedCIDRs") if isinstance(acl, Mapping) else None
    for cidr in cidrs if isinstance(cidrs, list) else []:
        text = str(cidr)
        if "/" not in text:
            raise InvalidParametersError(f"accessControlList.allowedCIDRs: invalid CIDR address: {text}")
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise InvalidParametersError(
                    f"accessControlList.allowedCIDRs: invalid CIDR address: {text}"
                ) from None
            address = text.split("/", maxsplit=1)[0]
            raise InvalidParametersError(
                f"accessControlList.allowedCIDRs: {address} must be valid canonical CIDR"
            ) from None


def check_additional_volume_size(
    plan: Plan, parameters: Mapping[str, Any], listed_plans: frozenset[str]
) -> None:
    """KEB's ``additionalVolumeSizeGi`` rules: never negative, only for the listed plans.

    KEB checks the main worker's value; keb also refuses a worker pool's value for a plan not listed, which
    KEB would apply although its schema does not offer it.
    """
    values = [("additionalVolumeSizeGi", parameters.get("additionalVolumeSizeGi"))]
    pools = parameters.get("additionalWorkerNodePools")
    for pool in pools if isinstance(pools, list) else []:
        if isinstance(pool, Mapping):
            where = f"additionalWorkerNodePools[{pool.get('name')}].additionalVolumeSizeGi"
            values.append((where, pool.get("additionalVolumeSizeGi")))
    for where, value in values:
        if value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise InvalidParametersError(f"{where} must be >= 0, got {value}")
        if plan.name not in listed_plans:
            raise InvalidParametersError(f"additionalVolumeSizeGi is not available for plan {plan.name}")


def check_colocation(
    provider: Provider, region: str, plan_regions: Iterable[str], seed_regions: Iterable[str]
) -> None:
    """KEB's ``validateColocationRegion``: the region must be one of the plan's regions that has a seed."""
    offered = set(plan_regions)
    supported = [r for r in seed_regions if r in offered]
    if region not in supported:
        raise InvalidParametersError(
            f"cannot colocate the control plane in the {region} region. Provider {provider.value} can have "
            f"control planes in the following regions: [{' '.join(supported)}]"
        )
