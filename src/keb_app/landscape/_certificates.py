"""The landscape's certificate authority, its TLS serving context and the client certificates it issued.

kube-apiserver's x509 authenticator trusts any certificate its CA signed and reads user and groups from it;
the landscape also remembers which cluster each certificate was issued for (by fingerprint), so a
certificate opens one cluster only and removing the cluster revokes it.
"""

from __future__ import annotations

import datetime as dt
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from keb_app.landscape._auth import PresentedCertificate
from keb_app.landscape._pki import CertificateAuthority, IssuedCertificate, fingerprint_der

JsonObject = dict[str, Any]

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: the TLS layer accepts an expired client certificate so that the
# authenticator can answer 401, as kube-apiserver does, instead of failing the handshake.
_NO_CHECK_TIME = 0x200000
#: How long an expired certificate stays in the saved document (for a request still under way).
_KEPT_AFTER_EXPIRY = 86400


class ClientCertificates:
    """The CA (generated when first needed) and the client certificates issued with it, thread-safe."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ca: CertificateAuthority | None = None
        self._issued: dict[str, JsonObject] = {}

    def __repr__(self) -> str:
        return f"ClientCertificates(issued={len(self._issued)})"

    @property
    def authority(self) -> CertificateAuthority:
        with self._lock:
            if self._ca is None:
                self._ca = CertificateAuthority.generate()
            return self._ca

    def issue(
        self,
        cluster: str,
        common_name: str,
        organizations: tuple[str, ...],
        not_before: float,
        not_after: float,
    ) -> IssuedCertificate:
        """A client certificate for ``cluster`` (CN = user, O = groups), valid between the two epochs."""
        issued = self.authority.issue_client(
            common_name,
            organizations,
            dt.datetime.fromtimestamp(not_before, dt.UTC),
            dt.datetime.fromtimestamp(not_after, dt.UTC),
        )
        with self._lock:
            self._issued[issued.fingerprint] = {
                "cluster": cluster,
                "user": common_name,
                "groups": list(organizations),
                "notBefore": not_before,
                "notAfter": not_after,
            }
        return issued

    def presented(self, connection: Any) -> PresentedCertificate | None:
        """What the peer's (CA-verified) client certificate was issued for, if this landscape issued it."""
        try:
            der = connection.getpeercert(binary_form=True)
        except (AttributeError, ValueError, OSError):
            return None
        if not der:
            return None
        with self._lock:
            entry = self._issued.get(fingerprint_der(der))
        if entry is None:
            return None
        return PresentedCertificate(
            cluster=entry["cluster"],
            user=entry["user"],
            groups=tuple(entry["groups"]),
            not_before=float(entry["notBefore"]),
            not_after=float(entry["notAfter"]),
        )

    def revoke_cluster(self, cluster: str) -> None:
        """Forget every certificate issued for ``cluster``."""
        with self._lock:
            self._issued = {fp: e for fp, e in self._issued.items() if e["cluster"] != cluster}

    def server_context(self, host: str) -> ssl.SSLContext:
        """TLS for serving on ``host`` and loopback; a client certificate is asked for, not required."""
        authority = self.authority
        hosts = [host, "127.0.0.1", "localhost", "::1"]
        cert_pem, key_pem = authority.issue_server(list(dict.fromkeys(hosts)))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(prefix="keb-landscape-tls-") as directory:
            cert_file, key_file = Path(directory) / "tls.crt", Path(directory) / "tls.key"
            cert_file.write_bytes(cert_pem)
            key_file.touch(mode=0o600)
            key_file.write_bytes(key_pem)
            context.load_cert_chain(cert_file, key_file)
        context.load_verify_locations(cadata=authority.cert_pem.decode("ascii"))
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags = ssl.VerifyFlags(int(context.verify_flags) | _NO_CHECK_TIME)
        return context

    def to_document(self) -> JsonObject:
        """The CA and the certificates not long expired, as the landscape's state document keeps them."""
        authority = self.authority
        now = self._clock()
        with self._lock:
            issued = {fp: e for fp, e in self._issued.items() if e["notAfter"] > now - _KEPT_AFTER_EXPIRY}
        return {
            "ca": {"key": authority.key_pem.decode("ascii"), "cert": authority.cert_pem.decode("ascii")},
            "issuedCertificates": issued,
        }

    def load(self, document: Mapping[str, Any]) -> None:
        """Restore what :meth:`to_document` wrote; expired certificates are dropped."""
        ca = document["ca"]
        now = self._clock()
        with self._lock:
            self._ca = CertificateAuthority.from_pem(ca["key"].encode("ascii"), ca["cert"].encode("ascii"))
            self._issued = {
                fp: e for fp, e in document.get("issuedCertificates", {}).items() if e["notAfter"] > now
            }
