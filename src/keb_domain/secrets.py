"""A string that never shows itself: kubeconfigs, tokens and keys travel in this wrapper."""

from __future__ import annotations

import hmac


class Secret:
    """Holds a sensitive string; ``repr`` and ``str`` are redacted, ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        # compare_digest refuses str with non-ASCII characters (TypeError), so compare the UTF-8 bytes;
        # surrogatepass keeps lone surrogates (which JSON can carry) comparable too.
        return isinstance(other, Secret) and hmac.compare_digest(
            self._value.encode("utf-8", "surrogatepass"), other._value.encode("utf-8", "surrogatepass")
        )

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)
