"""The documentation: the site builds in strict mode, and every Python example in it runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
SKIP = "<!-- skip -->"


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """The ```python blocks of a Markdown page: (first line number, code, opted out?)."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip().split()
        start = i
        body = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence) and lines[i].strip().strip(fence[0]) == ""):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1
        if info and info[0] in ("python", "py"):
            previous = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
            blocks.append((start + 2, textwrap.dedent("\n".join(body)), previous == SKIP))
    return blocks


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if python_blocks(p.read_text(encoding="utf-8")))


def test_fence_parsing():
    """Blocks are found with their line numbers, indented ones dedented, and opt-outs noticed."""
    text = "intro\n\n```python\nx = 1\n```\n\n- item\n\n  <!-- skip -->\n  ```python\n  y = 2\n  ```\n\n```console\n$ ls\n```\n"
    assert python_blocks(text) == [(4, "x = 1", False), (11, "y = 2", True)]


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_python_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Each page's Python blocks run in order, in one namespace, from an empty working folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONSIST_PROGRESS", "0")
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for line, code, skipped in python_blocks(page.read_text(encoding="utf-8")):
        if skipped:
            continue
        where = f"{page.relative_to(ROOT)}:{line}"
        try:
            exec(compile(code, where, "exec"), namespace)  # noqa: S102 - running the docs is the point
        except Exception as exc:  # re-raised with the block's location
            raise AssertionError(f"the example at {where} failed: {type(exc).__name__}: {exc}") from exc


def test_opt_outs_are_rare():
    """At most a few blocks opt out of running (only those needing something CI lacks)."""
    skipped = [(p.name, line) for p in pages() for line, _, s in python_blocks(p.read_text(encoding="utf-8")) if s]
    total = sum(len(python_blocks(p.read_text(encoding="utf-8"))) for p in pages())
    assert len(skipped) <= max(3, total // 10), skipped


def test_cli_reference_covers_every_command():
    """docs/cli.md has a section for every command the parser knows."""
    from consist.cli.app import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [name for name in commands if f"## `consist {name}" not in text]
    assert not missing


@pytest.mark.slow
def test_site_builds_in_strict_mode(tmp_path: Path):
    """`mkdocs build --strict` succeeds: no broken links, nav entries or API references."""
    pytest.importorskip("mkdocs")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "Tracker" in api and "lineage_graph" in api
