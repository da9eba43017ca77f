"""``python -m keb_app.landscape``: run the local landscape until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from keb_app.landscape.local import LandscapePortInUseError, start_local_landscape
from keb_app.landscape.shared import ALREADY_RUNNING, LandscapeConfig, Serving, own_landscape, probe
from keb_app.logs import configure_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keb_app.landscape",
        description="Serve a Kubernetes API double (KCP, Gardener and runtime clusters) with a KIM "
        "simulator. No real cluster is created.",
    )
    parser.add_argument(
        "--kubeconfig-dir",
        type=Path,
        default=Path(".keb/landscape"),
        help="where kcp.yaml and garden.yaml go",
    )
    parser.add_argument("--port", type=int, default=None, help="port (default: the remembered one, else any)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="persist state here (default: in memory)"
    )
    parser.add_argument(
        "--ready-after", type=float, default=3.0, help="seconds until a Runtime turns Ready (default 3)"
    )
    parser.add_argument("--project", default="kyma-dev", help="Gardener project (default kyma-dev)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="serve the landscape of a broker data directory's landscape/ folder (kubeconfigs/, state/, "
        "lock, serving.json), refusing if another process serves it",
    )
    parser.add_argument(
        "--failing-subaccount-prefix",
        default="",
        help="KIM fails runtimes of subaccounts with this prefix (with --data-dir)",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=20,
        help="CredentialsBindings per dedicated hyperscaler account pool (default 20)",
    )
    parser.add_argument(
        "--runtime-configuration-name",
        default="keb-runtime-config",
        help="the runtime configuration ConfigMap seeded in kcp-system (default keb-runtime-config)",
    )
    parser.add_argument(
        "--seeds-cache-name",
        default="gardener-seeds-cache",
        help="the Gardener seeds cache ConfigMap seeded in kcp-system (default gardener-seeds-cache)",
    )
    parser.add_argument(
        "--kcr-config-map-name",
        default="consumption-reporter-config",
        help="the machine volume sizes ConfigMap seeded in kcp-system (default consumption-reporter-config)",
    )
    parser.add_argument("--log-level", default="INFO", help="log level (default INFO)")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="log lines (default text)"
    )
    parser.add_argument(
        "--stop-with-parent",
        action="store_true",
        help="stop when standard input closes (the broker that started this process is gone)",
    )
    parser.add_argument(
        "--auth",
        choices=("token", "certificate"),
        default="token",
        help="kubeconfig credentials (default token)",
    )
    return parser


def _serve_data_dir(args: argparse.Namespace, stop: threading.Event) -> int:
    """Serve the landscape of one data directory until stopped; refuse if another process serves it."""
    config = LandscapeConfig(
        root=args.data_dir,
        port=args.port or None,
        ready_after=args.ready_after,
        project=args.project,
        failing_subaccount_prefix=args.failing_subaccount_prefix,
        pool_size=args.pool_size,
        runtime_configuration_name=args.runtime_configuration_name,
        seeds_cache_name=args.seeds_cache_name,
        kcr_config_map_name=args.kcr_config_map_name,
    )
    try:
        owned = own_landscape(config)
    except LandscapePortInUseError as error:
        logging.getLogger("keb.landscape").error("%s", error)
        return 2
    if owned is None:
        found = probe(config)
        where = f" at {found.base_url} (pid {found.pid})" if isinstance(found, Serving) else ""
        sys.stderr.write(f"the local landscape of {config.root} already runs{where}; use that one\n")
        return ALREADY_RUNNING
    try:
        while not stop.wait(0.5):
            pass
    finally:
        owned.close()
    return 0


def _stop_when_stdin_closes(stop: threading.Event) -> None:
    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level.upper(), args.log_format)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if args.stop_with_parent:
        # The broker stops this process after its own workers, so steps that finish in the grace period
        # still reach the landscape; a Ctrl+C meant for the broker must not stop it first.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_when_stdin_closes(stop)
    else:
        signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    if args.data_dir is not None:
        return _serve_data_dir(args, stop)
    landscape = start_local_landscape(
        args.kubeconfig_dir,
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        ready_after=args.ready_after,
        project=args.project,
        auth=args.auth,
        pool_size=args.pool_size,
        runtime_configuration_name=args.runtime_configuration_name,
        seeds_cache_name=args.seeds_cache_name,
        kcr_config_map_name=args.kcr_config_map_name,
    )
    with landscape:
        out = sys.stdout
        out.write(
            f"Local landscape serving at {landscape.server.base_url} (an API double: no real cluster).\n"
        )
        for name, path in landscape.kubeconfigs.items():
            out.write(f"  {name:<7} kubeconfig: {path.resolve()}\n")
        out.write(
            "Use it with kubectl, for example:\n"
            f"  KUBECONFIG={landscape.kcp_kubeconfig.resolve()} kubectl get runtimes -n kcp-system\n"
            f"  KUBECONFIG={landscape.garden_kubeconfig.resolve()} "
            f"kubectl get shoots -n garden-{args.project}\n"
            "Runtime clusters appear as KIM provisions them; their kubeconfigs are in the KCP Secrets "
            "kcp-system/kubeconfig-<runtime>.\n"
            "Press Ctrl+C to stop.\n"
        )
        out.flush()
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
