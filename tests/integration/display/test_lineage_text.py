"""The lineage tree as text (repr and `consist lineage`): paths inside the working folder are shown relative to it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import consist
from consist import Tracker
from consist.cli import main


def double(raw: Path) -> pl.DataFrame:
    return pl.DataFrame({"text": [raw.read_text() * 2]})


@pytest.fixture
def produced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tracker, str]:
    monkeypatch.chdir(tmp_path)
    Path("raw.txt").write_text("abc")
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    result = tracker.run(double, inputs={"raw": Path("raw.txt")}, outputs=["doubled"])
    return tracker, result.run_id


def test_the_tree_shows_paths_under_the_working_folder_relatively(produced, capsys):
    """As docs/cli.md shows it: `runs/<run>/<file>` and `raw.txt`, not the absolute paths."""
    tracker, run_id = produced
    text = consist.lineage_graph(tracker.get_artifacts_for_run(run_id).outputs["doubled"], tracker=tracker).text()
    assert str(Path.cwd().resolve()) not in text
    assert "  raw.txt  (raw input)" in text
    assert main(["lineage", f"{run_id}:doubled"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("doubled ") and first.endswith(f"  runs/{run_id}/doubled.parquet")


def test_paths_outside_the_working_folder_stay_as_recorded(produced, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tracker, run_id = produced
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    text = consist.lineage_graph(tracker.get_artifacts_for_run(run_id).outputs["doubled"], tracker=tracker).text()
    assert str((tmp_path / "raw.txt").resolve()) in text
