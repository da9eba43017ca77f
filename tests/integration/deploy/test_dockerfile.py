"""The Dockerfile, checked statically: no Docker engine runs on these machines, and no linter is packaged.

The instructions are parsed (continuation lines joined) and the promises of the README checked: a
multi-stage build on a slim Python base, a non-root user matching the manifests' runAsUser, a health check
on the status port, and a build context that holds what the build copies and nothing else.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with comments dropped and continuation lines joined."""
    joined, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        joined.append(current + stripped)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    result = []
    for text in joined:
        keyword, _, arguments = text.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (after its FROM)."""
    found: list[list[tuple[str, str]]] = []
    for keyword, arguments in instructions():
        if keyword == "FROM":
            found.append([(keyword, arguments)])
        elif found:
            found[-1].append((keyword, arguments))
    return found


def default_args() -> dict[str, str]:
    return dict(
        arguments.split("=", 1)
        for keyword, arguments in instructions()
        if keyword == "ARG" and "=" in arguments
    )


def test_the_build_has_several_stages_on_a_slim_python_base() -> None:
    """At least two stages, all on a slim Python image whose version the package supports."""
    all_stages = stages()
    assert len(all_stages) >= 2
    base = default_args()["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", base), base
    minimum = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert tuple(int(p) for p in base.split(":")[1].split("-")[0].split(".")) >= tuple(
        int(p) for p in minimum.removeprefix(">=").split(".")
    )
    for stage in all_stages:
        assert stage[0][1].split()[0] == "${PYTHON_IMAGE}"


def test_the_final_stage_copies_only_the_build_result_and_runs_as_the_manifests_user() -> None:
    """The runtime stage copies from the build stage only and switches to uid 10001, as deploy/ runs it."""
    final = stages()[-1]
    copies = [arguments for keyword, arguments in final if keyword == "COPY"]
    assert copies
    assert all(arguments.startswith("--from=build ") for arguments in copies)
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the final stage must set a USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    deployment = yaml.safe_load((ROOT / "deploy" / "base" / "deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_the_health_check_asks_the_status_port() -> None:
    """HEALTHCHECK requests /healthz on the status port 8071, in exec form (no shell in the command)."""
    checks = [arguments for keyword, arguments in stages()[-1] if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    command = checks[0].split(" CMD ", 1)[1]
    argv = json.loads(command)
    assert "http://127.0.0.1:8071/healthz" in " ".join(argv)
    assert "8071" in dict(instructions())["EXPOSE"].split()


def test_the_image_runs_keb_serve() -> None:
    """ENTRYPOINT is the keb command and CMD its serve subcommand, both in exec form."""
    final = dict(stages()[-1])
    assert json.loads(final["ENTRYPOINT"]) == ["keb"]
    assert json.loads(final["CMD"]) == ["serve"]


def test_the_build_context_holds_what_the_build_copies_and_no_local_state() -> None:
    """.dockerignore lets in every COPY source of the build stage and keeps out .venv, .keb and .git."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        verdict = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            body = pattern.removeprefix("!").rstrip("/")
            if fnmatch.fnmatch(path, body) or path.startswith(body + "/"):
                verdict = negated
        return verdict

    sources = [
        source
        for keyword, arguments in stages()[0]
        if keyword == "COPY"
        for source in arguments.split()[:-1]
        if not source.startswith("--")
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert included(source), source
    for local_state in (".venv", ".keb", ".git", "tests", "deploy", "bench"):
        assert not included(local_state), local_state
