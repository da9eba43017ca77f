"""One HTTPS server on loopback hosting many in-memory Kubernetes clusters under path prefixes.

Cluster ``kcp`` is served at ``https://127.0.0.1:PORT/clusters/kcp``; clients append ``/api/v1/...`` as
they would to any API server URL. The server runs in its own thread (stdlib ``ThreadingHTTPServer`` and
``ssl``), so it is independent of any asyncio loop of the caller, and the official Python client and
kubectl both talk to it over real TLS with real CA data, bearer tokens and client certificates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from keb_app.landscape import _kubeconfig
from keb_app.landscape._auth import Credentials, PresentedCertificate
from keb_app.landscape._certificates import ClientCertificates
from keb_app.landscape._errors import ApiError, bad_request, unknown_resource
from keb_app.landscape._faults import Fault
from keb_app.landscape._pki import IssuedCertificate
from keb_app.landscape._resources import ResourceRegistry, default_registry
from keb_app.landscape._routing import ApiRequest
from keb_app.landscape._state import ChangeWriter, StateDirectory
from keb_app.landscape.cluster import FakeCluster

JsonObject = dict[str, Any]

_log = logging.getLogger(__name__)

_CLUSTER_PATH = re.compile(r"^/clusters/(?P<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)(?P<rest>/.*)?$")
_CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_STATE_FILE = "landscape.json"
#: The pending entry of the landscape's own document among the changed clusters' names (never a name).
_LANDSCAPE = ""
_FAULT_REASONS = {
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    502: ("", "Bad Gateway"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted"),
}


class _Handler(BaseHTTPRequestHandler):
    """Parses HTTP, finds the cluster, applies injected faults and writes JSON answers."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and delayed
    # ACKs add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server_version = "kube-apiserver-double"
    sys_version = ""
    server: _HttpServer

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors (bad request line, unknown method) as a JSON Status, never an HTML page."""
        reason = {400: "BadRequest", 405: "MethodNotAllowed", 501: "MethodNotAllowed"}.get(code, "")
        self.close_connection = True
        error = ApiError(405 if code == 501 else code, reason, message or explain or "bad request")
        self._send_json(error.code, error.to_status())

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, body: JsonObject, headers: Iterable[tuple[str, str]] = ()) -> None:
        self._send_encoded(status, json.dumps(body).encode("utf-8"), headers)

    def _send_encoded(self, status: int, data: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _serve(self) -> None:
        apiserver = self.server.apiserver
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send_json(400, bad_request("the request body could not be read").to_status())
            return
        url = urlsplit(self.path)
        match = _CLUSTER_PATH.match(url.path)
        cluster = apiserver.find_cluster(match["name"]) if match else None
        if match is None or cluster is None:
            self._send_json(404, unknown_resource().to_status())
            return
        path = match["rest"] or "/"
        fault = cluster.take_fault(self.command, path)
        if fault is not None:
            self._answer_fault(cluster, fault, path, url.query)
            return
        authorization = self.headers.get("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        request = ApiRequest(
            method=self.command,
            path=path,
            query={k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()},
            content_type=self.headers.get("Content-Type"),
            accept=self.headers.get("Accept") or "application/json",
            body=body,
            credentials=Credentials(
                bearer_token=token.strip() if scheme.lower() == "bearer" and token.strip() else None,
                certificate=apiserver.presented_certificate(self.connection),
            ),
            server_address=self.headers.get("Host") or f"{apiserver.host}:{apiserver.port}",
            path_prefix=f"/clusters/{cluster.name}",
        )
        try:
            response = cluster.handle(request)
        except Exception:  # a bug in the double must still answer, as kube-apiserver answers 500
            _log.exception("the API double failed on %s %s", self.command, path)
            error = ApiError(500, "InternalError", "Internal error occurred: the API double failed")
            self._send_json(500, error.to_status())
            return
        self._send_encoded(response.status, response.body)

    def _answer_fault(self, cluster: FakeCluster, fault: Fault, path: str, query: str) -> None:
        if fault.action in ("timeout", "drop"):
            cluster.record(self.command, path, 0, query)  # status 0: no answer was sent
            if fault.action == "timeout":
                # Hold the request longer than a client's timeout (or until the server stops), then hang up.
                self.server.stopping.wait(fault.delay)
            self.close_connection = True
            return
        status = int(fault.action)
        reason, message = _FAULT_REASONS.get(status, ("", f"injected fault {status}"))
        cluster.record(self.command, path, status, query)
        headers = [("Retry-After", "1")] if status == 429 else []
        error = ApiError(status, reason, message)
        self._send_json(status, error.to_status(), headers)


class _HttpServer(ThreadingHTTPServer):
    """Threaded HTTP server that performs the TLS handshake in each connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], apiserver: KubeApiServer, context: ssl.SSLContext) -> None:
        self.apiserver = apiserver
        self.context = context
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(30)
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            _log.debug("TLS handshake with %s failed: %s", client_address, error)
            with contextlib.suppress(OSError):
                request.close()
            return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            connection.settimeout(120)
            _Handler(connection, client_address, self)
        except (OSError, ssl.SSLError) as error:
            _log.debug("connection from %s ended: %s", client_address, error)
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            with contextlib.suppress(OSError):
                connection.close()

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class KubeApiServer:
    """A stateful Kubernetes API double over HTTPS, hosting clusters at ``/clusters/{name}``.

    Args:
        host: address to bind; also put into the serving certificate.
        port: port to bind, 0 for an ephemeral one. Reuse the same port (and ``state_dir``) to keep
            earlier kubeconfigs working across restarts.
        state_dir: when given, CA, clusters, objects, issued certificates and admin tokens are
            written to this directory (owner-only files) soon after each change, by a writer thread
            while serving and completely by :meth:`stop`, and reloaded on :meth:`start`.
        clock: epoch seconds; drives timestamps, token and certificate validity (tests pass a fake).
        registry: the resources every cluster serves.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
        *,
        clock: Callable[[], float] = time.time,
        registry: ResourceRegistry | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._state = StateDirectory(state_dir) if state_dir is not None else None
        self._clock = clock
        self._registry = registry or default_registry()
        self._lock = threading.RLock()
        self._clusters: dict[str, FakeCluster] = {}
        self._certificates = ClientCertificates(clock)
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._writer = ChangeWriter(self._write)
        self._served_port: int | None = None  # the port of the last start, kept in the state after stop

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "stopped"
        return f"KubeApiServer({where}, clusters={sorted(self._clusters)})"

    # --- lifecycle ----------------------------------------------------------------------------------

    @staticmethod
    def persisted_port(state_dir: Path) -> int | None:
        """The port a server with this state directory last listened on, if any."""
        try:
            document = json.loads((state_dir / _STATE_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        port = document.get("port")
        return port if isinstance(port, int) and port > 0 else None

    def start(self) -> KubeApiServer:
        """Load persisted state (if any), bind, and serve in a background thread."""
        if self._httpd is not None:
            raise RuntimeError("the API server is already running")
        self._load()
        context = self._certificates.server_context(self.host)
        httpd = _HttpServer((self.host, self._requested_port), self, context)
        self._httpd = httpd
        self._served_port = int(httpd.server_address[1])
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            # stop() waits up to one poll interval; short keeps test teardown fast, the idle cost is nil.
            kwargs={"poll_interval": 0.02},
            name="keb-landscape-apiserver",
            daemon=True,
        )
        self._thread.start()
        if self._state is not None:
            self._writer.start()
        self._write_landscape()  # at once: the port is read from it before the next start
        _log.info("Kubernetes API double serving at %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection; state stays on disk."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=10)
        self._httpd = None
        self._thread = None
        self._writer.stop()

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the API server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def now(self) -> float:
        """The server's clock (epoch seconds): what timestamps and credential validity use."""
        return self._clock()

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate every cluster's serving certificate chains to."""
        return self._certificates.authority.cert_pem

    def cluster_url(self, name: str) -> str:
        """The server URL of a cluster, as kubeconfigs carry it."""
        return f"{self.base_url}/clusters/{name}"

    # --- clusters -----------------------------------------------------------------------------------

    def add_cluster(self, name: str, namespaces: Iterable[str] = ("default",)) -> FakeCluster:
        """Create an empty cluster with the given namespaces.

        Raises:
            ValueError: the name is not a DNS label or the cluster exists.
        """
        if not _CLUSTER_NAME.match(name) or len(name) > 63:
            raise ValueError(f"cluster name {name!r} must be a lowercase DNS label")
        cluster = FakeCluster(name, registry=self._registry, host=self, clock=self._clock)
        with self._lock:
            if name in self._clusters:
                raise ValueError(f"cluster {name!r} exists already")
            self._clusters[name] = cluster
            self._save()
        for namespace in namespaces:
            cluster.ensure_namespace(namespace)
        self.cluster_changed(cluster)
        return cluster

    def remove_cluster(self, name: str) -> None:
        """Forget a cluster and revoke the client certificates issued for it (missing is fine)."""
        with self._lock:
            if self._clusters.pop(name, None) is None:
                return
            self._certificates.revoke_cluster(name)
            if self._state is not None:
                self._state.remove(f"clusters/{name}.json")
            self._write_landscape()  # at once: it must not list a cluster whose file is gone

    def cluster(self, name: str) -> FakeCluster:
        """The cluster named ``name``.

        Raises:
            KeyError: no such cluster.
        """
        with self._lock:
            return self._clusters[name]

    def find_cluster(self, name: str) -> FakeCluster | None:
        with self._lock:
            return self._clusters.get(name)

    @property
    def clusters(self) -> list[str]:
        with self._lock:
            return sorted(self._clusters)

    # --- credentials --------------------------------------------------------------------------------

    def issue_client_certificate(
        self,
        cluster: str,
        *,
        common_name: str = "kubernetes-admin",
        organizations: tuple[str, ...] = ("system:masters",),
        not_before: float | None = None,
        not_after: float | None = None,
    ) -> IssuedCertificate:
        """A client certificate accepted by ``cluster`` only, between ``not_before`` and ``not_after``
        (epoch seconds of the server's clock; default: now until a year from now)."""
        now = self._clock()
        start = now - 60 if not_before is None else not_before
        end = now + 365 * 24 * 3600 if not_after is None else not_after
        issued = self._certificates.issue(cluster, common_name, organizations, start, end)
        self._save()
        return issued

    def presented_certificate(self, connection: Any) -> PresentedCertificate | None:
        """What the landscape issued the peer's (CA-verified) client certificate for, if anything."""
        return self._certificates.presented(connection)

    def admin_kubeconfig(
        self, cluster: str, auth: Literal["token", "certificate"] = "token", *, context: str | None = None
    ) -> JsonObject:
        """A kubeconfig with full access to ``cluster`` via its admin token or a fresh client certificate.

        Raises:
            KeyError: no such cluster.
        """
        target = self.cluster(cluster)
        name = context or cluster
        if auth == "token":
            user = _kubeconfig.token_user(target.admin_token)
        else:
            issued = self.issue_client_certificate(cluster)
            user = _kubeconfig.certificate_user(issued.cert_pem, issued.key_pem)
        return _kubeconfig.build_kubeconfig(
            [(name, self.cluster_url(cluster))], self.ca_pem, f"{name}-admin", user
        )

    def cluster_for_url(self, url: str) -> str | None:
        """The name of the cluster a server URL of this landscape points at (by its path)."""
        match = _CLUSTER_PATH.match(urlsplit(url).path.rstrip("/") or "/")
        return match["name"] if match else None

    # --- ClusterHost --------------------------------------------------------------------------------

    def shoot_admin_kubeconfig(
        self,
        addresses: list[tuple[str, str]],
        common_name: str,
        organizations: tuple[str, ...],
        not_before: float,
        not_after: float,
    ) -> JsonObject:
        """Gardener's admin kubeconfig: a certificate valid for the cluster behind the first address.

        Unlike Gardener, the server URL keeps its path, since the landscape serves clusters under
        ``/clusters/{name}`` rather than on their own host names.
        """
        cluster = self.cluster_for_url(addresses[0][1]) or ""
        issued = self.issue_client_certificate(
            cluster,
            common_name=common_name,
            organizations=organizations,
            not_before=not_before,
            not_after=not_after,
        )
        user = _kubeconfig.certificate_user(issued.cert_pem, issued.key_pem)
        return _kubeconfig.build_kubeconfig(addresses, self.ca_pem, addresses[0][0], user)

    def cluster_changed(self, cluster: FakeCluster) -> None:
        """Note that a cluster changed, to be written to the state directory (called with its lock held)."""
        if self._state is not None:
            self._writer.changed(cluster.name)

    def _write(self, names: set[str]) -> None:
        """Write the changed clusters' snapshots (taken outside the server's lock, as requests lock the
        cluster first and the server second), and the landscape's own document if it changed."""
        if _LANDSCAPE in names:
            self._write_landscape()
        for name in sorted(names - {_LANDSCAPE}):
            cluster = self.find_cluster(name)
            if cluster is None or self._state is None:
                continue  # removed meanwhile
            snapshot = cluster.snapshot()
            with self._lock:
                if self._clusters.get(name) is not cluster:
                    continue  # removed meanwhile: do not resurrect its file
                self._state.write(f"clusters/{name}.json", snapshot)

    # --- internals ----------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._state is None:
            return
        document = self._state.read(_STATE_FILE)
        if document is None:
            return
        self._certificates.load(document)
        for name in document.get("clusters", []):
            snapshot = self._state.read(f"clusters/{name}.json")
            if snapshot is None:
                _log.warning("state of cluster %s is missing; it starts empty", name)
                self._clusters[name] = FakeCluster(
                    name, registry=self._registry, host=self, clock=self._clock
                )
                continue
            self._clusters[name] = FakeCluster.from_snapshot(
                snapshot, registry=self._registry, host=self, clock=self._clock
            )

    def _save(self) -> None:
        """Have the landscape's own document written: soon by the writer thread while serving (each
        issued certificate adds to it), else at once."""
        if self._state is not None:
            self._writer.changed(_LANDSCAPE)

    def _write_landscape(self) -> None:
        """Write the landscape's own document (CA, issued certificates, cluster names) now."""
        if self._state is None:
            return
        with self._lock:
            document = {
                "version": 1,
                "port": self._served_port,
                **self._certificates.to_document(),
                "clusters": sorted(self._clusters),
            }
            self._state.write(_STATE_FILE, document)
