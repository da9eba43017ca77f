"""One local landscape per data directory, whichever process starts it.

The landscape of a data directory is served by exactly one process: the one holding an exclusive ``flock``
on ``{data_dir}/landscape/lock``. It writes where it serves into ``serving.json`` beside the lock. Every other
process on the same data directory (a second ``keb serve``, ``keb cleanup-bindings``, each HTTP worker) uses
that landscape through the kubeconfigs it wrote: nobody else rewrites ``kubeconfigs/*.yaml`` or moves the
port, so kubectl commands and binding kubeconfigs issued earlier keep working.

``keb serve`` runs the landscape in a process of its own (:func:`start_or_attach`), so its API server threads
do not share the broker's GIL. That process watches a pipe from its parent and stops when the parent is gone,
even after a SIGKILL: no orphan keeps the port.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from keb_adapters.files import private_directory, private_file
from keb_app.landscape.local import LocalLandscape, start_local_landscape
from keb_domain.errors import ConfigurationError

_log = logging.getLogger("keb.landscape")

#: Exit status of a landscape process that found the data directory's landscape already running.
ALREADY_RUNNING = 3


@attrs.frozen
class LandscapeConfig:
    """How to start the landscape of one data directory."""

    root: Path  # {APP_DATA_DIR}/landscape
    port: int | None  # None: the remembered port (an ephemeral one the first time)
    ready_after: float
    project: str
    failing_subaccount_prefix: str
    pool_size: int = 20  # CredentialsBindings per dedicated hyperscaler account pool
    runtime_configuration_name: str = "keb-runtime-config"  # the seeded ConfigMap in kcp-system
    seeds_cache_name: str = "gardener-seeds-cache"  # the seeded seeds cache ConfigMap
    kcr_config_map_name: str = "consumption-reporter-config"  # the seeded machine volume sizes ConfigMap
    log_level: str = "INFO"  # the broker's, so the landscape's lines fit its log
    log_format: str = "text"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def serving_file(self) -> Path:
        return self.root / "serving.json"

    @property
    def kubeconfigs(self) -> Path:
        return self.root / "kubeconfigs"

    @property
    def state(self) -> Path:
        return self.root / "state"


@attrs.frozen
class Serving:
    """Where the landscape of a data directory serves, and which process serves it."""

    pid: int
    base_url: str


def failing_subaccounts(prefix: str) -> Callable[[Mapping[str, Any]], str | None] | None:
    """KIM fails runtimes of subaccounts named ``{prefix}...``, to show what a failure looks like."""
    if not prefix:
        return None

    def fails(runtime: Mapping[str, Any]) -> str | None:
        subaccount = str(
            runtime.get("metadata", {}).get("labels", {}).get("kyma-project.io/subaccount-id", "")
        )
        if subaccount.startswith(prefix):
            return f"simulated failure: subaccount {subaccount} starts with {prefix!r}"
        return None

    return fails


def _try_lock(path: Path) -> int | None:
    """A descriptor holding the exclusive lock on ``path``, or None when another process holds it."""
    private_directory(path.parent)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def _unlock(descriptor: int) -> None:
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    os.close(descriptor)


def probe(config: LandscapeConfig) -> Serving | Literal["free", "starting"]:
    """Who serves the data directory's landscape: a running one, nobody, or one that is starting."""
    descriptor = _try_lock(config.lock)
    if descriptor is not None:
        _unlock(descriptor)
        return "free"
    try:
        document = json.loads(config.serving_file.read_text(encoding="utf-8"))
        return Serving(pid=int(document["pid"]), base_url=str(document["base_url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return "starting"  # locked, but not written yet


@attrs.define
class OwnedLandscape:
    """This process serves the data directory's landscape and holds its lock until :meth:`close`."""

    config: LandscapeConfig
    landscape: LocalLandscape
    _lock: int | None

    def close(self) -> None:
        if self._lock is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.config.serving_file.unlink()
        try:
            self.landscape.close()
        finally:
            _unlock(self._lock)
            self._lock = None


def own_landscape(config: LandscapeConfig) -> OwnedLandscape | None:
    """Start the data directory's landscape in this process; None when another process serves it."""
    descriptor = _try_lock(config.lock)
    if descriptor is None:
        return None
    try:
        landscape = start_local_landscape(
            config.kubeconfigs,
            port=config.port,
            state_dir=config.state,
            ready_after=config.ready_after,
            project=config.project,
            fail_when=failing_subaccounts(config.failing_subaccount_prefix),
            pool_size=config.pool_size,
            runtime_configuration_name=config.runtime_configuration_name,
            seeds_cache_name=config.seeds_cache_name,
            kcr_config_map_name=config.kcr_config_map_name,
        )
    except BaseException:
        _unlock(descriptor)
        raise
    serving = {"pid": os.getpid(), "base_url": landscape.server.base_url}
    temporary = private_file(config.serving_file.with_suffix(".tmp"))  # owner-only, as the data directory
    temporary.write_text(json.dumps(serving), encoding="utf-8")
    temporary.replace(config.serving_file)
    return OwnedLandscape(config, landscape, descriptor)


@attrs.define
class LandscapeUse:
    """This process's use of the data directory's landscape: a child process it started, or another's."""

    serving: Serving
    process: subprocess.Popen[bytes] | None  # None: another process serves it
    stop_timeout: float = 15.0

    @property
    def owned(self) -> bool:
        return self.process is not None

    def alive(self) -> bool:
        return self.process is None or self.process.poll() is None

    def close(self) -> None:
        """Stop the landscape process this one started (closing its pipe tells it to stop)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            _log.warning("the local landscape (pid %d) did not stop in time; killing it", process.pid)
            process.kill()
            process.wait()
        _log.info("the local landscape stopped")


def _command(config: LandscapeConfig) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "keb_app.landscape",
        "--data-dir",
        str(config.root),
        "--ready-after",
        str(config.ready_after),
        "--project",
        config.project,
        "--failing-subaccount-prefix",
        config.failing_subaccount_prefix,
        "--pool-size",
        str(config.pool_size),
        "--runtime-configuration-name",
        config.runtime_configuration_name,
        "--seeds-cache-name",
        config.seeds_cache_name,
        "--kcr-config-map-name",
        config.kcr_config_map_name,
        "--stop-with-parent",
        "--log-level",
        config.log_level,
        "--log-format",
        config.log_format,
    ]
    if config.port is not None:
        command += ["--port", str(config.port)]
    return command


def start_or_attach(config: LandscapeConfig, timeout: float = 60.0) -> LandscapeUse:
    """Use the landscape that serves the data directory, or start it in a process of its own.

    Raises:
        ConfigurationError: the landscape could not start (its own message is in the log above), or did not
            come up within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe(config)
        if isinstance(found, Serving):
            _log.info(
                "using the local landscape that already serves %s at %s (pid %d)",
                config.root,
                found.base_url,
                found.pid,
            )
            return LandscapeUse(found, None)
        if found == "starting":
            time.sleep(0.05)
            continue
        # The child inherits stderr, so its log lines and error messages appear in the broker's log.
        process = subprocess.Popen(  # noqa: S603 - this interpreter and our own module
            _command(config), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True
        )
        while time.monotonic() < deadline:
            code = process.poll()
            if code == ALREADY_RUNNING:
                break  # another process won the lock a moment earlier: use its landscape
            if code is not None:
                raise ConfigurationError(
                    f"the local landscape of {config.root} did not start (exit status {code}); "
                    "its message is in the log above"
                )
            found = probe(config)
            if isinstance(found, Serving) and found.pid == process.pid:
                return LandscapeUse(found, process)
            time.sleep(0.05)
        else:
            process.kill()
            process.wait()
    raise ConfigurationError(f"the local landscape of {config.root} did not start within {timeout:.0f}s")
