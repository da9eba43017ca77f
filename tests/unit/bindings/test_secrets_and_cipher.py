"""Secrets stay hidden, and AES-GCM keeps stored credentials in KEB's format, unreadable when tampered."""

from __future__ import annotations

import base64
import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from keb_adapters.crypto import AesGcmCipher, local_secret_key
from keb_domain.errors import ConfigurationError, CredentialsUnreadableError
from keb_domain.model.binding import Binding, CredentialStrategy
from keb_domain.ports import IssuedCredentials
from keb_domain.secrets import Secret
from keb_domain.usecases.bindings import BindingView

VALUE = "users:\n- name: x\n  user:\n    token: eyJhbGciOiJSUzI1NiJ9.very-secret-token"
KEY = "0123456789abcdef0123456789abcdef"
OTHER_KEY = "fedcba9876543210fedcba9876543210"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


# --- Secret ---------------------------------------------------------------------------------------


def test_a_secret_is_redacted_in_repr_and_str() -> None:
    """Neither ``repr`` nor ``str`` shows the value."""
    secret = Secret(VALUE)
    assert VALUE not in repr(secret)
    assert "very-secret-token" not in str(secret)
    assert repr(secret) == str(secret) == "Secret('***')"


def test_a_secret_is_redacted_in_f_strings_and_formatting() -> None:
    """Interpolation with and without ``!r``, and %-formatting, all show the redacted form."""
    secret = Secret(VALUE)
    rendered = [f"{secret}", f"{secret!r}", f"{secret!s}", "%s" % secret, "{}".format(secret)]  # noqa: UP031, UP032 - each way of formatting is the point
    assert all("very-secret-token" not in text for text in rendered)


def test_a_secret_is_redacted_inside_the_objects_that_carry_it() -> None:
    """Containers, issued credentials and binding views show the redacted form, not the value."""
    secret = Secret(VALUE)
    carriers = [
        [secret],
        {"kubeconfig": secret},
        IssuedCredentials(secret, NOW),
        BindingView(secret, NOW, created=True),
    ]
    assert all("very-secret-token" not in repr(carrier) for carrier in carriers)


def test_a_binding_row_does_not_show_its_encrypted_credentials() -> None:
    """A Binding's repr leaves out the stored credentials column."""
    binding = Binding(
        instance_id="inst-1",
        binding_id="b-1",
        strategy=CredentialStrategy.TOKEN_REQUEST,
        expiration_seconds=600,
        created_at=NOW,
        expires_at=NOW,
        credentials="c2VhbGVkLWNyZWRlbnRpYWxz",
    )
    assert "c2VhbGVkLWNyZWRlbnRpYWxz" not in repr(binding)


def test_a_logged_secret_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    """Logging a Secret as an argument writes the redacted form."""
    with caplog.at_level(logging.INFO, logger="keb.test"):
        logging.getLogger("keb.test").info("issued %s", Secret(VALUE))
    assert "very-secret-token" not in caplog.text
    assert "Secret('***')" in caplog.text


def test_reveal_gives_the_value() -> None:
    """``reveal()`` is the one way to the value."""
    assert Secret(VALUE).reveal() == VALUE


@given(st.text(), st.text())
def test_secrets_compare_by_value(first: str, second: str) -> None:
    """Two Secrets are equal exactly when their values are, for any text (not only ASCII)."""
    assert (Secret(first) == Secret(second)) == (first == second)
    assert Secret(first) == Secret(first)


@pytest.mark.parametrize("value", ["é", "\ud800", "ключ"])
def test_secrets_beyond_ascii_equal_themselves(value: str) -> None:
    """Non-ASCII values, including a lone surrogate that JSON can carry, compare without an error."""
    assert Secret(value) == Secret(value)
    assert Secret(value) != Secret(value + "x")


def test_an_empty_secret_is_falsy() -> None:
    """An empty secret is false, a non-empty one true (placeholders have no credentials yet)."""
    assert not Secret("")
    assert Secret("x")


# --- AES-GCM --------------------------------------------------------------------------------------


@given(st.text())
def test_encryption_round_trips(plaintext: str) -> None:
    """Whatever is encrypted decrypts to the same text."""
    cipher = AesGcmCipher(Secret(KEY))
    assert cipher.decrypt(cipher.encrypt(Secret(plaintext))).reveal() == plaintext


def test_the_stored_value_does_not_contain_the_plaintext() -> None:
    """Neither the text nor its base64 appears in the stored value."""
    stored = AesGcmCipher(Secret(KEY)).encrypt(Secret(VALUE))
    assert "very-secret-token" not in stored
    assert base64.b64encode(VALUE.encode()).decode() not in stored


def test_each_encryption_uses_a_new_nonce() -> None:
    """The same plaintext encrypts differently each time (a fresh random nonce)."""
    cipher = AesGcmCipher(Secret(KEY))
    stored = {cipher.encrypt(Secret(VALUE)) for _ in range(20)}
    assert len(stored) == 20
    assert len({base64.b64decode(value)[:12] for value in stored}) == 20


@given(st.text())
def test_the_stored_value_is_base64_of_nonce_ciphertext_and_tag(plaintext: str) -> None:
    """KEB's format: standard base64 of a 12-byte nonce, the ciphertext and a 16-byte tag."""
    stored = AesGcmCipher(Secret(KEY)).encrypt(Secret(plaintext))
    blob = base64.b64decode(stored, validate=True)
    assert len(blob) == 12 + len(plaintext.encode()) + 16
    assert AESGCM(KEY.encode()).decrypt(blob[:12], blob[12:], None).decode() == plaintext


def test_a_value_written_in_keb_s_format_is_read() -> None:
    """A value sealed by plain AES-GCM as KEB writes it (base64 of nonce||ciphertext||tag) decrypts."""
    nonce = os.urandom(12)
    stored = base64.b64encode(nonce + AESGCM(KEY.encode()).encrypt(nonce, VALUE.encode(), None)).decode()
    assert AesGcmCipher(Secret(KEY)).decrypt(stored).reveal() == VALUE


@given(st.data())
def test_flipping_any_stored_byte_makes_the_credentials_unreadable(data: st.DataObject) -> None:
    """One altered byte anywhere (nonce, ciphertext or tag) is detected: an error, never garbage."""
    cipher = AesGcmCipher(Secret(KEY))
    blob = bytearray(base64.b64decode(cipher.encrypt(Secret(VALUE))))
    position = data.draw(st.integers(0, len(blob) - 1), label="position")
    blob[position] ^= data.draw(st.integers(1, 255), label="mask")
    with pytest.raises(CredentialsUnreadableError, match="altered") as caught:
        cipher.decrypt(base64.b64encode(bytes(blob)).decode())
    assert "very-secret-token" not in caught.value.description


def test_a_changed_character_of_the_stored_text_makes_the_credentials_unreadable() -> None:
    """Editing the base64 text itself (not only the bytes) is refused with a clear message."""
    cipher = AesGcmCipher(Secret(KEY))
    stored = cipher.encrypt(Secret(VALUE))
    middle = len(stored) // 2
    edited = stored[:middle] + ("A" if stored[middle] != "A" else "B") + stored[middle + 1 :]
    with pytest.raises(CredentialsUnreadableError, match="altered"):
        cipher.decrypt(edited)


@pytest.mark.parametrize(
    ("stored", "message"),
    [("not base64 at all!", "not valid base64"), (base64.b64encode(b"short").decode(), "too short")],
)
def test_a_stored_value_that_is_not_aes_gcm_data_is_unreadable(stored: str, message: str) -> None:
    """Text that cannot be KEB's format is refused with a message saying why."""
    with pytest.raises(CredentialsUnreadableError, match=message):
        AesGcmCipher(Secret(KEY)).decrypt(stored)


def test_a_wrong_key_makes_the_credentials_unreadable() -> None:
    """Data written with one key does not decrypt with another; the message names the key setting."""
    stored = AesGcmCipher(Secret(KEY)).encrypt(Secret(VALUE))
    with pytest.raises(CredentialsUnreadableError, match="APP_DATABASE_SECRET_KEY"):
        AesGcmCipher(Secret(OTHER_KEY)).decrypt(stored)


@pytest.mark.parametrize("length", [16, 24, 32])
def test_aes_key_lengths_are_accepted(length: int) -> None:
    """16, 24 and 32 bytes select AES-128, -192 and -256, and each encrypts and decrypts."""
    cipher = AesGcmCipher(Secret("k" * length))
    assert cipher.decrypt(cipher.encrypt(Secret(VALUE))).reveal() == VALUE


@pytest.mark.parametrize("length", [0, 1, 15, 17, 23, 25, 31, 33, 64])
def test_other_key_lengths_are_a_configuration_error(length: int) -> None:
    """Any other length stops startup with a message naming APP_DATABASE_SECRET_KEY, not the key."""
    key = "k" * length
    with pytest.raises(ConfigurationError, match=f"APP_DATABASE_SECRET_KEY.*not {length}$") as caught:
        AesGcmCipher(Secret(key))
    assert not key or key not in str(caught.value)


@given(st.integers(0, 128).filter(lambda n: n not in (16, 24, 32)))
def test_no_other_key_length_is_accepted(length: int) -> None:
    """Every length besides AES's three is refused, not only the near misses."""
    with pytest.raises(ConfigurationError):
        AesGcmCipher(Secret("k" * length))


def test_the_key_length_counts_bytes_not_characters() -> None:
    """Eight two-byte characters are a 16-byte key, as KEB takes the raw bytes of the variable."""
    cipher = AesGcmCipher(Secret("é" * 8))
    assert cipher.decrypt(cipher.encrypt(Secret(VALUE))).reveal() == VALUE


def test_the_cipher_does_not_show_its_key() -> None:
    """The cipher's repr hides the key."""
    assert KEY not in repr(AesGcmCipher(Secret(KEY)))


# --- the embedded run's key file ------------------------------------------------------------------


def test_the_local_key_is_created_owner_only(tmp_path: Path) -> None:
    """The first call writes a usable 32-byte key into the data directory with mode 0600."""
    data_dir = tmp_path / "data"
    key = local_secret_key(data_dir)
    path = data_dir / "database-secret-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="ascii") == key.reveal()
    assert len(key.reveal().encode()) == 32
    cipher = AesGcmCipher(key)
    assert cipher.decrypt(cipher.encrypt(Secret(VALUE))).reveal() == VALUE


def test_the_local_key_is_reused(tmp_path: Path) -> None:
    """Later calls read the same key and leave the file as it was, so stored bindings stay readable."""
    first = local_secret_key(tmp_path)
    path = tmp_path / "database-secret-key"
    written = path.stat()
    stored = AesGcmCipher(first).encrypt(Secret(VALUE))
    second = local_secret_key(tmp_path)
    assert second == first
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert AesGcmCipher(second).decrypt(stored).reveal() == VALUE


def test_local_keys_differ_between_data_directories(tmp_path: Path) -> None:
    """Each data directory gets its own random key."""
    assert local_secret_key(tmp_path / "a") != local_secret_key(tmp_path / "b")
