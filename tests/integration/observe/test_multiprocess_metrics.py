"""With several worker processes, any one of them answers ``/metrics`` for all (prometheus multi-process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from keb_adapters.metrics import MULTIPROC_ENV

# A worker process: started with PROMETHEUS_MULTIPROC_DIR in its environment, as the server starts them.
RECORD = """
from keb_adapters.metrics import Metrics
metrics = Metrics()
metrics.request("GET", "/healthz", 200, 0.01)
metrics.cluster_error("unavailable")
metrics.busy_workers(2)
"""
RENDER = """
from datetime import datetime
from keb_adapters.metrics import Metrics
print(Metrics().render(None, datetime.now()).decode())
"""
# The server before it starts its workers: a fresh directory for this run.
PREPARE = """
import sys
from pathlib import Path
from keb_adapters.metrics import enable_multiprocess
enable_multiprocess(Path(sys.argv[1]))
"""


def python(script: str, directory: Path) -> str:
    environment = {**os.environ, MULTIPROC_ENV: str(directory)}
    result = subprocess.run(  # noqa: S603  # this interpreter with a fixed script
        [sys.executable, "-c", script, str(directory)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_counts_of_all_worker_processes_are_summed(tmp_path: Path) -> None:
    """Two processes count one request each; a third process's scrape shows two."""
    directory = tmp_path / "metrics"
    python(PREPARE, directory)
    python(RECORD, directory)
    python(RECORD, directory)
    text = python(RENDER, directory)
    assert 'keb_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in text
    assert 'keb_cluster_call_errors_total{kind="unavailable"} 2.0' in text


def test_a_new_run_starts_from_zero(tmp_path: Path) -> None:
    """enable_multiprocess empties the directory, so counts of an earlier run are not summed in."""
    directory = tmp_path / "metrics"
    python(PREPARE, directory)
    python(RECORD, directory)
    python(PREPARE, directory)
    assert 'route="/healthz"' not in python(RENDER, directory)


SERVE_PREPARES = """
import os, sys
from keb_app.cli import prepare_metrics
from keb_app.settings import Settings
prepare_metrics(Settings.from_env({"APP_DATA_DIR": sys.argv[1]}), processes=int(sys.argv[2]))
print(os.environ.get("PROMETHEUS_MULTIPROC_DIR", "unset"))
"""


def test_several_server_processes_share_a_directory_under_the_data_directory(tmp_path: Path) -> None:
    """Several processes without PROMETHEUS_MULTIPROC_DIR use {APP_DATA_DIR}/metrics; one needs none."""
    environment = {name: value for name, value in os.environ.items() if name != MULTIPROC_ENV}

    def prepared(processes: int) -> str:
        result = subprocess.run(  # noqa: S603  # this interpreter with a fixed script
            [sys.executable, "-c", SERVE_PREPARES, str(tmp_path), str(processes)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert prepared(1) == "unset"
    assert prepared(2) == str(tmp_path / "metrics")
    assert (tmp_path / "metrics").is_dir()
