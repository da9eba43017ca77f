"""Label and field selectors as the list verb reads them (``k8s.io/apimachinery/pkg/labels``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from keb_app.landscape._errors import bad_request

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_EQUALITY = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*)\s*$")
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_EXISTS = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")

Matcher = Callable[[Mapping[str, str]], bool]


def _split_top_level(selector: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def _requirement(text: str) -> Matcher:
    if match := _EQUALITY.match(text):
        key, op, value = match["key"], match["op"], match["value"]
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _SET.match(text):
        key, op = match["key"], match["op"]
        values = {v.strip() for v in match["values"].split(",")}
        if op == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: labels.get(key) not in values
    if match := _EXISTS.match(text):
        key, negated = match["key"], bool(match["neg"])
        return lambda labels: (key in labels) != negated
    raise bad_request(
        f"unable to parse requirement: {text.strip()!r} is not a valid label selector requirement"
    )


def parse_label_selector(selector: str | None) -> Matcher:
    """A predicate over an object's labels; an empty selector matches everything.

    Raises:
        ApiError: 400 for a requirement the grammar does not accept.
    """
    if not selector:
        return lambda _labels: True
    requirements = [_requirement(part) for part in _split_top_level(selector)]
    return lambda labels: all(requirement(labels) for requirement in requirements)


def _field_value(obj: Mapping[str, Any], path: str) -> str | None:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return None if node is None else str(node)


#: Fields every resource can be selected by (kube-apiserver's default field set).
_SELECTABLE_FIELDS = ("metadata.name", "metadata.namespace")


def parse_field_selector(selector: str | None) -> Callable[[Any], bool]:
    """A predicate over a whole object for ``fieldSelector`` (``metadata.name=x,metadata.namespace!=y``).

    Raises:
        ApiError: 400 for an unsupported field or malformed requirement.
    """
    if not selector:
        return lambda _obj: True
    checks: list[Callable[[Any], bool]] = []
    for part in _split_top_level(selector):
        match = re.match(r"^\s*(?P<field>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*)\s*$", part)
        if match is None:
            raise bad_request(f'invalid field selector: "{part.strip()}"')
        field, op, value = match["field"], match["op"], match["value"].strip()
        if field not in _SELECTABLE_FIELDS:
            raise bad_request(f"field label not supported: {field}")
        checks.append(_field_check(field, value, negated=op == "!="))
    return lambda obj: all(check(obj) for check in checks)


def _field_check(field: str, value: str, *, negated: bool) -> Callable[[Any], bool]:
    def check(obj: Any) -> bool:
        return (_field_value(obj, field) == value) != negated

    return check
