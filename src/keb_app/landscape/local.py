"""Start-up of the local landscape: API double with KCP and garden clusters, KIM simulator, kubeconfigs.

``make run`` calls :func:`start_local_landscape` in-process and hands the kubeconfig paths to the broker's
ordinary configuration (``APP_KCP_KUBECONFIG``, ``APP_GARDENER_KUBECONFIG_PATH``), so the broker uses the same
Kubernetes adapter as in production. ``python -m keb_app.landscape`` runs it on its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal

import attrs

from keb_app.landscape import _kubeconfig
from keb_app.landscape.apiserver import KubeApiServer
from keb_app.landscape.kim import JsonObject, KimSimulator

_log = logging.getLogger(__name__)

KCP = "kcp"
GARDEN = "garden"


@attrs.frozen
class LocalLandscape:
    """A running landscape: the API server, the KIM simulator and admin kubeconfig files per cluster."""

    server: KubeApiServer
    kim: KimSimulator
    kubeconfigs: Mapping[str, Path]

    @property
    def kcp_kubeconfig(self) -> Path:
        return self.kubeconfigs[KCP]

    @property
    def garden_kubeconfig(self) -> Path:
        return self.kubeconfigs[GARDEN]

    def close(self) -> None:
        """Stop KIM, then the server (state stays in the state directory, if one was given)."""
        self.kim.stop()
        self.server.stop()

    def __enter__(self) -> LocalLandscape:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def _start_server(host: str, port: int | None, state_dir: Path | None) -> KubeApiServer:
    wanted = port
    if wanted is None:
        wanted = (KubeApiServer.persisted_port(state_dir) if state_dir is not None else None) or 0
    try:
        return KubeApiServer(host, wanted, state_dir).start()
    except OSError:
        if port is not None or wanted == 0:
            raise
        # The remembered port is taken: serve elsewhere; kubeconfigs written earlier must be refreshed.
        _log.warning("port %s is in use; the local landscape takes another one", wanted)
        return KubeApiServer(host, 0, state_dir).start()


def start_local_landscape(
    kubeconfig_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    state_dir: Path | None = None,
    ready_after: float = 3.0,
    project: str = "kyma-dev",
    auth: Literal["token", "certificate"] = "token",
    fail_when: Callable[[JsonObject], str | None] | None = None,
) -> LocalLandscape:
    """Start the landscape and write admin kubeconfigs ``kcp.yaml`` and ``garden.yaml`` (mode 0600).

    Args:
        kubeconfig_dir: where the kubeconfig files go (created if missing).
        port: port to serve on; None reuses the port remembered in ``state_dir`` (else an ephemeral one),
            so kubeconfigs printed by an earlier run keep working.
        state_dir: persist clusters, objects and credentials there; None keeps everything in memory.
        ready_after: seconds until KIM turns a new or updated Runtime ``Ready``.
        project: Gardener project; its namespace ``garden-{project}`` holds the Shoots.
        auth: how the written kubeconfigs authenticate.
        fail_when: names Runtimes that KIM turns ``Failed`` (with the message it returns).
    """
    server = _start_server(host, port, state_dir)
    try:
        kcp = server.find_cluster(KCP) or server.add_cluster(KCP, namespaces=("default", "kcp-system"))
        kcp.ensure_namespace("kcp-system")
        garden = server.find_cluster(GARDEN) or server.add_cluster(GARDEN, namespaces=("default",))
        garden.ensure_namespace(f"garden-{project}")
        kubeconfig_dir.mkdir(parents=True, exist_ok=True)
        kubeconfigs: dict[str, Path] = {}
        for name in (KCP, GARDEN):
            path = kubeconfig_dir / f"{name}.yaml"
            _write_private(path, _kubeconfig.dump(server.admin_kubeconfig(name, auth)))
            kubeconfigs[name] = path
        kim = KimSimulator(
            server, kcp=KCP, garden=GARDEN, project=project, ready_after=ready_after, fail_when=fail_when
        ).start()
    except BaseException:
        server.stop()
        raise
    _log.info(
        "local landscape at %s: an in-process Kubernetes API double with a KIM simulator; "
        "no real cluster is created",
        server.base_url,
    )
    return LocalLandscape(server=server, kim=kim, kubeconfigs=kubeconfigs)
