"""How the broker connects to its database: TLS to PostgreSQL (libpq's ``sslmode`` and ``sslrootcert``)
and the connection pool's size.

Apart from the engine (database.py), so the settings can name them without importing SQLAlchemy.
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


@attrs.frozen
class DatabasePool:
    """How many connections a broker process keeps (KEB's ``MaxOpenConns``, ``MaxIdleConns``,
    ``ConnMaxLifetime``).

    At most ``max_open`` connections at once; up to ``max_idle`` of them stay open between uses, the others
    are closed when returned (each new one costs a TCP handshake and authentication on PostgreSQL, a thread
    on SQLite); a connection older than ``max_lifetime`` seconds is replaced when next taken.
    """

    max_open: int = 10
    max_idle: int = 10
    max_lifetime: float = 1800.0

    def engine_args(self) -> dict[str, Any]:
        kept = min(self.max_idle, self.max_open)
        return {
            "pool_size": kept,
            "max_overflow": self.max_open - kept,
            "pool_recycle": self.max_lifetime,
        }
