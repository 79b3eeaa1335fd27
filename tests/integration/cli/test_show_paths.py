"""`consist show` and `consist artifacts` print outputs' paths relative to the run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from consist import Tracker
from consist.cli import main


def table() -> pd.DataFrame:
    return pd.DataFrame({"a": [1]})


def test_paths_inside_the_run_folder_are_relative(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir("/")
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    run = tracker.run(table, outputs=["table"]).run
    assert main(["--run-dir", str(tracker.run_dir), "show", run.id]) == 0
    out = capsys.readouterr().out
    assert f"{run.id}/table.parquet" in out and str(tmp_path) not in out
    assert main(["--run-dir", str(tracker.run_dir), "artifacts"]) == 0
    out = capsys.readouterr().out
    assert f"{run.id}/table.parquet" in out and str(tmp_path) not in out
