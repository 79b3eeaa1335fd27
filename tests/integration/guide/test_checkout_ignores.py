"""A new user's checkout stays clean: what the README snippet writes at its top, and a venv made there, are ignored."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.guide.test_docs import python_blocks

ROOT = Path(__file__).resolve().parents[3]
GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None or not (ROOT / ".git").exists(), reason="not a git checkout")


def ignored(name: str) -> bool:
    """Whether git would ignore ``name`` at the top of the checkout (whether or not it exists)."""
    return subprocess.run([GIT, "-C", str(ROOT), "check-ignore", "-q", "--no-index", name]).returncode == 0


def test_everything_the_readme_snippet_writes_is_ignored(tmp_path: Path):
    """Run the snippet in an empty folder; each entry it leaves there would be ignored at the checkout's top."""
    code = "\n".join(code for _, code, _ in python_blocks((ROOT / "README.md").read_text(encoding="utf-8")))
    script = tmp_path / "snippet" / "snippet.py"
    script.parent.mkdir()
    script.write_text(code, encoding="utf-8")
    subprocess.run([sys.executable, script.name], cwd=script.parent, check=True, capture_output=True)
    written = sorted(p.name + ("/" if p.is_dir() else "") for p in script.parent.iterdir() if p != script)
    assert "raw.csv" in written and "runs/" in written
    assert [name for name in written if not ignored(name)] == []


def test_a_virtual_environment_in_the_checkout_is_ignored():
    assert ignored(".venv/") and ignored("venv/")
