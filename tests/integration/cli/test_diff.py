"""Comparing two runs: tracker.diff and `consist diff RUN_A RUN_B`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import consist
from consist import Tracker
from consist.cli import main

SCALE = 2


def clean(raw: pd.DataFrame, threshold: float, solver: dict) -> pd.DataFrame:
    return raw[raw["value"] > threshold] * SCALE


def two_runs(tmp_path: Path):
    global SCALE
    raw = tmp_path / "raw.csv"
    raw.write_text("value\n1\n2\n")
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    a = tracker.run(clean, inputs={"raw": raw}, config={"threshold": 0.5, "solver": {"tol": 0.001}}, outputs=["cleaned"])
    raw.write_text("value\n1\n3\n")
    SCALE = 3
    try:
        b = tracker.run(clean, inputs={"raw": raw}, config={"threshold": 0.7, "solver": {"tol": 0.001}},
                        outputs=["cleaned"], year=2030)  # fmt: skip
    finally:
        SCALE = 2
    return tracker, a, b


def test_diff_names_config_leaves_inputs_code_and_outputs_that_differ(tmp_path: Path):
    tracker, a, b = two_runs(tmp_path)
    diff = consist.diff(a, b, tracker=tracker)
    assert diff.section("config") == {"threshold": (0.5, 0.7)}  # solver.tol is the same: not listed
    assert diff.section("run") == {"year": (None, 2030)}
    assert set(diff.section("inputs")) == {"raw"} and set(diff.section("outputs")) == {"cleaned"}
    assert diff.section("code")["constant SCALE"] == (2, 3)
    out_a, out_b = diff.section("outputs")["cleaned"]
    assert out_a.split()[1] == f"{a.run.id}/cleaned.parquet"  # relative to the run folder
    assert tracker.diff(a, a.run.id).changes == [] and not tracker.diff(a, a)


def test_cli_diff_prints_text_and_json(tmp_path: Path, capsys):
    tracker, a, b = two_runs(tmp_path)
    assert main(["--run-dir", str(tracker.run_dir), "diff", a.run.id, b.run.id]) == 0
    text = capsys.readouterr().out
    assert "config\n  threshold  0.5 -> 0.7" in text and "constant SCALE  2 -> 3" in text
    assert main(["--run-dir", str(tracker.run_dir), "diff", a.run.id, b.run.id, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"] == {"threshold": {"a": 0.5, "b": 0.7}} and data["a"] == a.run.id


def test_cli_diff_of_an_unknown_run_is_one_clear_error(tmp_path: Path, capsys):
    tracker, a, _ = two_runs(tmp_path)
    code = main(["--run-dir", str(tracker.run_dir), "diff", a.run.id, "nosuchrun"])
    err = capsys.readouterr().err
    assert code != 0 and "no run has id 'nosuchrun'" in err and "consist runs" in err
