"""Optimistic versions of stored domain objects, shared by the SQL and the memory storage."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, cast

import attrs


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)


def at_version(value: V, version: int) -> V:
    """The same frozen attrs object at another version (mypy's attrs plugin cannot see through V)."""
    return cast(V, attrs.evolve(cast(Any, value), version=version))
