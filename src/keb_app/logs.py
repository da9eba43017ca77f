"""Logging: plain text for people, JSON lines for log pipelines (``APP_LOG_FORMAT=json``)."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

# Libraries that log request and response payloads at DEBUG or INFO: the kubernetes client logs whole
# response bodies (TokenRequest tokens, kubeconfig Secrets), SQLAlchemy and aiosqlite log statement
# parameters, authlib logs every token it issues ("Issue token {...'access_token': ...}"), hpack and h2
# log decoded headers (Authorization). They stay at WARNING whatever APP_LOG_LEVEL says, so no secret
# reaches a log; RedactingFilter is the second line of defence for anything else.
PAYLOAD_LOGGERS = (
    "kubernetes",
    "urllib3",
    "aiohttp",
    "httpx",
    "httpcore",
    "hpack",
    "h2",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "alembic",
    "authlib",
    "joserfc",
    "jose",
    "multipart",
    "litestar",
    "uvicorn.access",
)

REDACTED = "[redacted]"
_SECRETS = (
    # PEM blocks (private keys, certificates), also when cut off before their END line.
    re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(?:-----END [A-Z0-9 ]+-----|\Z)", re.DOTALL),
    # JWTs: base64url JSON header "{\"..." starts with eyJ, then payload and signature.
    re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?"),
)
# key: value, key=value, 'key': 'value' and "key": "value" for the names that carry credentials
# (kubeconfig users, OAuth2 token responses and requests, client secrets, passwords).
_SECRET_FIELDS = re.compile(
    r"""(?ix)
    (["']?\b(?:client-key-data|client-certificate-data|token|access_token|refresh_token|id_token
        |client_secret|client-secret|password|secret|secret_key|private_key|kubeconfig)["']?
    \s*[:=]\s*)
    (["']?)[^\s"',}\]]+
    """
)
_AUTHORIZATION = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """``text`` with keys, certificates, JWTs, bearer credentials and credential fields replaced."""
    text = _SECRET_FIELDS.sub(rf"\1\2{REDACTED}", text)
    text = _AUTHORIZATION.sub(rf"\1 {REDACTED}", text)
    for pattern in _SECRETS:
        text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites every record the handler emits, so a secret logged by mistake is not written out.

    The message is formatted once, redacted and stored without arguments; an exception's text is
    rendered and redacted here too, so formatters print the redacted form.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


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
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
