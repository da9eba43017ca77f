"""Key material of the landscape: a CA, TLS and client certificates, and RS256 service-account tokens
(signed and verified with ``joserfc``).

Everything is generated with ``cryptography``. Private keys and tokens are plain ``bytes``/``str`` values
handed to the caller; nothing here logs or formats them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import secrets
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.jwt import JWTClaimsRegistry

_UTC = dt.UTC
_ALGORITHM = "RS256"


def _private_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def new_tls_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key: fast to generate, accepted by OpenSSL, Go's crypto/tls and kubectl."""
    return ec.generate_private_key(ec.SECP256R1())


def new_signing_key() -> rsa.RSAPrivateKey:
    """An RSA key for RS256 service-account tokens, as kube-apiserver typically uses."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def load_private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


@attrs.frozen(repr=False)
class IssuedCertificate:
    """A client certificate and its key (PEM), with the SHA-256 fingerprint the server maps to a cluster."""

    cert_pem: bytes
    key_pem: bytes
    fingerprint: str
    not_before: dt.datetime
    not_after: dt.datetime

    def __repr__(self) -> str:
        return f"IssuedCertificate(fingerprint={self.fingerprint[:12]}..., not_after={self.not_after})"


def fingerprint_der(der: bytes) -> str:
    """The SHA-256 fingerprint (hex) of a DER certificate, as the server sees a peer's certificate."""
    return hashlib.sha256(der).hexdigest()


class CertificateAuthority:
    """The landscape's one CA; every cluster's server certificate and client certificate chain to it."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self._key = key
        self.cert = cert

    def __repr__(self) -> str:
        return f"CertificateAuthority(subject={self.cert.subject.rfc4514_string()!r})"

    @classmethod
    def generate(cls, common_name: str = "keb-local-landscape-ca") -> CertificateAuthority:
        key = new_tls_key()
        now = dt.datetime.now(_UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes) -> CertificateAuthority:
        key = load_private_key(key_pem)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the stored CA key is not an EC key")
        return cls(key, x509.load_pem_x509_certificate(cert_pem))

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _private_pem(self._key)

    def _leaf(
        self,
        subject: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        not_before: dt.datetime,
        not_after: dt.datetime,
        usage: x509.ObjectIdentifier,
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )

    def issue_server(self, hosts: list[str]) -> tuple[bytes, bytes]:
        """A serving certificate for the given IPs and DNS names; returns (cert PEM, key PEM)."""
        key = new_tls_key()
        now = dt.datetime.now(_UTC)
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        cert = (
            self._leaf(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
                key,
                now - dt.timedelta(minutes=5),
                now + dt.timedelta(days=3650),
                ExtendedKeyUsageOID.SERVER_AUTH,
            )
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _private_pem(key)

    def issue_client(
        self,
        common_name: str,
        organizations: tuple[str, ...],
        not_before: dt.datetime,
        not_after: dt.datetime,
    ) -> IssuedCertificate:
        """A client certificate (CN = user, O = groups), as kube-apiserver's x509 authenticator reads it."""
        key = new_tls_key()
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        cert = self._leaf(
            x509.Name(attributes), key, not_before, not_after, ExtendedKeyUsageOID.CLIENT_AUTH
        ).sign(self._key, hashes.SHA256())
        der = cert.public_bytes(serialization.Encoding.DER)
        return IssuedCertificate(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=_private_pem(key),
            fingerprint=fingerprint_der(der),
            not_before=not_before,
            not_after=not_after,
        )


# --- service-account tokens -------------------------------------------------------------------------


class InvalidTokenError(Exception):
    """The bearer token is not a JWT signed by this key (the reason is for debugging, never shown)."""


class TokenSigner:
    """A cluster's service-account signing key: issues and verifies RS256 JWTs (with ``joserfc``)."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key
        self._jwk = RSAKey.import_key(_private_pem(key))
        public_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # kube-apiserver derives the key id from the SHA-256 of the DER public key.
        self.key_id = base64.urlsafe_b64encode(hashlib.sha256(public_der).digest()).rstrip(b"=").decode()

    def __repr__(self) -> str:
        return f"TokenSigner(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> TokenSigner:
        return cls(new_signing_key())

    @classmethod
    def from_pem(cls, pem: bytes) -> TokenSigner:
        key = load_private_key(pem)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the stored service-account key is not an RSA key")
        return cls(key)

    @property
    def key_pem(self) -> bytes:
        return _private_pem(self._key)

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS with kube-apiserver's header: ``alg`` and ``kid``, no ``typ``."""
        header = {"alg": _ALGORITHM, "kid": self.key_id}
        return jwt.encode(header, claims, self._jwk, algorithms=[_ALGORITHM], default_type=None)

    def verify(self, token: str, claims: JWTClaimsRegistry) -> dict[str, Any]:
        """The claims of a token this key signed, once ``claims`` accepts them.

        Raises:
            InvalidTokenError: malformed, another algorithm or key, a bad signature or rejected claims.
        """
        try:
            decoded = jwt.decode(token, self._jwk, algorithms=[_ALGORITHM])
            if decoded.header.get("kid") != self.key_id:
                raise InvalidTokenError("signed with another key")
            claims.validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise InvalidTokenError(type(error).__name__) from error
        return decoded.claims


def new_bearer_token() -> str:
    """A random opaque admin token."""
    return secrets.token_urlsafe(32)
