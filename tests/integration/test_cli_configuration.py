"""The ``keb`` command's configuration paths: `keb config docs` and a bad variable at startup."""

from __future__ import annotations

import pytest

from keb_app.cli import main
from keb_app.variables import render_document

BASE = {"APP_DATA_DIR": "/nonexistent-keb-test-dir", "APP_AUTH_MODE": "none"}


def test_keb_config_docs_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    """`keb config docs` writes the generated document to stdout, needing no configuration."""
    main(["config", "docs"])
    assert capsys.readouterr().out == render_document()


def test_a_bad_value_stops_the_cli_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """`keb` exits with status 2 and one line naming the variable, not a traceback."""
    import os

    saved = dict(os.environ)
    os.environ.update({**BASE, "APP_BROKER_PORT": "eighty"})
    try:
        with pytest.raises(SystemExit) as stopped:
            main(["migrate"])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "APP_BROKER_PORT" in err
    assert "Traceback" not in err
