"""docs/domain.md: its examples run, and what it says the library offers is what keb_domain exports."""

from __future__ import annotations

import contextlib
import io
import re

import keb_domain
from tests.docs_blocks import DOMAIN_PAGE, code_blocks, domain_script


def test_the_page_opens_with_the_one_line_install_of_the_domain() -> None:
    """The first block of the page is the single pip command that installs the base distribution."""
    text = DOMAIN_PAGE.read_text(encoding="utf-8")
    first = re.search(r"^```(\w*)\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    assert first is not None
    assert (first.group(1), first.group(2)) == ("sh", "pip install .\n")


def test_every_python_block_runs_in_order() -> None:
    """The page's Python blocks, run top to bottom in one namespace, raise nothing (their asserts hold)."""
    blocks = code_blocks(DOMAIN_PAGE, "python")
    assert len(blocks) >= 5
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(domain_script(), str(DOMAIN_PAGE), "exec"), {"__name__": "domain_docs"})  # noqa: S102
    assert "['aws', 'build-runtime-aws', 'free', 'preview', 'trial']" in printed.getvalue()
    assert "expiration_seconds cannot be less than 600" in printed.getvalue()


def test_every_public_name_is_exported_documented_and_importable() -> None:
    """``__all__`` names exist, and each appears both in the module docstring and on the page."""
    page = DOMAIN_PAGE.read_text(encoding="utf-8")
    doc = keb_domain.__doc__ or ""
    missing = [name for name in keb_domain.__all__ if not hasattr(keb_domain, name)]
    assert missing == []
    assert [name for name in keb_domain.__all__ if f"`{name}" not in doc] == []
    assert [name for name in keb_domain.__all__ if f"`{name}" not in page] == []
