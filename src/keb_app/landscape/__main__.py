"""``python -m keb_app.landscape``: run the local landscape until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from keb_app.landscape.local import start_local_landscape


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
        "--auth",
        choices=("token", "certificate"),
        default="token",
        help="kubeconfig credentials (default token)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    landscape = start_local_landscape(
        args.kubeconfig_dir,
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        ready_after=args.ready_after,
        project=args.project,
        auth=args.auth,
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
