"""Logging never carries payloads of the libraries that would log secrets."""

from __future__ import annotations

import logging

import pytest

from keb_app.logs import PAYLOAD_LOGGERS, configure_logging


@pytest.mark.parametrize(
    "logger",
    ["kubernetes.aio.client.rest", "kubernetes.client.rest", "sqlalchemy.engine.Engine", "aiosqlite"],
)
def test_debug_logging_leaves_payload_loggers_at_warning(logger: str) -> None:
    """With APP_LOG_LEVEL=debug the kubernetes client would log TokenRequest bodies; it must not."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", "text")
        assert logging.getLogger("keb").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger(logger).isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name in PAYLOAD_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
