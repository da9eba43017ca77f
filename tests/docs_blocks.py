"""The code blocks of a Markdown page, for tests that run a page's examples so they cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_PAGE = ROOT / "docs" / "domain.md"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def code_blocks(page: Path, language: str) -> list[str]:
    """The bodies of the page's fenced blocks in ``language``, in order."""
    return [body for lang, body in _FENCE.findall(page.read_text(encoding="utf-8")) if lang == language]


def domain_script() -> str:
    """Every Python block of docs/domain.md, in order, as one script (later blocks use earlier names)."""
    return "\n".join(code_blocks(DOMAIN_PAGE, "python"))
