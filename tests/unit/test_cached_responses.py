"""Entity tags of the responses that are a pure function of the configuration (RFC 9110 §13.1.2)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from keb_adapters.http.cached import Encoded, EncodedCatalogs, none_match
from keb_domain.usecases.config import BrokerConfig
from tests.support import settings_for_tests

ETAG = '"abc123"'
opaque = st.text(st.characters(min_codepoint=0x23, max_codepoint=0x7E), max_size=12).map(lambda s: f'"{s}"')


def test_no_header_matches_nothing() -> None:
    """Without If-None-Match the full response is sent."""
    assert not none_match(None, ETAG)


def test_a_star_matches_any_current_representation() -> None:
    """``*`` matches whatever the current entity tag is."""
    assert none_match(" * ", ETAG)


def test_the_weak_comparison_ignores_the_weak_prefix() -> None:
    """``W/"x"`` in the header matches the strong tag ``"x"``, as If-None-Match compares weakly."""
    assert none_match(f"W/{ETAG}", ETAG)
    assert none_match(ETAG, f"W/{ETAG}")


def test_a_different_tag_does_not_match() -> None:
    """A tag with other characters, or the same characters unquoted, is not this representation."""
    assert not none_match('"abc124"', ETAG)
    assert not none_match("abc123", ETAG)


def test_a_malformed_list_matches_nothing() -> None:
    """A header that is not a list of entity tags is not a precondition this server can evaluate."""
    assert not none_match(f"garbage, {ETAG}", ETAG)


@given(before=st.lists(opaque, max_size=4), after=st.lists(opaque, max_size=4), weak=st.booleans())
def test_a_list_matches_when_any_member_matches(before: list[str], after: list[str], weak: bool) -> None:
    """The tag anywhere in a comma-separated list, weak or not, matches; a list without it does not."""
    member = f"W/{ETAG}" if weak else ETAG
    assert none_match(" , ".join([*before, member, *after]), ETAG)
    others = [tag for tag in [*before, *after] if tag != ETAG]
    assert not none_match(", ".join(others), ETAG)


def test_the_tag_changes_with_the_bytes() -> None:
    """Two documents that encode differently have different tags; the same document the same tag."""
    assert Encoded.of({"a": 1}).etag == Encoded.of({"a": 1}).etag
    assert Encoded.of({"a": 1}).etag != Encoded.of({"a": 2}).etag


def test_each_region_catalog_is_built_once_and_the_oldest_is_forgotten() -> None:
    """A region's catalog is built on first use only; beyond the limit the least recently used goes."""
    built: list[str] = []

    def build(_: BrokerConfig, region: str) -> dict[str, Any]:
        built.append(region)
        return {"region": region}

    catalogs = EncodedCatalogs(settings_for_tests().broker, limit=2, build=build)
    first = catalogs.get("cf-eu10")
    assert catalogs.get("cf-eu10") is first
    catalogs.get("cf-us10")
    catalogs.get("cf-eu10")  # now the most recently used
    catalogs.get("cf-ap21")  # evicts cf-us10
    catalogs.get("cf-eu10")
    catalogs.get("cf-us10")
    assert built == ["cf-eu10", "cf-us10", "cf-ap21", "cf-us10"]
