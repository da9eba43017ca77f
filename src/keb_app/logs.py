"""Logging: plain text for people, JSON lines for log pipelines (``APP_LOG_FORMAT=json``)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# Libraries that log request and response payloads at DEBUG or INFO: the kubernetes client logs whole
# response bodies (TokenRequest tokens, kubeconfig Secrets), SQLAlchemy and aiosqlite log statement
# parameters. They stay at WARNING whatever APP_LOG_LEVEL says, so no secret reaches a log.
PAYLOAD_LOGGERS = (
    "kubernetes",
    "urllib3",
    "aiohttp",
    "httpx",
    "httpcore",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
