"""Slow and half-sent requests against a real ``keb serve``: each is closed instead of holding the broker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.serving.support import Broker, read_until_closed, running_broker

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: keb\r\n\r\n"


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A broker with one-second header, body and keep-alive timeouts."""
    env = {
        "APP_HTTP_HEADER_TIMEOUT": "1s",
        "APP_HTTP_BODY_TIMEOUT": "1s",
        "APP_HTTP_KEEP_ALIVE_TIMEOUT": "1s",
    }
    with running_broker(tmp_path_factory.mktemp("impatient") / "keb", env) as broker:
        yield broker


def test_half_sent_headers_are_closed_after_the_header_timeout(impatient: Broker) -> None:
    """A request line and one header without the blank line that ends them: the broker closes it."""
    with impatient.connect() as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: keb\r\n")
        assert read_until_closed(connection) == b""
    assert impatient.get().endswith(b"200 OK")


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(impatient: Broker) -> None:
    """An idle new connection counts as a request whose headers are late."""
    with impatient.connect() as connection:
        assert read_until_closed(connection) == b""


def test_a_half_sent_body_is_closed_after_the_body_timeout(impatient: Broker) -> None:
    """Headers announce 100 bytes, one arrives: the broker closes the connection without an answer."""
    with impatient.connect() as connection:
        connection.sendall(
            b"PUT /oauth/v2/service_instances/i-1 HTTP/1.1\r\nHost: keb\r\nX-Broker-API-Version: 2.16\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        assert read_until_closed(connection) == b""
    assert impatient.get().endswith(b"200 OK")


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(impatient: Broker) -> None:
    """After a complete answer the connection stays open for the keep-alive timeout, then closes."""
    with impatient.connect() as connection:
        connection.sendall(HEALTHZ)
        received = read_until_closed(connection)
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert received.endswith(b'{"status":"ok"}')


def test_connections_beyond_the_cap_are_closed_at_once(tmp_path: Path) -> None:
    """With APP_HTTP_MAX_CONNECTIONS=3 a fourth open connection is closed; the three still get answers."""
    env = {"APP_HTTP_MAX_CONNECTIONS": "3", "APP_HTTP_HEADER_TIMEOUT": "60s"}
    with running_broker(tmp_path / "keb", env) as broker:
        held: list[socket.socket] = [broker.connect() for _ in range(3)]
        try:
            with broker.connect() as fourth:
                assert read_until_closed(fourth) == b""
            for connection in held:
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: keb\r\nConnection: close\r\n\r\n")
                assert read_until_closed(connection).startswith(b"HTTP/1.1 200 OK")
        finally:
            for connection in held:
                connection.close()
        assert broker.get().endswith(b"200 OK")  # closed connections free their places
