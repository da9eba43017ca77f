"""The boundary's input checks: the fast JSON path agrees with the exact decoder; limits are as documented."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keb_adapters.http.boundary import (
    INT64_MAX,
    MAX_JSON_DEPTH,
    Refused,
    _exact,
    check_path,
    check_query,
    decode_json_body,
)


class Pairs(list[tuple[str, Any]]):
    """A JSON object as written: its keys in order, possibly repeated."""


KEYS = st.sampled_from(["a", "b", 'q"', "x\\", '\\":', " : ", "é", "\u2603"]) | st.text(max_size=3)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(['x":', "\\", "\x00", "\ud800"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.lists(st.tuples(KEYS, inner), max_size=4).map(Pairs),
    max_leaves=40,
)


@st.composite
def texts(draw: st.DrawFn) -> str:
    """JSON text with the spacing, escaping and duplicate keys a client might send."""
    ascii_only = draw(st.booleans())
    space = draw(st.sampled_from(["", " ", "\n  "]))

    def render(value: Any) -> str:
        if isinstance(value, Pairs):
            items = (
                f"{json.dumps(key, ensure_ascii=ascii_only)}{space}:{space}{render(inner)}"
                for key, inner in value
            )
            return "{" + f",{space}".join(items) + "}"
        if isinstance(value, list):
            return "[" + f",{space}".join(render(inner) for inner in value) + "]"
        return json.dumps(value, ensure_ascii=ascii_only)

    return render(draw(VALUES))


def outcome(decode: Any, arg: Any) -> tuple[str, Any]:
    try:
        return "ok", decode(arg)
    except Refused as refused:
        return "refused", refused.status


@given(texts())
def test_the_fast_path_agrees_with_the_exact_decoder(text: str) -> None:
    """Whatever the text, decoding accepts the same value, or refuses, exactly as the exact decoder does."""
    try:
        body = text.encode()
    except UnicodeEncodeError:  # a lone surrogate written unescaped cannot even be sent as UTF-8
        return
    assert outcome(decode_json_body, body) == outcome(_exact, text)


@pytest.mark.parametrize("ascii_only", [True, False])
def test_a_duplicate_key_is_refused_on_both_paths(ascii_only: bool) -> None:
    """A repeated key is refused whether or not the body has ``\\u`` escapes."""
    body = '{"a": 1, "b": {"c": "\u2603", "c": 2}}'
    raw = body.encode("ascii", "backslashreplace") if ascii_only else body.encode()
    with pytest.raises(Refused, match="more than once"):
        decode_json_body(raw)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1])
def test_the_depth_limit_is_32_levels(depth: int) -> None:
    """32 levels of nesting are accepted, 33 refused."""
    body = ("[" * depth + "]" * depth).encode()
    if depth <= MAX_JSON_DEPTH:
        assert decode_json_body(body) is not None
    else:
        with pytest.raises(Refused, match="nested deeper"):
            decode_json_body(body)


@pytest.mark.parametrize(("number", "ok"), [(INT64_MAX, True), (INT64_MAX + 1, False), (-(2**63), True)])
def test_integers_must_fit_in_64_bits(number: int, ok: bool) -> None:
    """The int64 bounds themselves are accepted; one past them is refused."""
    body = json.dumps({"n": number}).encode()
    if ok:
        assert decode_json_body(body) == {"n": number}
    else:
        with pytest.raises(Refused, match="64 bits"):
            decode_json_body(body)


@given(st.binary(max_size=20))
def test_a_path_is_accepted_only_when_it_is_utf8(raw: bytes) -> None:
    """A percent-encoded path passes the encoding check exactly when its bytes are UTF-8."""
    quoted = "".join(f"%{byte:02X}" for byte in raw).encode()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(Refused):
            check_path(quoted, {})
    else:
        check_path(quoted, {})


def test_a_query_with_a_nul_or_too_many_values_is_refused() -> None:
    """NUL in a name or value, invalid UTF-8 and more than 1000 values are refused."""
    for query in (b"a=%00", b"%00=a", b"a=%FF", b"&".join([b"a=1"] * 1001)):
        with pytest.raises(Refused):
            check_query(query)
    check_query(b"&".join([b"a=1"] * 1000))
