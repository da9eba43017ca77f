"""AES-GCM encryption of credentials at rest, in KEB's format (keb-reference §4.6).

The key is the raw bytes of ``APP_DATABASE_SECRET_KEY`` (16, 24 or 32 bytes: AES-128/192/256). A stored
value is standard base64 of nonce (12 bytes) || ciphertext || tag (16 bytes), so a KEB database and this
broker can read each other's bindings with the same key.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import string
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keb_adapters.files import create_once
from keb_domain.errors import ConfigurationError, CredentialsUnreadableError
from keb_domain.secrets import Secret

NONCE_BYTES = 12
KEY_LENGTHS = (16, 24, 32)


class AesGcmCipher:
    def __init__(self, key: Secret) -> None:
        raw = key.reveal().encode()
        if len(raw) not in KEY_LENGTHS:
            raise ConfigurationError(
                f"APP_DATABASE_SECRET_KEY must be 16, 24 or 32 bytes long, not {len(raw)}"
            )
        self._aead = AESGCM(raw)

    def __repr__(self) -> str:
        return "AesGcmCipher(key=***)"

    def encrypt(self, plaintext: Secret) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.reveal().encode(), None)
        return base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, ciphertext: str) -> Secret:
        try:
            blob = base64.b64decode(ciphertext, validate=True)
        except (binascii.Error, ValueError):
            raise CredentialsUnreadableError("stored credentials are not valid base64") from None
        if len(blob) < NONCE_BYTES + 16:
            raise CredentialsUnreadableError("stored credentials are too short to be AES-GCM data")
        try:
            plaintext = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], None)
        except InvalidTag:
            raise CredentialsUnreadableError(
                "stored credentials failed authentication: they were altered, or APP_DATABASE_SECRET_KEY "
                "is not the key they were written with"
            ) from None
        return Secret(plaintext.decode())


def local_secret_key(data_dir: Path) -> Secret:
    """The embedded run's key: generated once into the data directory (owner-only), then reused."""
    alphabet = string.ascii_letters + string.digits
    key = create_once(
        data_dir / "database-secret-key", lambda: "".join(secrets.choice(alphabet) for _ in range(32))
    )
    return Secret(key.strip())
