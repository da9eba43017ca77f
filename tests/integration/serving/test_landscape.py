"""One landscape per data directory: other processes use it, restarts keep its port and kubeconfigs."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from tests.integration.serving.support import KEB, keb_env, running_broker, start_broker


def kubeconfig_files(data_dir: Path) -> dict[str, tuple[int, str]]:
    """Each landscape kubeconfig's modification time (ns) and text."""
    folder = data_dir / "landscape" / "kubeconfigs"
    return {path.name: (path.stat().st_mtime_ns, path.read_text()) for path in sorted(folder.glob("*.yaml"))}


def serving(data_dir: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((data_dir / "landscape" / "serving.json").read_text())
    return document


def test_a_cli_command_uses_the_running_landscape_and_rewrites_nothing(tmp_path: Path) -> None:
    """``keb cleanup-bindings`` beside a running broker uses its landscape; it rewrites no kubeconfig."""
    data_dir = tmp_path / "keb"
    with running_broker(data_dir) as broker:
        before, where = kubeconfig_files(data_dir), serving(data_dir)
        result = subprocess.run(  # noqa: S603 - our own console script
            [str(KEB), "cleanup-bindings"],
            env=keb_env(data_dir, broker.port, {}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "using the local landscape that already serves" in result.stderr
        assert kubeconfig_files(data_dir) == before
        assert serving(data_dir) == where
        assert broker.get().endswith(b"200 OK")


def test_a_second_broker_on_the_same_data_directory_shares_the_landscape(tmp_path: Path) -> None:
    """A second ``keb serve`` (another HTTP port) finds the landscape running and starts no other one."""
    data_dir = tmp_path / "keb"
    with running_broker(data_dir) as first:
        where = serving(data_dir)
        with running_broker(data_dir) as second:
            assert second.port != first.port
            assert serving(data_dir) == where
        assert serving(data_dir) == where  # the second one's stop left the landscape alone
        assert first.get().endswith(b"200 OK")


def test_a_restarted_broker_serves_the_landscape_on_the_same_port(tmp_path: Path) -> None:
    """After a stop and a start, the landscape's address and kubeconfig files are the same as before."""
    data_dir = tmp_path / "keb"
    with running_broker(data_dir):
        where, before = serving(data_dir)["base_url"], kubeconfig_files(data_dir)
    assert not (data_dir / "landscape" / "serving.json").exists()
    with running_broker(data_dir):
        assert serving(data_dir)["base_url"] == where
        assert kubeconfig_files(data_dir) == before


def test_a_broker_refuses_to_move_the_landscape_when_its_port_is_taken(tmp_path: Path) -> None:
    """Another program on the remembered port: ``keb serve`` exits naming the port, kubeconfigs untouched."""
    data_dir = tmp_path / "keb"
    with running_broker(data_dir):
        port = int(str(serving(data_dir)["base_url"]).rsplit(":", 1)[1])
        before = kubeconfig_files(data_dir)
    with socket.create_server(("127.0.0.1", port)):
        broker = start_broker(data_dir, wait=False)
        code = broker.process.wait(timeout=120)
    log = broker.log_text()
    assert code != 0
    assert f"port {port}" in log
    assert "APP_LOCAL_LANDSCAPE_PORT" in log
    assert kubeconfig_files(data_dir) == before


def test_a_second_broker_on_a_taken_port_exits_naming_it_and_leaves_the_landscape_alone(
    tmp_path: Path,
) -> None:
    """The HTTP port is checked first: the second broker exits 2 naming APP_BROKER_PORT; the first goes on."""
    data_dir = tmp_path / "keb"
    with running_broker(data_dir) as first:
        where = serving(data_dir)
        result = subprocess.run(  # noqa: S603 - our own console script
            [str(KEB), "serve"],
            env=keb_env(data_dir, first.port, {}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 2
        assert f"cannot listen on 127.0.0.1:{first.port} (APP_BROKER_HOST, APP_BROKER_PORT)" in result.stderr
        assert serving(data_dir) == where
        assert first.get().endswith(b"200 OK")
