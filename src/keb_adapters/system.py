"""The real clock and id generator."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    def new_id(self) -> str:
        return str(uuid.uuid4())

    def shoot_name(self) -> str:
        """7 random hex characters, prefixed ``c-`` when the first is a digit (names start with a letter)."""
        name = secrets.token_hex(4)[:7]
        return f"c-{name}" if name[0].isdigit() else name
