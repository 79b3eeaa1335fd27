"""Times in the catalog are timestamps: SQL date arithmetic works, and the CLI writes ISO 8601."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl

import consist
from consist import Tracker
from consist.cli import main


def step(n: int) -> None:
    return None


def test_runs_view_times_are_timestamps_with_time_zone(tmp_path: Path):
    """`started_at > now() - INTERVAL 1 DAY` selects today's runs; Polars gets time-zone-aware datetimes."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    for n in range(3):
        tracker.run(step, config={"n": n})
    recent = tracker.run_query("SELECT count(*) AS n FROM runs WHERE started_at > now() - INTERVAL 1 DAY")
    assert recent.item() == 3
    old = tracker.run_query("SELECT count(*) AS n FROM runs WHERE ended_at < now() - INTERVAL 1 DAY")
    assert old.item() == 0
    frame = tracker.run_query("SELECT started_at, ended_at, duration_s FROM runs")
    assert isinstance(frame.schema["started_at"], pl.Datetime) and frame.schema["started_at"].time_zone
    assert frame.schema["duration_s"] == pl.Float64 and (frame["duration_s"] >= 0).all()
    kinds = tracker.run_query("SELECT DISTINCT typeof(started_at) AS t FROM runs UNION SELECT DISTINCT typeof(created_at) FROM artifacts")
    assert set(kinds["t"]) <= {"TIMESTAMP WITH TIME ZONE"}


def test_the_catalog_file_has_timestamps_for_any_duckdb_client(tmp_path: Path):
    """Another DuckDB client opening db_path sees the same timestamp columns."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    tracker.run(step, config={"n": 1})
    tracker.rebuild_catalog()
    with duckdb.connect(str(tracker.db_path), read_only=True) as con:
        kind, today = con.execute(
            "SELECT typeof(started_at), started_at > now() - INTERVAL 1 DAY FROM runs"
        ).fetchone()
    assert kind == "TIMESTAMP WITH TIME ZONE" and today


def test_cli_csv_and_json_times_are_iso_strings(tmp_path: Path, capsys):
    """`consist runs --format csv/json` and `consist show --format json` write ISO 8601 times with an offset."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    run = tracker.run(step, config={"n": 1}).run
    assert main(["--run-dir", str(tracker.run_dir), "runs", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    started = dt.datetime.fromisoformat(row["started_at"])
    assert started.tzinfo is not None and abs(started.timestamp() - run.started_at) < 1e-3
    assert main(["--run-dir", str(tracker.run_dir), "runs", "--format", "csv"]) == 0
    header, line = capsys.readouterr().out.splitlines()[:2]
    fields = dict(zip(header.split(","), line.split(",")))
    assert dt.datetime.fromisoformat(fields["ended_at"]).tzinfo is not None
    assert main(["--run-dir", str(tracker.run_dir), "show", run.id, "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert dt.datetime.fromisoformat(record["started_at"]).tzinfo is not None
    assert record["config"] == {"n": 1}
