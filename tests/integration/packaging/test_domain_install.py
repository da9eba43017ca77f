"""docs/domain.md's install line, run for real: a fresh virtual environment gets the domain alone.

pip takes the dependencies from its cache when it has them, else from the index, so this test is slow
(tens of seconds) but it is the only proof that the base distribution needs no server dependency.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs_blocks import DOMAIN_PAGE, ROOT, code_blocks, domain_script

pytestmark = pytest.mark.slow

SERVER_MODULES = ("litestar", "sqlalchemy", "asyncpg", "aiohttp", "kubernetes", "uvicorn", "authlib")

PROBE = f"""
import importlib.util, json, sys
import keb_domain
server = {list(SERVER_MODULES)!r}
print(json.dumps({{
    "imported": sorted(m for m in server if m in sys.modules),
    "installed": sorted(m for m in server if importlib.util.find_spec(m) is not None),
    "file": keb_domain.__file__,
}}))
"""


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(  # noqa: S603
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def domain_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment in which the page's install line ran from the repository root."""
    (line,) = code_blocks(DOMAIN_PAGE, "sh")[0].strip().splitlines()
    command = shlex.split(line)
    assert command[0] == "pip", line
    venv = tmp_path_factory.mktemp("domain") / "venv"
    created = _run([sys.executable, "-m", "venv", str(venv)], cwd=ROOT)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    installed = _run([str(python), "-m", *command, "--quiet"], cwd=ROOT, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def test_the_domain_installs_and_imports_without_the_server_dependencies(domain_venv: Path) -> None:
    """``import keb_domain`` in that environment loads none of the server's packages, nor are they there."""
    probed = _run([str(domain_venv / "bin" / "python"), "-c", PROBE], cwd=domain_venv)
    assert probed.returncode == 0, probed.stderr
    found = json.loads(probed.stdout)
    assert found["imported"] == []
    assert found["installed"] == []
    assert Path(found["file"]).is_relative_to(domain_venv)  # the installed copy, not the repository's src


def test_the_page_examples_run_with_the_domain_alone(domain_venv: Path) -> None:
    """Every Python block of docs/domain.md runs in that environment."""
    ran = _run([str(domain_venv / "bin" / "python"), "-c", domain_script()], cwd=domain_venv)
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_the_broker_command_says_which_extra_it_needs(domain_venv: Path) -> None:
    """Without the server extra, ``keb`` fails with the install command instead of a bare ImportError."""
    ran = _run([str(domain_venv / "bin" / "keb"), "serve"], cwd=domain_venv)
    assert ran.returncode != 0
    assert "pip install 'keb[server]'" in ran.stderr
