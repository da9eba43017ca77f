"""Provisioning and update parameters: what the broker accepts, and how it names what it refuses."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from keb_domain.errors import InvalidParametersError, InvalidRequestError
from keb_domain.model.instance import Instance
from keb_domain.model.parameters import (
    MAX_PARAMETERS_SIZE,
    check_networking,
    check_oidc,
    check_size,
    check_worker_pools,
    validate_against_schema,
)
from keb_domain.model.plans import PLANS_BY_NAME, Provider
from keb_domain.model.schemas import SEED_CIDRS, SIGNING_ALGORITHMS, SchemaOptions, plan_schemas
from tests.support import AWS, AZURE, TRIAL, context
from tests.unit.harness import default_config, make_core, provision_command, update_command

POLICY = default_config().policy
AWS_PLAN = PLANS_BY_NAME["aws"]
AWS_REGIONS = POLICY.allowed_regions(AWS_PLAN, "cf-eu10")
AWS_MACHINES = POLICY.plans["aws"].regular_machines
BASE = {"name": "my-cluster", "region": "eu-central-1"}
POOL = {"name": "pool-1", "machineType": "m6i.large", "haZones": True, "autoScalerMin": 3, "autoScalerMax": 5}
OIDC_ENTRY = {
    "clientID": "client",
    "issuerURL": "https://issuer.example.com",
    "groupsClaim": "groups",
    "groupsPrefix": "-",
    "usernameClaim": "sub",
    "usernamePrefix": "-",
    "signingAlgs": ["RS256"],
}


async def provision(
    parameters: Mapping[str, Any],
    plan_id: str = AWS,
    platform_region: str = "cf-eu10",
    ctx: Mapping[str, Any] | None = None,
) -> Instance:
    """Provision on a fresh broker core and return the stored instance."""
    core = make_core()
    await core.instances.provision(
        provision_command(
            "inst-1", plan_id, parameters, platform_region=platform_region, ctx=ctx or context()
        )
    )
    return core.instance("inst-1")


async def refusal(
    parameters: Mapping[str, Any],
    plan_id: str = AWS,
    platform_region: str = "cf-eu10",
    ctx: Mapping[str, Any] | None = None,
) -> str:
    """The description of the InvalidParametersError a provisioning request is refused with."""
    with pytest.raises(InvalidParametersError) as caught:
        await provision(parameters, plan_id, platform_region, ctx)
    return caught.value.description


# --- valid parameters pass --------------------------------------------------------------------------

# 10.x.0.0/p with x clear of the seeds (10.64/11, 10.242-243, 10.254) and of the default pods/services.
FREE_SECOND_OCTETS = [x for x in range(256) if not (64 <= x <= 111 or x in (242, 243, 254))]
nodes_cidrs = st.builds(
    lambda octet, prefix: f"10.{octet}.0.0/{prefix}", st.sampled_from(FREE_SECOND_OCTETS), st.integers(16, 23)
)
issuers = st.builds(
    lambda host, path: f"https://{host}.example.com{path}",
    st.from_regex(r"\A[a-z][a-z0-9]{0,10}\Z"),
    st.sampled_from(["", "/", "/oauth2", "/realms/kyma"]),
)
oidc_entries = st.fixed_dictionaries(
    {
        "clientID": st.from_regex(r"\A[a-z0-9-]{1,12}\Z"),
        "issuerURL": issuers,
        "groupsClaim": st.sampled_from(["groups", "roles"]),
        "groupsPrefix": st.sampled_from(["-", "oidc:"]),
        "usernameClaim": st.sampled_from(["sub", "email"]),
        "usernamePrefix": st.sampled_from(["-", "oidc:"]),
        "signingAlgs": st.lists(st.sampled_from(SIGNING_ALGORITHMS), min_size=1, max_size=3, unique=True),
    },
    optional={"requiredClaims": st.lists(st.from_regex(r"\A[a-z]{1,5}=[a-z0-9]{1,5}\Z"), max_size=2)},
)
oidc_objects = st.fixed_dictionaries(
    {"clientID": st.from_regex(r"\A[a-z0-9-]{1,12}\Z"), "issuerURL": issuers},
    optional={"signingAlgs": st.lists(st.sampled_from(SIGNING_ALGORITHMS), min_size=1, unique=True)},
)
oidc_values = st.one_of(
    oidc_objects,
    st.builds(lambda entries: {"list": entries}, st.lists(oidc_entries, max_size=2, unique_by=str)),
)
modules = st.one_of(
    st.fixed_dictionaries({"default": st.booleans()}),
    st.builds(
        lambda names: {"list": [{"name": name} for name in names]},
        st.lists(st.sampled_from(["istio", "api-gateway", "serverless", "keda"]), unique=True),
    ),
)


@st.composite
def worker_pools(draw: st.DrawFn) -> dict[str, Any]:
    ha = draw(st.booleans())
    minimum = draw(st.integers(3 if ha else 0, 300))
    maximum = draw(st.integers(max(minimum, 1), 300))
    machine = draw(st.sampled_from((*AWS_MACHINES, "c7i.large", "c7i.xlarge")))
    return {"machineType": machine, "haZones": ha, "autoScalerMin": minimum, "autoScalerMax": maximum}


@st.composite
def aws_parameters(draw: st.DrawFn) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "name": draw(st.from_regex(r"\A[a-zA-Z0-9-]{1,64}\Z")),
        "region": draw(st.sampled_from(AWS_REGIONS)),
    }
    # Either bound may be left out; the other is then checked against the default (3 and 20).
    minimum = draw(st.none() | st.integers(3, 300))
    maximum = draw(st.none() | st.integers(max(minimum or 3, 3), 300))
    if minimum is not None and (maximum is not None or minimum <= 20):
        parameters["autoScalerMin"] = minimum
    if maximum is not None:
        parameters["autoScalerMax"] = maximum
    optional: dict[str, st.SearchStrategy[Any]] = {
        "machineType": st.sampled_from(AWS_MACHINES),
        "oidc": oidc_values,
        "administrators": st.lists(st.emails(), max_size=3),
        "modules": modules,
        "networking": st.builds(lambda nodes: {"nodes": nodes}, nodes_cidrs),
        "additionalWorkerNodePools": st.lists(
            st.tuples(st.from_regex(r"\A[a-z][a-z0-9]{0,13}\Z"), worker_pools()),
            max_size=3,
            unique_by=lambda pair: pair[0],
        ).map(lambda pairs: [{"name": name, **pool} for name, pool in pairs]),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            parameters[key] = draw(strategy)
    return parameters


@given(aws_parameters())
async def test_generated_valid_aws_parameters_are_accepted(parameters: dict[str, Any]) -> None:
    """Any parameters within the aws schema and the semantic rules provision, stored as given."""
    instance = await provision(parameters)
    assert instance.parameters == parameters
    assert instance.cluster_region == parameters["region"]


# --- the schema: name, region, machine type, autoscaler ----------------------------------------------

not_a_name = st.one_of(
    st.text(min_size=1, max_size=70).filter(
        lambda s: not all(c.isascii() and (c.isalnum() or c == "-") for c in s)
    ),
    st.from_regex(r"\A[a-z]{65,80}\Z"),
    st.from_regex(r"\A[a-z-]{1,20}\n\Z"),
    st.just(""),
)


@given(not_a_name)
async def test_a_name_outside_the_pattern_or_length_is_refused_naming_name(name: str) -> None:
    """``name`` must match ^[a-zA-Z0-9-]*$ (ECMAScript ``$``: no trailing newline) and be 1-64 long."""
    assert "name:" in await refusal({**BASE, "name": name})


@given(st.text(max_size=20).filter(lambda region: region not in AWS_REGIONS))
async def test_a_region_outside_the_enum_is_refused_naming_region(region: str) -> None:
    """The aws region must be one of the enum for the platform region."""
    assert "region:" in await refusal({**BASE, "region": region})


async def test_a_region_offered_elsewhere_is_refused_under_an_eu_access_platform() -> None:
    """Under cf-eu11 only eu-central-1 is in the enum, so us-east-1 is refused."""
    assert "region:" in await refusal({**BASE, "region": "us-east-1"}, platform_region="cf-eu11")
    assert (await provision(BASE, platform_region="cf-eu11")).eu_access


@given(st.text(min_size=1, max_size=20).filter(lambda machine: machine not in AWS_MACHINES))
async def test_a_machine_type_not_offered_is_refused_naming_machine_type(machine: str) -> None:
    """``machineType`` must be one of the plan's regular machines (additional ones are for pools)."""
    assert "machineType:" in await refusal({**BASE, "machineType": machine})


async def test_an_additional_machine_type_is_refused_for_the_main_worker() -> None:
    """c7i machines exist only for additional worker pools."""
    assert "machineType:" in await refusal({**BASE, "machineType": "c7i.large"})


@given(st.integers(3, 300), st.integers(3, 300))
async def test_autoscaler_min_above_max_is_refused(minimum: int, maximum: int) -> None:
    """autoScalerMin may not exceed autoScalerMax; the message names both."""
    assume(minimum > maximum)
    message = await refusal({**BASE, "autoScalerMin": minimum, "autoScalerMax": maximum})
    assert "autoScalerMin" in message
    assert "autoScalerMax" in message


async def test_autoscaler_min_above_the_default_max_is_refused() -> None:
    """An autoScalerMin above the default maximum (20) needs an explicit autoScalerMax."""
    assert "autoScalerMin" in await refusal({**BASE, "autoScalerMin": 21})


@pytest.mark.parametrize(
    ("plan_id", "field", "value"),
    [
        (AWS, "autoScalerMin", 2),
        (AWS, "autoScalerMax", 301),
        (AWS, "autoScalerMax", 2),
        (AZURE, "autoScalerMin", 301),
    ],
)
async def test_autoscaler_bounds_are_enforced(plan_id: str, field: str, value: int) -> None:
    """Standard plans take 3..300 nodes."""
    params = {**BASE, "region": "westeurope" if plan_id == AZURE else "eu-central-1", field: value}
    assert f"{field}:" in await refusal(params, plan_id)


async def test_azure_lite_has_its_own_autoscaler_range() -> None:
    """azure_lite takes 2..40 nodes."""
    lite = PLANS_BY_NAME["azure_lite"].id
    base = {**BASE, "region": "westeurope"}
    assert (await provision({**base, "autoScalerMin": 2, "autoScalerMax": 40}, lite)).parameters[
        "autoScalerMax"
    ] == 40
    assert "autoScalerMax:" in await refusal({**base, "autoScalerMax": 41}, lite)


@pytest.mark.parametrize("field", ["name", "region"])
async def test_name_and_region_are_required(field: str) -> None:
    """``name`` and ``region`` are required on create."""
    params = {k: v for k, v in BASE.items() if k != field}
    assert repr(field) in await refusal(params)


# --- networking ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("networking", "field"),
    [
        ({"nodes": "10.250.0.1/16"}, "networking.nodes"),
        ({"nodes": "10.250.0.0/24"}, "networking.nodes"),
        ({"nodes": "not-a-cidr"}, "networking.nodes"),
        ({"nodes": "fd00::/64"}, "networking.nodes"),
        ({"nodes": "10.250.0.0/16", "pods": "10.96.0.1/13"}, "networking.pods"),
        ({"nodes": "10.250.0.0/16", "services": "fd00::/108"}, "networking.services"),
        ({"nodes": "10.96.0.0/16"}, "networking.nodes"),
        ({"nodes": "10.250.0.0/16", "services": "10.96.0.0/13"}, "networking.pods"),
        ({"nodes": "10.250.0.0/16", "pods": "10.250.0.0/20"}, "networking.nodes"),
        ({"nodes": "10.104.0.0/16"}, "networking.services"),
        ({"pods": "10.96.0.0/13"}, "networking"),
    ],
)
async def test_bad_networks_are_refused_naming_the_field(networking: dict[str, str], field: str) -> None:
    """Non-canonical, non-IPv4, too narrow, overlapping or incomplete networks name their field."""
    assert field in await refusal({**BASE, "networking": networking})


@pytest.mark.parametrize("seed", SEED_CIDRS)
@pytest.mark.parametrize("field", ["pods", "services"])
async def test_every_gardener_seed_range_is_off_limits(seed: str, field: str) -> None:
    """A network equal to a Gardener seed range is refused, naming the field and the seed range."""
    message = await refusal({**BASE, "networking": {"nodes": "10.250.0.0/16", field: seed}})
    assert f"networking.{field}" in message
    assert seed in message


@given(st.sampled_from(SEED_CIDRS), st.data())
def test_any_network_touching_a_seed_range_is_refused(seed: str, data: st.DataObject) -> None:
    """Every IPv4 network that shares an address with a seed range is refused."""
    seed_network = ipaddress.ip_network(seed)
    address = ipaddress.ip_address(
        data.draw(st.integers(int(seed_network.network_address), int(seed_network.broadcast_address)))
    )
    prefix = data.draw(st.integers(8, 23))
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    with pytest.raises(InvalidParametersError, match=r"networking\.nodes"):
        check_networking({"nodes": str(network)}, Provider.AWS, POLICY)


async def test_dual_stack_is_refused_where_the_provider_lacks_it() -> None:
    """Azure has no dual stack; AWS has."""
    networking = {"nodes": "10.250.0.0/16", "dualStack": True}
    message = await refusal({**BASE, "region": "westeurope", "networking": networking}, AZURE)
    assert "networking.dualStack" in message
    assert (await provision({**BASE, "networking": networking})).parameters["networking"]["dualStack"]


# --- OIDC ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issuer", "reason"),
    [
        ("http://issuer.example.com", "https"),
        ("issuer.example.com", "https"),
        ("https://issuer.example.com?tenant=1", "query"),
        ("https://issuer.example.com#frag", "fragment"),
        ("https://user:secret@issuer.example.com", "user info"),
    ],
)
@pytest.mark.parametrize("form", ["object", "list"])
async def test_bad_issuer_urls_are_refused_in_both_forms(issuer: str, reason: str, form: str) -> None:
    """The issuer must be an https URL without query, fragment or user info."""
    entry = {**OIDC_ENTRY, "issuerURL": issuer}
    oidc = {"list": [entry]} if form == "list" else entry
    message = await refusal({**BASE, "oidc": oidc})
    assert ("oidc.list[0].issuerURL" if form == "list" else "oidc.issuerURL") in message
    assert reason in message


@pytest.mark.parametrize("form", ["object", "list"])
async def test_an_unknown_signing_algorithm_is_refused(form: str) -> None:
    """signingAlgs must be JOSE asymmetric algorithms (RS/ES/PS 256-512)."""
    entry = {**OIDC_ENTRY, "signingAlgs": ["RS256", "HS256"]}
    message = await refusal({**BASE, "oidc": {"list": [entry]} if form == "list" else entry})
    assert "signingAlgs" in message
    assert "HS256" in message


@pytest.mark.parametrize("claim", ["no-equals", "a=b=c", "=b"])
@pytest.mark.parametrize("form", ["object", "list"])
async def test_malformed_required_claims_are_refused(claim: str, form: str) -> None:
    """requiredClaims entries are ``key=value``."""
    entry = {**OIDC_ENTRY, "requiredClaims": [claim]}
    assert "oidc" in await refusal({**BASE, "oidc": {"list": [entry]} if form == "list" else entry})


async def test_the_object_form_may_clear_required_claims_with_a_dash() -> None:
    """Only the legacy object form accepts ``-`` (clear the claims)."""
    entry = {**OIDC_ENTRY, "requiredClaims": ["-"]}
    assert (await provision({**BASE, "oidc": entry})).parameters["oidc"]["requiredClaims"] == ["-"]
    assert "oidc" in await refusal({**BASE, "oidc": {"list": [entry]}})


@pytest.mark.parametrize(
    "oidc",
    [
        {**OIDC_ENTRY, "list": [OIDC_ENTRY]},
        {"list": [{"clientID": "client"}]},
        {"issuerURL": "https://issuer.example.com"},
        {"clientID": "client", "issuerURL": "https://issuer.example.com", "unknown": 1},
    ],
)
async def test_oidc_that_fits_neither_form_is_refused_by_one_of(oidc: dict[str, Any]) -> None:
    """Both forms at once, an incomplete list entry or an object without clientID fail oneOf."""
    assert "oidc" in await refusal({**BASE, "oidc": oidc})


async def test_an_empty_oidc_object_means_the_default() -> None:
    """``oidc: {}`` fits the list form (no list given), as in KEB's schema, and is accepted."""
    assert (await provision({**BASE, "oidc": {}})).parameters["oidc"] == {}


async def test_a_jwks_array_must_be_base64() -> None:
    """encodedJwksArray is base64 or ``-``."""
    entry = {**OIDC_ENTRY, "encodedJwksArray": "not base64!"}
    assert "encodedJwksArray" in await refusal({**BASE, "oidc": {"list": [entry]}})


@pytest.mark.parametrize(
    ("before", "after"),
    [({"list": [OIDC_ENTRY]}, OIDC_ENTRY), (OIDC_ENTRY, {"list": [OIDC_ENTRY]})],
)
async def test_an_update_may_not_switch_the_oidc_form(before: dict[str, Any], after: dict[str, Any]) -> None:
    """An instance keeps the OIDC form it was provisioned with."""
    core = make_core()
    await core.instances.provision(provision_command(parameters={**BASE, "oidc": before}))
    with pytest.raises(InvalidParametersError, match="oidc: the list and the object form cannot be mixed"):
        await core.instances.update(update_command(parameters={"oidc": after}))
    assert core.instance("inst-1").parameters["oidc"] == before


def test_the_oidc_form_check_is_also_a_plain_function() -> None:
    """check_oidc refuses a switch from object to list against the previous value."""
    check_oidc({"list": []}, previous={"list": [OIDC_ENTRY]})
    with pytest.raises(InvalidParametersError, match="oidc"):
        check_oidc({"list": []}, previous=OIDC_ENTRY)


# --- modules ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"default": True, "list": []},
        {"channel": "fast"},
        {"list": [{"name": ""}]},
        {"list": [{"name": "istio", "channel": "slow"}]},
        {"list": [{"name": "istio", "customResourcePolicy": "Delete"}]},
    ],
)
async def test_modules_that_fit_neither_or_both_forms_are_refused(value: dict[str, Any]) -> None:
    """modules is oneOf default/custom: ``{}`` fits both and ``default`` with ``list`` fits neither."""
    assert "modules" in await refusal({**BASE, "modules": value})


@pytest.mark.parametrize(
    "value",
    [
        {"default": True},
        {"default": False, "channel": "fast"},
        {"list": []},
        {
            "channel": "regular",
            "list": [{"name": "istio", "channel": "fast", "customResourcePolicy": "Ignore"}],
        },
    ],
)
async def test_modules_in_one_form_are_accepted(value: dict[str, Any]) -> None:
    """Each documented form of modules provisions."""
    assert (await provision({**BASE, "modules": value})).parameters["modules"] == value


# --- additional worker node pools ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pools", "expected"),
    [
        ([POOL, {**POOL, "autoScalerMax": 6}], "'pool-1' is used twice"),
        ([{**POOL, "name": "cpu-worker-0"}], "additionalWorkerNodePools.0.name"),
        ([{**POOL, "name": "Pool"}], "additionalWorkerNodePools.0.name"),
        ([{**POOL, "name": "a" * 16}], "additionalWorkerNodePools.0.name"),
        ([{**POOL, "autoScalerMin": 2}], "autoScalerMin must be at least 3"),
        ([{**POOL, "autoScalerMin": 6, "autoScalerMax": 5}], "additionalWorkerNodePools[pool-1]"),
        ([{**POOL, "machineType": "m7.huge"}], "additionalWorkerNodePools.0.machineType"),
        ([{**POOL, "machineType": "g6.xlarge"}], "not available in this region"),
        ([{k: v for k, v in POOL.items() if k != "haZones"}], "additionalWorkerNodePools.0"),
    ],
)
async def test_bad_worker_pools_are_refused_naming_the_pool(
    pools: list[dict[str, Any]], expected: str
) -> None:
    """Pool names are unique, valid and not reserved; HA pools need 3..max nodes; machines must exist."""
    assert expected in await refusal({**BASE, "region": "ca-central-1", "additionalWorkerNodePools": pools})


@pytest.mark.parametrize("key", ["labels", "annotations"])
@pytest.mark.parametrize("name", ["bad key!", "-leading", "a/b/c", "x" * 64])
async def test_pool_label_and_annotation_keys_must_be_qualified_names(key: str, name: str) -> None:
    """Label and annotation keys follow Kubernetes' qualified-name rule (schema ``propertyNames``)."""
    pools = [{**POOL, key: {name: "v"}}]
    message = await refusal({**BASE, "additionalWorkerNodePools": pools})
    assert f"additionalWorkerNodePools.0.{key}" in message
    assert repr(name) in message


async def test_qualified_label_keys_and_short_values_are_accepted() -> None:
    """A prefixed key and a value of up to 63 characters pass."""
    pools = [{**POOL, "labels": {"example.com/team": "a" * 63}, "annotations": {"note": "free text!"}}]
    assert (await provision({**BASE, "additionalWorkerNodePools": pools})).parameters[
        "additionalWorkerNodePools"
    ] == pools


async def test_a_label_value_longer_than_63_characters_is_refused() -> None:
    """Label values are at most 63 characters."""
    pools = [{**POOL, "labels": {"team": "a" * 64}}]
    assert "additionalWorkerNodePools.0.labels.team" in await refusal(
        {**BASE, "additionalWorkerNodePools": pools}
    )


async def test_a_non_ha_pool_may_run_a_single_node() -> None:
    """Without haZones a pool may have fewer than 3 nodes."""
    pools = [{**POOL, "haZones": False, "autoScalerMin": 0, "autoScalerMax": 1}]
    assert (await provision({**BASE, "additionalWorkerNodePools": pools})).parameters[
        "additionalWorkerNodePools"
    ] == pools


async def test_an_ha_pool_needs_a_region_with_three_zones() -> None:
    """sap-converged-cloud eu-de-2 has two zones, too few for an HA pool."""
    scc = PLANS_BY_NAME["sap-converged-cloud"].id
    pools = [{**POOL, "machineType": "g_c4_m16"}]
    message = await refusal({**BASE, "region": "eu-de-2", "additionalWorkerNodePools": pools}, scc)
    assert "haZones needs 3 zones" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"haZones": False}, "haZones cannot be changed"),
        ({"machineType": "m6i.xlarge"}, "machineType cannot"),
    ],
)
async def test_an_update_may_not_change_a_pools_ha_zones_or_machine(
    change: dict[str, Any], expected: str
) -> None:
    """haZones and machineType of an existing pool are immutable."""
    core = make_core()
    await core.instances.provision(
        provision_command(parameters={**BASE, "additionalWorkerNodePools": [POOL]})
    )
    with pytest.raises(InvalidParametersError, match=expected):
        await core.instances.update(
            update_command(parameters={"additionalWorkerNodePools": [{**POOL, **change}]})
        )


def test_pool_rules_as_a_plain_function() -> None:
    """check_worker_pools allows new pools and autoscaler changes of existing ones."""
    check_worker_pools(
        [{**POOL, "autoScalerMax": 9}, {**POOL, "name": "pool-2"}],
        ha_supported=True,
        zones_in_region=3,
        machine_available=lambda machine: True,
        previous=[POOL],
    )
    with pytest.raises(InvalidParametersError, match="haZones needs 3 zones"):
        check_worker_pools([POOL], ha_supported=True, zones_in_region=2, machine_available=lambda m: True)


# --- size and context ---------------------------------------------------------------------------------


def padded(size: int) -> dict[str, Any]:
    """Parameters whose compact JSON is exactly ``size`` characters."""
    params: dict[str, Any] = {**BASE, "padding": ""}
    overhead = len(json.dumps(params, separators=(",", ":")))
    params["padding"] = "x" * (size - overhead)
    return params


async def test_parameters_up_to_64_kib_are_accepted_and_beyond_are_refused() -> None:
    """keb-reference §1.4: above 64 KiB the request is refused as too large."""
    assert (await provision(padded(MAX_PARAMETERS_SIZE))).cluster_name == "my-cluster"
    assert "request parameters too large" in await refusal(padded(MAX_PARAMETERS_SIZE + 1))


async def test_an_update_beyond_64_kib_is_refused() -> None:
    """The size limit holds for updates too."""
    core = make_core()
    await core.instances.provision(provision_command())
    with pytest.raises(InvalidParametersError, match="too large"):
        await core.instances.update(
            update_command(parameters={"administrators": ["a" * MAX_PARAMETERS_SIZE]})
        )


@pytest.mark.parametrize("field", ["globalaccount_id", "subaccount_id", "user_id"])
@pytest.mark.parametrize("value", ["", "   ", None])
async def test_empty_context_fields_are_refused_naming_them(field: str, value: str | None) -> None:
    """Global account, subaccount and user must be given (keb-reference §1.4)."""
    ctx = context()
    if value is None:
        del ctx[field]
    else:
        ctx[field] = value
    with pytest.raises(InvalidRequestError, match=f"context.{field}"):
        await provision(BASE, ctx=ctx)


async def test_the_user_id_is_stored_lower_cased() -> None:
    """KEB lower-cases user_id before storing it."""
    assert (await provision(BASE, ctx=context(user="Jane.Doe@Example.COM"))).user_id == "jane.doe@example.com"


# --- trial --------------------------------------------------------------------------------------------


async def test_trial_silently_drops_machine_type_and_autoscaler() -> None:
    """keb-reference §1.4 step 1: even values no schema would accept are dropped, not refused."""
    instance = await provision(
        {"name": "trial-1", "machineType": "huge", "autoScalerMin": 99, "autoScalerMax": 1}, TRIAL
    )
    assert instance.parameters == {"name": "trial-1"}


@given(st.text(max_size=10).filter(lambda region: region not in ("", "europe", "us", "asia")))
async def test_a_trial_region_must_be_europe_us_or_asia(region: str) -> None:
    """Trial takes an abstract region only."""
    assert "region:" in await refusal({"name": "trial-1", "region": region}, TRIAL, platform_region="cf-xy42")


@given(st.text(max_size=10).filter(lambda provider: provider not in ("AWS", "Azure", "GCP")))
async def test_a_trial_provider_must_be_aws_azure_or_gcp(provider: str) -> None:
    """The trial ``provider`` parameter is case-sensitive: AWS, Azure or GCP."""
    assert "provider:" in await refusal({"name": "trial-1", "provider": provider}, TRIAL)


@pytest.mark.parametrize(
    ("parameters", "platform_region", "provider", "cluster_region"),
    [
        ({"name": "t"}, "cf-eu10", Provider.AZURE, "westeurope"),
        ({"name": "t", "provider": "AWS", "region": "asia"}, "cf-xy42", Provider.AWS, "ap-southeast-1"),
        ({"name": "t", "provider": "AWS", "region": "asia"}, "cf-us10", Provider.AWS, "us-east-1"),
        ({"name": "t", "provider": "GCP"}, "cf-xy42", Provider.GCP, "europe-west3"),
        ({"name": "t", "provider": "AWS", "region": "us"}, "cf-eu11", Provider.AWS, "eu-central-1"),
        ({"name": "t"}, "cf-ch20", Provider.AZURE, "switzerlandnorth"),
    ],
)
async def test_trial_provider_and_cluster_region(
    parameters: dict[str, Any], platform_region: str, provider: Provider, cluster_region: str
) -> None:
    """Default provider Azure; platform mapping over ``region``; EU Access forcing for AWS and Azure."""
    instance = await provision(parameters, TRIAL, platform_region)
    assert (instance.provider, instance.cluster_region) == (provider, cluster_region)
    assert instance.eu_access == (platform_region in ("cf-eu11", "cf-ch20"))


async def test_a_trial_name_is_still_validated() -> None:
    """Trial's schema still validates name (e.g. its pattern) after the dropped fields are gone."""
    assert "name:" in await refusal({"name": "bad name"}, TRIAL)


# --- plan and service -------------------------------------------------------------------------------


async def test_a_plan_missing_from_the_platform_regions_catalog_is_refused() -> None:
    """Azure is not offered under cf-eu11, so provisioning it there names plan_id."""
    core = make_core()
    command = provision_command(
        "inst-1", AZURE, {**BASE, "region": "switzerlandnorth"}, platform_region="cf-eu11"
    )
    with pytest.raises(InvalidRequestError, match="plan_id"):
        await core.instances.provision(command)
    assert core.storage.instances == {}


async def test_free_on_a_gcp_platform_is_refused() -> None:
    """Free exists only on AWS and Azure platforms (keb-reference §1.4 step 2)."""
    core = make_core()
    command = provision_command(
        "inst-1", PLANS_BY_NAME["free"].id, {**BASE, "region": "europe-west3"}, platform_region="cf-sa30"
    )
    with pytest.raises(InvalidRequestError, match="plan_id"):
        await core.instances.provision(command)


def test_the_size_limit_counts_utf8_bytes_not_escaped_characters() -> None:
    """64 KiB of UTF-8: a name of 30,000 two-byte characters (60,000 bytes) fits, escaped it would not."""
    check_size({"name": "é" * 30_000})
    with pytest.raises(InvalidParametersError, match="too large"):
        check_size({"name": "é" * 33_000})


def test_a_taint_given_twice_in_a_pool_is_refused() -> None:
    """keb-reference §2.3: no duplicate key and effect among a pool's taints."""
    pool = {
        "name": "p1",
        "machineType": "m6i.large",
        "haZones": False,
        "autoScalerMin": 1,
        "autoScalerMax": 2,
        "taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}],
    }
    with pytest.raises(InvalidParametersError, match="the taint k:NoSchedule is given twice"):
        check_worker_pools([pool], ha_supported=True, zones_in_region=3, machine_available=lambda _: True)


def test_the_same_taint_key_with_two_effects_is_fine() -> None:
    """A key may repeat with another effect."""
    pool = {
        "name": "p1",
        "machineType": "m6i.large",
        "haZones": False,
        "autoScalerMin": 1,
        "autoScalerMax": 2,
        "taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoExecute"}],
    }
    check_worker_pools([pool], ha_supported=True, zones_in_region=3, machine_available=lambda _: True)


def test_a_oneof_mismatch_names_the_forms_and_the_field_the_user_missed() -> None:
    """An OIDC list entry without issuerURL says so, instead of complaining about the other form."""
    create, _ = aws_schemas()
    with pytest.raises(InvalidParametersError) as refused:
        validate_against_schema(
            create, {"name": "a", "region": "eu-central-1", "oidc": {"list": [{"clientID": "x"}]}}
        )
    assert "oidc: does not match any form (List or Object (not recommended))" in refused.value.description
    assert "oidc.list.0: 'issuerURL' is a required property" in refused.value.description


def test_a_value_matching_two_forms_says_so_without_dumping_the_schema() -> None:
    """modules {} fits both forms of the oneOf: the message names the forms and stays short."""
    create, _ = aws_schemas()
    with pytest.raises(InvalidParametersError) as refused:
        validate_against_schema(create, {"name": "a", "region": "eu-central-1", "modules": {}})
    assert refused.value.description.endswith(
        "modules: matches more than one form (Default or Custom); it must match exactly one"
    )


def aws_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    schemas = plan_schemas(default_config().policy, PLANS_BY_NAME["aws"], "cf-eu10", SchemaOptions())
    assert schemas is not None
    return schemas
