"""Every install instruction a user can read points at the checkout, never at `consist` on the package index."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", ROOT / "notebooks" / "quickstart.ipynb",
         *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "examples").rglob("*.py"))]  # fmt: skip
INDEX_NAME = re.compile(r"consist(\[[^\]]*\])?([<>=!~].*)?")


def index_installs(text: str) -> list[str]:
    """The `pip install` commands in ``text`` that name consist as a requirement (not a path), unless warned against."""
    found = []
    for line in text.splitlines():
        for match in re.finditer(r"pip install ([^\n`)\\]*)", line):
            if "do not" in line[: match.start()].lower():
                continue
            words = shlex.split(match.group(1).replace("&&", " ").replace(";", " "), comments=True)
            found += [f"{match.group(0)}" for word in words if INDEX_NAME.fullmatch(word)]
    return found


def test_no_page_installs_consist_from_the_index():
    offending = {str(p.relative_to(ROOT)): index_installs(p.read_text(encoding="utf-8")) for p in PAGES if p.exists()}
    assert {page: found for page, found in offending.items() if found} == {}


def test_the_check_catches_index_installs_and_spares_paths():
    assert index_installs("(`pip install 'consist[xarray]'`, which") == ["pip install 'consist[xarray]'"]
    assert index_installs("pip install consist==0.1") and index_installs("python -m pip install -U consist")
    assert not index_installs('python -m pip install "./consist[xarray]" and pip install -e ".[notebook]"')
    assert not index_installs("a project on the index is unrelated: do not `pip install consist`.")
