"""The getting-started and examples snippets, pasted twice into the same folder: the first paste runs, the second is all hits."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.guide.test_docs import DOCS, python_blocks


def paste(page: str) -> dict[str, object]:
    """Run the page's Python blocks in order, in one namespace, in the working folder."""
    namespace: dict[str, object] = {"__name__": "pasted"}
    for line, code, skipped in python_blocks((DOCS / page).read_text(encoding="utf-8")):
        if not skipped:
            exec(compile(code, f"docs/{page}:{line}", "exec"), namespace)  # noqa: S102 - running the docs is the point
    return namespace


@pytest.fixture(autouse=True)
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONSIST_PROGRESS", "0")


def test_getting_started_runs_once_then_hits(capsys):
    first = paste("getting-started.md")
    assert not first["first"].cache_hit and capsys.readouterr().out.count("cleaning...") == 1
    again = paste("getting-started.md")
    assert again["first"].cache_hit and again["again"].cache_hit
    assert "cleaning..." not in capsys.readouterr().out


def test_examples_quickstart_runs_each_step_once_then_nothing():
    first = paste("examples.md")
    assert first["executed"] == ["prepare_zones", "grow[2030]", "grow[2040]", "grow[2030]", "grow[2040]"]
    assert paste("examples.md")["executed"] == []
