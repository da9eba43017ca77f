"""Start-up of the local landscape: API double with KCP and garden clusters, KIM simulator, kubeconfigs.

``make run`` starts it in a process of its own (``keb_app.landscape.shared``), which calls
:func:`start_local_landscape`; the broker reads the kubeconfigs it writes, so it uses the same Kubernetes
adapter as in production. ``python -m keb_app.landscape`` runs it on its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal

import attrs

from keb_adapters.files import private_directory
from keb_app.landscape import _kubeconfig
from keb_app.landscape.apiserver import KubeApiServer
from keb_app.landscape.facts import kcr_volume_sizes, seeds_cache
from keb_app.landscape.kim import JsonObject, KimSimulator
from keb_app.landscape.pools import CREDENTIALS_BINDINGS, credentials_binding, local_pools
from keb_domain.model.resources import DEFAULT_KYMA_TEMPLATE
from keb_domain.model.runtime_config import DEFAULT_KEY, config_map_entry

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


class LandscapePortInUseError(OSError):
    """The port the landscape remembers is taken by another program; moving would break kubeconfigs."""


def _write_private(path: Path, text: str) -> None:
    """Write owner-only; an unchanged file is left alone (a restart on the same port rewrites nothing)."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def runtime_configuration(name: str) -> JsonObject:
    """KEB's runtime configuration ConfigMap with the built-in Kyma template for every plan."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "kcp-system", "labels": {"keb-config": "true"}},
        "data": {DEFAULT_KEY: config_map_entry(DEFAULT_KYMA_TEMPLATE)},
    }


def _start_server(host: str, port: int | None, state_dir: Path | None) -> KubeApiServer:
    wanted = port
    if wanted is None:
        wanted = (KubeApiServer.persisted_port(state_dir) if state_dir is not None else None) or 0
    try:
        return KubeApiServer(host, wanted, state_dir).start()
    except OSError as error:
        if port is not None or wanted == 0:
            raise
        # Never move: kubectl commands and binding kubeconfigs issued earlier name the remembered port.
        raise LandscapePortInUseError(
            f"the local landscape serves on port {wanted} (remembered in {state_dir}; the kubeconfigs it "
            f"issued name it), and another program now uses that port ({error.strerror}). Stop that "
            "program, or set APP_LOCAL_LANDSCAPE_PORT to move the landscape (kubeconfigs issued earlier "
            "then stop working)"
        ) from None


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
    pool_size: int = 20,
    runtime_configuration_name: str = "keb-runtime-config",
    seeds_cache_name: str = "gardener-seeds-cache",
    kcr_config_map_name: str = "consumption-reporter-config",
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
        pool_size: CredentialsBindings per dedicated hyperscaler account pool (missing ones are added;
            existing ones, with their claims, are kept).
        runtime_configuration_name: the runtime configuration ConfigMap seeded in ``kcp-system`` with the
            built-in Kyma template as ``default`` (an existing one, perhaps edited, is kept).
        seeds_cache_name: KEB's Gardener seeds cache ConfigMap seeded in ``kcp-system`` (kept if present).
        kcr_config_map_name: KEB's machine volume sizes ConfigMap seeded in ``kcp-system`` (kept if present).
    """
    server = _start_server(host, port, state_dir)
    try:
        kcp = server.find_cluster(KCP) or server.add_cluster(KCP, namespaces=("default", "kcp-system"))
        kcp.ensure_namespace("kcp-system")
        for config_map in (
            runtime_configuration(runtime_configuration_name),
            seeds_cache(seeds_cache_name),
            kcr_volume_sizes(kcr_config_map_name),
        ):
            if kcp.get("configmaps", config_map["metadata"]["name"], "kcp-system") is None:
                kcp.create("configmaps", config_map, "kcp-system")
        garden = server.find_cluster(GARDEN) or server.add_cluster(GARDEN, namespaces=("default",))
        namespace = f"garden-{project}"
        garden.ensure_namespace(namespace)
        for name, labels in local_pools(pool_size):
            if garden.get(CREDENTIALS_BINDINGS, name, namespace) is None:
                garden.create(CREDENTIALS_BINDINGS, credentials_binding(name, namespace, labels), namespace)
        private_directory(kubeconfig_dir)
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
        "local landscape at %s: a Kubernetes API double with a KIM simulator; no real cluster is created",
        server.base_url,
    )
    return LocalLandscape(server=server, kim=kim, kubeconfigs=kubeconfigs)
