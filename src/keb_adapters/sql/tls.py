"""TLS to PostgreSQL, as libpq's ``sslmode`` and ``sslrootcert`` describe it.

Apart from the engine (database.py), so the settings can name it without importing SQLAlchemy.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class DatabaseTls:
    """TLS to PostgreSQL with libpq's ``sslmode`` meanings and an optional CA file (``sslrootcert``)."""

    mode: str  # allow, prefer, require, verify-ca, verify-full
    root_cert: Path | None = None

    def connect_args(self) -> dict[str, Any]:
        """asyncpg's ``ssl`` argument: the mode itself, or a context checking against the CA file.

        As libpq: ``verify-full`` checks the chain and the host name, ``verify-ca`` only the chain, and
        ``require`` checks the chain when a CA file is given.
        """
        if self.root_cert is None or self.mode in ("allow", "prefer"):
            return {"ssl": self.mode}
        context = ssl.create_default_context(cafile=str(self.root_cert))
        context.check_hostname = self.mode == "verify-full"
        context.verify_mode = ssl.CERT_REQUIRED
        return {"ssl": context}
