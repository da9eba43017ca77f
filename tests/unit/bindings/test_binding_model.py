"""Binding values: bind parameters, the expiration policy, ``expires_at`` and the token kubeconfig."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from keb_adapters.http.wire import format_expires_at
from keb_adapters.kubernetes.kubeconfig import parse_admin_kubeconfig
from keb_domain.errors import ClusterError, InvalidRequestError
from keb_domain.model.binding import (
    BindingIdentity,
    BindingParameters,
    ClusterEndpoint,
    CredentialStrategy,
    ExpirationPolicy,
    binding_resource_name,
    build_token_kubeconfig,
    check_nameable,
)

GARDENER = CredentialStrategy.GARDENER_ADMIN_KUBECONFIG
TOKEN = CredentialStrategy.TOKEN_REQUEST
ADMIN_KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: shoot--kyma-dev--c-1234567
clusters:
- name: shoot--kyma-dev--c-1234567
  cluster:
    server: https://api.c-1234567.kyma.example.com
    certificate-authority-data: LS0tLS1CRUdJTi1DQQ==
contexts:
- name: shoot--kyma-dev--c-1234567
  context:
    cluster: shoot--kyma-dev--c-1234567
    user: admin
users:
- name: admin
  user:
    token: admin-token-that-must-not-leak
"""
EXPIRES_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\dZ$")


# --- parameters -------------------------------------------------------------------------------------


def test_empty_parameters_mean_the_default_expiration_and_a_gardener_kubeconfig() -> None:
    """Without parameters a binding is a Gardener admin kubeconfig of the default lifetime (the seed)."""
    assert BindingParameters.parse({}) == BindingParameters(expiration_seconds=None, strategy=GARDENER)


@pytest.mark.parametrize("key", ["token_request", "service_account"])
def test_either_flag_selects_the_token_request_strategy(key: str) -> None:
    """``token_request: true`` and its synonym ``service_account: true`` both select TokenRequest."""
    assert BindingParameters.parse({key: True}).strategy is TOKEN


@pytest.mark.parametrize("key", ["token_request", "service_account"])
def test_a_false_flag_selects_the_gardener_strategy(key: str) -> None:
    """An explicit false keeps the Gardener admin kubeconfig."""
    assert BindingParameters.parse({key: False}).strategy is GARDENER


@pytest.mark.parametrize("value", [True, False])
def test_agreeing_synonyms_are_accepted(value: bool) -> None:
    """Both flags may be sent as long as they say the same thing."""
    parsed = BindingParameters.parse({"token_request": value, "service_account": value})
    assert parsed.strategy is (TOKEN if value else GARDENER)


@pytest.mark.parametrize(("token_request", "service_account"), [(True, False), (False, True)])
def test_disagreeing_synonyms_are_refused(token_request: bool, service_account: bool) -> None:
    """``token_request`` and ``service_account`` with different values are a 400, not a silent pick."""
    with pytest.raises(InvalidRequestError, match="disagree"):
        BindingParameters.parse({"token_request": token_request, "service_account": service_account})


@pytest.mark.parametrize("key", ["token_request", "service_account"])
@pytest.mark.parametrize("value", ["true", 1, 0, None, [], {}])
def test_a_flag_that_is_not_a_boolean_is_refused(key: str, value: Any) -> None:
    """A flag of the wrong JSON type is named in the error instead of being coerced."""
    with pytest.raises(InvalidRequestError, match=rf"parameters\.{key}: expected true or false"):
        BindingParameters.parse({key: value})


@pytest.mark.parametrize("value", ["600", 600.0, True, [600], {"seconds": 600}])
def test_an_expiration_that_is_not_an_integer_is_refused(value: Any) -> None:
    """``expiration_seconds`` must be a JSON integer; strings, floats and booleans are a 400 naming it."""
    with pytest.raises(InvalidRequestError, match=r"parameters\.expiration_seconds: expected an integer"):
        BindingParameters.parse({"expiration_seconds": value})


@given(st.integers(-(2**40), 2**40))
def test_an_integer_expiration_is_taken_as_given(seconds: int) -> None:
    """Parsing keeps any integer; the bounds are the policy's job."""
    assert BindingParameters.parse({"expiration_seconds": seconds}).expiration_seconds == seconds


def test_unknown_parameters_are_ignored() -> None:
    """Fields the broker does not know do not fail the bind (OSB: unknown fields are ignored)."""
    assert BindingParameters.parse({"colour": "blue"}) == BindingParameters()


# --- expiration policy ----------------------------------------------------------------------------


@pytest.mark.parametrize("requested", [None, 0])
def test_absent_or_zero_expiration_means_the_default(requested: int | None) -> None:
    """KEB treats 0 like an absent value: the configured default applies."""
    assert ExpirationPolicy(default_seconds=900).seconds(requested) == 900


def test_the_built_in_policy_is_keb_s() -> None:
    """Default 600 s, bounds 600..7200, at most 10 unexpired bindings per instance."""
    policy = ExpirationPolicy()
    assert (policy.default_seconds, policy.min_seconds, policy.max_seconds, policy.max_bindings) == (
        600,
        600,
        7200,
        10,
    )


@given(st.integers(600, 7200))
def test_expirations_within_the_bounds_are_kept(seconds: int) -> None:
    """Every value from the minimum to the maximum, both included, is used as requested."""
    assert ExpirationPolicy().seconds(seconds) == seconds


@given(st.integers(7201, 2**40))
def test_an_expiration_above_the_maximum_is_refused(seconds: int) -> None:
    """More than the maximum is a 400 with KEB's message."""
    with pytest.raises(InvalidRequestError, match=r"^expiration_seconds cannot be greater than 7200$"):
        ExpirationPolicy().seconds(seconds)


@given(st.integers(-(2**40), 599).filter(bool))
def test_an_expiration_below_the_minimum_is_refused(seconds: int) -> None:
    """Less than the minimum (other than 0) is a 400 with KEB's message."""
    with pytest.raises(InvalidRequestError, match=r"^expiration_seconds cannot be less than 600$"):
        ExpirationPolicy().seconds(seconds)


def test_configured_bounds_replace_keb_s() -> None:
    """A narrower configured range is what the messages and checks use."""
    policy = ExpirationPolicy(default_seconds=1200, min_seconds=1200, max_seconds=1800)
    assert policy.seconds(1800) == 1800
    with pytest.raises(InvalidRequestError, match="greater than 1800"):
        policy.seconds(1801)


# --- expires_at -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 27, 8, 0, tzinfo=UTC), "2026-11-27T08:00:00.0Z"),
        (datetime(2024, 10, 22, 7, 51, 0, 500000, tzinfo=UTC), "2024-10-22T07:51:00.5Z"),
        (datetime(2024, 10, 22, 7, 51, 0, 999999, tzinfo=UTC), "2024-10-22T07:51:00.9Z"),
        (datetime(2024, 10, 22, 7, 51, 0, 99999, tzinfo=UTC), "2024-10-22T07:51:00.0Z"),
    ],
)
def test_expires_at_has_one_fractional_digit_and_a_literal_z(moment: datetime, expected: str) -> None:
    """KEB's layout ``2006-01-02T15:04:05.0Z``: the tenths are truncated, never rounded up a second."""
    assert format_expires_at(moment) == expected


def test_expires_at_of_a_non_utc_time_is_converted_to_utc() -> None:
    """A time two hours east of UTC is written as the same instant in UTC, not with its wall clock."""
    cest = timezone(timedelta(hours=2))
    assert format_expires_at(datetime(2026, 11, 27, 10, 0, 30, 250000, tzinfo=cest)) == (
        "2026-11-27T08:00:30.2Z"
    )


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]
        ),
    )
)
def test_expires_at_names_the_instant_to_a_tenth_of_a_second(moment: datetime) -> None:
    """For any aware time the text matches the layout and reads back as that instant, truncated."""
    text = format_expires_at(moment)
    assert EXPIRES_AT.match(text), text
    parsed = datetime.strptime(text[:-1] + "00000", "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    assert timedelta(0) <= moment - parsed < timedelta(seconds=0.1)


# --- kubeconfigs ----------------------------------------------------------------------------------


def test_the_token_kubeconfig_is_named_after_the_cluster() -> None:
    """Cluster, context, user and current-context all carry the instance's ``name`` parameter."""
    endpoint = parse_admin_kubeconfig(ADMIN_KUBECONFIG).endpoint
    config = yaml.safe_load(build_token_kubeconfig("my-cluster", endpoint, "the-token"))
    assert config["current-context"] == "my-cluster"
    assert [c["name"] for c in config["clusters"]] == ["my-cluster"]
    assert config["contexts"] == [
        {"name": "my-cluster", "context": {"cluster": "my-cluster", "user": "my-cluster"}}
    ]
    assert config["users"] == [{"name": "my-cluster", "user": {"token": "the-token"}}]


def test_the_token_kubeconfig_copies_server_and_ca_of_the_admin_kubeconfig() -> None:
    """The API server and its CA come verbatim from the runtime's admin kubeconfig; its token does not."""
    kubeconfig = build_token_kubeconfig(
        "my-cluster", parse_admin_kubeconfig(ADMIN_KUBECONFIG).endpoint, "the-token"
    )
    cluster = yaml.safe_load(kubeconfig)["clusters"][0]["cluster"]
    assert cluster == {
        "server": "https://api.c-1234567.kyma.example.com",
        "certificate-authority-data": "LS0tLS1CRUdJTi1DQQ==",
    }
    assert "admin-token-that-must-not-leak" not in kubeconfig


def test_the_token_kubeconfig_keeps_keb_s_template_shape() -> None:
    """As KEB's text template, the document starts with a newline and a ``---`` line."""
    kubeconfig = build_token_kubeconfig("c", ClusterEndpoint("https://api.example", "Q0E="), "t")
    assert kubeconfig.startswith("\n---\napiVersion: v1\nkind: Config\n")


def _admin_without(path: tuple[str, ...]) -> str:
    """The admin kubeconfig with one key removed."""
    config: Any = yaml.safe_load(ADMIN_KUBECONFIG)
    parent = config
    for key in path[:-1]:
        parent = parent[key] if isinstance(parent, dict) else parent[int(key)]
    del parent[path[-1]]
    return yaml.safe_dump(config)


@pytest.mark.parametrize(
    ("kubeconfig", "message"),
    [
        (_admin_without(("current-context",)), "no current-context"),
        (_admin_without(("clusters",)), "no cluster"),
        (ADMIN_KUBECONFIG.replace("clusters:\n- name", "old:\n- name"), "no cluster"),
        (_admin_without(("clusters", "0", "cluster", "server")), "no server or certificate-authority-data"),
        (
            _admin_without(("clusters", "0", "cluster", "certificate-authority-data")),
            "no server or certificate-authority-data",
        ),
        ("clusters: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "not a mapping"),
    ],
)
def test_an_admin_kubeconfig_without_what_keb_requires_is_refused(kubeconfig: str, message: str) -> None:
    """KEB's builder checks: a current-context, a cluster, and server plus CA data on the first one."""
    with pytest.raises(ClusterError, match=message) as caught:
        parse_admin_kubeconfig(kubeconfig)
    assert "admin-token-that-must-not-leak" not in str(caught.value)


# --- binding ids as Kubernetes names -------------------------------------------------------------

DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@given(st.text(max_size=260) | st.from_regex(DNS1123, fullmatch=True))
def test_a_token_binding_id_is_accepted_exactly_when_its_resource_name_is_a_dns_subdomain(
    binding_id: str,
) -> None:
    """``check_nameable`` agrees with Kubernetes' DNS-1123 subdomain rule for ``kyma-binding-{id}``."""
    name = binding_resource_name(binding_id)
    valid = len(name) <= 253 and DNS1123.fullmatch(name) is not None
    try:
        check_nameable(binding_id, TOKEN)
    except InvalidRequestError:
        assert not valid
    else:
        assert valid


@given(st.text(max_size=300))
def test_an_admin_kubeconfig_binding_id_is_never_refused_for_its_name(binding_id: str) -> None:
    """Admin kubeconfig bindings create nothing named after the id."""
    check_nameable(binding_id, GARDENER)


@pytest.mark.parametrize(
    ("binding_id", "ok"),
    [("b-1", True), ("a" * 240, True), ("a" * 241, False), ("B_Upper", False), (".", False), ("..", False)],
)
def test_token_binding_id_examples(binding_id: str, ok: bool) -> None:
    """Issue 9's ids, and the longest id that still fits 253 characters with the prefix."""
    if ok:
        check_nameable(binding_id, TOKEN)
    else:
        with pytest.raises(InvalidRequestError):
            check_nameable(binding_id, TOKEN)


def test_a_token_binding_identity_is_named_labelled_and_granted_as_keb_does() -> None:
    """``kyma-binding-{id}``, labelled managed-by the broker, allowed everything (KEB's bindings manager)."""
    identity = BindingIdentity.of_binding("b1")
    assert identity.name == "kyma-binding-b1"
    assert identity.labels == {"app.kubernetes.io/managed-by": "kcp-kyma-environment-broker"}
    assert [(r.api_groups, r.resources, r.verbs) for r in identity.rules] == [(("*",), ("*",), ("*",))]
