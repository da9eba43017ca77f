"""docs/architecture.md names real files: every module or package path it cites exists, so it cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
# `keb_domain/model/plans.py`, `keb_app/landscape/`, `_store.py` (a landscape module), ...
CITED = re.compile(r"`((?:keb_domain|keb_adapters|keb_app)/[\w/]+(?:\.py)?/?|_?\w+\.py)`")


def test_every_file_the_architecture_page_cites_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    cited = set(CITED.findall(text))
    assert len(cited) > 40  # the page is the map; an empty match would prove nothing
    source = ROOT / "src"
    modules = {path.name for path in source.rglob("*.py")}
    missing = [
        name for name in sorted(cited) if not ((source / name).exists() if "/" in name else name in modules)
    ]
    assert not missing, f"docs/architecture.md cites files that do not exist: {missing}"
