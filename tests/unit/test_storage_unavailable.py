"""Which database failures the SQL adapter reports as StorageUnavailableError (503), and which it does not."""

from __future__ import annotations

import sqlite3

import asyncpg.exceptions as pg
import pytest
from sqlalchemy import exc

from keb_adapters.sql.errors import is_unavailable, unavailable_as_domain_error
from keb_domain.errors import StorageUnavailableError


def wrapped(error: BaseException, cls: type[exc.DBAPIError] = exc.OperationalError) -> exc.DBAPIError:
    """The error as SQLAlchemy raises it from a statement: a DBAPIError around the driver's."""
    return cls("SELECT 1", {}, error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(sqlite3.OperationalError("database is locked")),
        wrapped(sqlite3.OperationalError("unable to open database file")),
        wrapped(sqlite3.OperationalError("disk I/O error")),
        wrapped(pg.CannotConnectNowError("the database system is starting up"), exc.InterfaceError),
        wrapped(pg.AdminShutdownError("terminating connection due to administrator command")),
        wrapped(pg.ConnectionDoesNotExistError("connection was closed in the middle of operation")),
        wrapped(pg.TooManyConnectionsError("sorry, too many clients already")),
        exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
    ],
    ids=lambda e: str(getattr(e, "orig", e))[:30],
)
def test_connection_failures_are_unavailable(error: BaseException) -> None:
    """Locked or unopenable SQLite, a PostgreSQL shutting down or gone: the database is unavailable."""
    assert is_unavailable(error)
    with pytest.raises(StorageUnavailableError) as raised, unavailable_as_domain_error():
        raise error
    assert raised.value.__cause__ is error
    assert "unavailable" in raised.value.description


@pytest.mark.parametrize(
    "error",
    [
        wrapped(sqlite3.OperationalError("too many SQL variables")),
        wrapped(sqlite3.IntegrityError("UNIQUE constraint failed"), exc.IntegrityError),
        wrapped(pg.UniqueViolationError("duplicate key"), exc.IntegrityError),
        ValueError("not the database's"),
        ConnectionRefusedError("another port's connection inside a unit of work"),
    ],
    ids=lambda e: str(getattr(e, "orig", e))[:30],
)
def test_statement_and_foreign_errors_are_not_unavailable(error: BaseException) -> None:
    """A statement's own failure, or an error of another port, passes through unchanged."""
    assert not is_unavailable(error)
    with pytest.raises(type(error)), unavailable_as_domain_error():
        raise error


@pytest.mark.parametrize(
    "error", [ConnectionRefusedError(111, "refused"), TimeoutError(), OSError("no route")]
)
def test_plain_os_errors_count_only_while_connecting(error: BaseException) -> None:
    """asyncpg's connect raises plain OSErrors: unavailable when opening a connection, not otherwise."""
    assert is_unavailable(error, connecting=True)
    assert not is_unavailable(error)
