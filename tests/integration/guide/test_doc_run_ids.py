"""Run ids in the docs' sample output are whole, as consist prints them (a cut id cannot be pasted into `consist show`)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUN_ID = re.compile(r"\b[A-Za-z_][\w.]*-\d{8}-\d{6}-([0-9a-f]+)\b")


def cut_ids(text: str) -> list[str]:
    """Run ids shorter than a whole id (8 hex digits at the end), outside typed commands (`$ ...` lines take a start)."""
    return [m.group(0) for line in text.splitlines() if not line.lstrip().startswith("$ ")
            for m in RUN_ID.finditer(line) if len(m.group(1)) != 8]  # fmt: skip


def test_sample_output_shows_whole_run_ids():
    found = {str(p.relative_to(ROOT)): cut_ids(p.read_text(encoding="utf-8")) for p in PAGES}
    assert {page: ids for page, ids in found.items() if ids} == {}


def test_the_check_spares_typed_starts_of_ids():
    assert cut_ids("initialize-20261126-101510-77  initialize") == ["initialize-20261126-101510-77"]
    assert cut_ids("$ consist diff clean_data-20261126-221010-5c1e clean_data-20261126-222705-a247") == []
    assert cut_ids("a: clean_data-20261126-221010-5c1e0a2b") == []
