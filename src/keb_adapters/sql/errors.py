"""Which database failures mean "the database is unavailable", and their translation to the domain's error.

A PostgreSQL that is down, restarting or refusing connections, or a SQLite file that is locked or cannot be
opened, is a temporary condition of the broker's own: the caller gets StorageUnavailableError (503 with
``Retry-After`` over HTTP) and nothing is changed, since the transaction never commits. Once the
database answers again the pool opens new connections (``pool_pre_ping`` drops dead ones), so recovery
needs no restart. Errors a statement causes (constraint violations, bad values) are not translated.
"""

from __future__ import annotations

import sqlite3
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import asyncpg.exceptions as pg
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keb_domain.errors import StorageUnavailableError

# asyncpg's connection failures, server shutdowns (SQLSTATE 57P01-57P03) and full connection slots.
_POSTGRES_UNAVAILABLE = (
    pg.PostgresConnectionError,  # includes ConnectionDoesNotExistError, CannotConnectNowError
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    pg.CannotConnectNowError,
    pg.TooManyConnectionsError,
)
# sqlite3.OperationalError texts that mean the file cannot be used now, not that a statement is wrong.
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
)
MESSAGE = "the database is unavailable; retry later"


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, the driver error it wraps and its causes, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = current.orig if isinstance(current, DBAPIError) else None
        pending.extend(
            [current.__cause__, current.__context__, orig if isinstance(orig, BaseException) else None]
        )


def is_unavailable(error: BaseException, *, connecting: bool = False) -> bool:
    """Whether ``error`` says the database cannot be reached or used right now.

    Only errors the database layer raised count (SQLAlchemy's, the drivers'), so that a connection
    error of another port inside a unit of work is not mistaken for the database's; while
    ``connecting``, any OSError or timeout counts too (asyncpg raises plain ``ConnectionRefusedError``).
    """
    if connecting and isinstance(error, (OSError, TimeoutError)):
        return True
    if not isinstance(error, (SQLAlchemyError, pg.PostgresError, pg.InterfaceError, sqlite3.Error)):
        return False
    for cause in _causes(error):
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, (ConnectionError, TimeoutError, *_POSTGRES_UNAVAILABLE)):
            return True
        if isinstance(cause, sqlite3.OperationalError):
            text = str(cause).lower()
            if any(marker in text for marker in _SQLITE_UNAVAILABLE):
                return True
        if isinstance(cause, pg.InterfaceError) and "connection is closed" in str(cause):
            return True
    return False


@contextmanager
def unavailable_as_domain_error(*, connecting: bool = False) -> Iterator[None]:
    """Translate database unavailability raised inside the block into StorageUnavailableError.

    Args:
        connecting: the block opens connections, so a plain OSError or timeout means the database.
    """
    try:
        yield
    except StorageUnavailableError:
        raise
    except Exception as error:
        if is_unavailable(error, connecting=connecting):
            raise StorageUnavailableError(MESSAGE) from error
        raise


@asynccontextmanager
async def connected(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """``engine.connect()`` whose unavailability, on connecting or inside the block, is the domain's error."""
    with unavailable_as_domain_error(connecting=True):
        async with engine.connect() as connection:
            yield connection


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """``engine.begin()`` whose unavailability, on connecting or inside the block, is the domain's error."""
    with unavailable_as_domain_error(connecting=True):
        async with engine.begin() as connection:
            yield connection


def certificate_refusal(error: BaseException) -> str | None:
    """Why the database server's TLS certificate was refused, if that is what ``error`` comes from.

    A certificate of another CA, or one not issued for the host connected to, is no outage: retrying
    cannot help, so the caller reports it instead of waiting for the database.
    """
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cause.verify_message or cause.reason}"
    return None
