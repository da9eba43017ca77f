"""``keb client`` through its entry point against a broker served on a loopback port, exit codes included."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keb_app.cli import main
from tests.integration.served.conftest import ServedBroker

FAST = ["--poll-interval", "0.1", "--timeout", "60"]


def keb(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``keb ...`` in-process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def keb_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code, out, err = keb(capsys, *argv, "--output", "json")
    assert out, err
    return code, json.loads(out)


@pytest.fixture
def driven(served_broker: ServedBroker, monkeypatch: pytest.MonkeyPatch) -> ServedBroker:
    """The broker, with KEB_URL and KEB_TOKEN set as the README tells a user to."""
    monkeypatch.setenv("KEB_URL", served_broker.url)
    monkeypatch.setenv("KEB_TOKEN", served_broker.token())
    for name in ("KEB_CLIENT_ID", "KEB_CLIENT_SECRET", "KEB_TOKEN_URL"):
        monkeypatch.delenv(name, raising=False)
    return served_broker


def test_provision_bind_unbind_deprovision_round_trip(
    driven: ServedBroker, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two runtimes provisioned concurrently, listed, bound, unbound and deprovisioned, each exiting 0."""
    code, results = keb_json(
        capsys, "client", "provision", "--plan", "aws", "--region", "eu-central-1", "--name", "cli",
        "--count", "2", "--concurrent", "2", *FAST,
    )  # fmt: skip
    assert code == 0
    assert [r["state"] for r in results] == ["succeeded", "succeeded"]
    assert sorted(r["name"] for r in results) == ["cli-1", "cli-2"]
    instance = results[0]["instance_id"]

    code, page = keb_json(capsys, "client", "runtimes", "--plan", "aws", "--state", "succeeded")
    assert code == 0
    assert {r["instanceID"] for r in page["data"]} == {r["instance_id"] for r in results}

    code, out, _ = keb(capsys, "client", "status", instance)
    assert (code, "succeeded" in out) == (0, True)

    kubeconfig = tmp_path / "cluster.yaml"
    code, out, _ = keb(
        capsys, "client", "bind", instance, "--binding-id", "b1", "--kubeconfig", str(kubeconfig)
    )
    assert code == 0
    assert "expires at 20" in out
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    content = kubeconfig.read_text()
    assert "clusters:" in content
    assert content not in out  # the credential goes to the file only

    assert keb(capsys, "client", "unbind", instance, "b1")[0] == 0
    code, _, err = keb(capsys, "client", "unbind", instance, "b1")
    assert (code, "410" in err) == (1, True)

    code, done = keb_json(capsys, "client", "deprovision", instance, *FAST)
    assert (code, done["state"]) == (0, "succeeded")
    code, page = keb_json(capsys, "client", "runtimes", "--instance-id", instance)
    assert page["data"] == []


def test_update_waits_for_its_operation(driven: ServedBroker, capsys: pytest.CaptureFixture[str]) -> None:
    """An update that needs an operation is followed until it succeeds, and the instance shows the change."""
    code, results = keb_json(
        capsys, "client", "provision", "--plan", "aws", "--region", "eu-central-1", *FAST
    )
    assert code == 0
    instance = results[0]["instance_id"]
    code, update = keb_json(
        capsys, "client", "update", instance, "--parameters", '{"autoScalerMax": 30}', *FAST
    )
    assert (code, update["state"]) == (0, "succeeded")
    code, page = keb_json(capsys, "client", "runtimes", "--instance-id", instance)
    assert page["data"][0]["parameters"]["autoScalerMax"] == 30


def test_a_refused_provisioning_exits_1_and_says_why(
    driven: ServedBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provisioning the broker refuses (an invalid region) is a failed result and exit status 1."""
    code, results = keb_json(capsys, "client", "provision", "--plan", "aws", "--region", "mars-1", *FAST)
    assert code == 1
    assert results[0]["state"] == "failed"
    assert "400" in results[0]["description"]
    assert "region" in results[0]["description"]


def test_usage_errors_exit_2(driven: ServedBroker, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown plan or bad --parameters is a usage error (2) naming the problem."""
    code, _, err = keb(capsys, "client", "provision", "--plan", "no-such-plan")
    assert code == 2
    assert "no-such-plan" in err
    assert "aws" in err
    code, _, err = keb(capsys, "client", "provision", "--plan", "aws", "--parameters", "[1]")
    assert (code, "--parameters" in err) == (2, True)


def test_a_refused_token_exits_1_without_echoing_it(
    driven: ServedBroker, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token the broker refuses gives exit status 1 and the 401; the token never appears in the output."""
    token = "not-a-jwt-but-secret-ish-value"
    monkeypatch.setenv("KEB_TOKEN", token)
    code, out, err = keb(capsys, "client", "catalog")
    assert code == 1
    assert "401" in err
    assert token not in out + err


def test_an_unreachable_broker_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listening at the URL is exit status 1 with the URL in the message."""
    monkeypatch.delenv("KEB_TOKEN", raising=False)
    code, _, err = keb(capsys, "client", "--url", "http://127.0.0.1:9", "catalog")
    assert code == 1
    assert "http://127.0.0.1:9" in err


def test_client_credentials_are_exchanged_at_the_token_endpoint(
    driven: ServedBroker, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --client-id/--client-secret and no token, the client gets one from /oauth2/token and uses it."""
    monkeypatch.delenv("KEB_TOKEN")
    client = json.loads((driven.data_dir / "local-client.json").read_text())
    code, catalog = keb_json(
        capsys,
        "client",
        "catalog",
        "--client-id",
        client["client_id"],
        "--client-secret",
        client["client_secret"],
    )
    assert code == 0
    assert catalog["services"][0]["name"] == "kymaruntime"
    code, _, err = keb(
        capsys, "client", "catalog", "--client-id", client["client_id"], "--client-secret", "wrong"
    )
    assert code == 1
    assert "401" in err
    assert "wrong" not in err


def test_the_installed_console_script_reports_through_its_exit_status(driven: ServedBroker) -> None:
    """``keb client`` as a process: JSON and 0 for the catalog, 1 for unbinding an unknown instance."""
    script = Path(sys.executable).with_name("keb")
    env = {**os.environ, "KEB_URL": driven.url, "KEB_TOKEN": driven.token()}
    catalog = subprocess.run(  # noqa: S603 - the project's own console script
        [str(script), "client", "catalog", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert catalog.returncode == 0, catalog.stderr
    assert json.loads(catalog.stdout)["services"][0]["id"] == "47c9dcbf-ff30-448e-ab36-d3bad66ba281"
    unbind = subprocess.run(  # noqa: S603 - the project's own console script
        [str(script), "client", "unbind", "no-such-instance", "b1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert unbind.returncode == 1
    assert "no-such-instance" in unbind.stderr
