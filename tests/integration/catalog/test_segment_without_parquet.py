"""A segment whose Parquet file was deleted by hand while its records file is intact.

Compaction used to take such a records file for the leftover of a killed compaction and
delete it: the only copy of every run in it was gone. It is now kept unless each of its
records is held elsewhere byte for byte, and `consist rebuild` writes its runs into a
segment again. Executions are counted in a file each execution appends to.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from consist import Tracker
from consist.catalog import compaction, segments
from consist.cli import main

STEPS = 8


def make(i: int) -> pl.DataFrame:
    with open(os.environ["ORPHAN_LOG"], "a") as fh:
        fh.write(f"{i}\n")
    return pl.DataFrame({"i": [i]})


def executions(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def compacted_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Tracker, list[str], Path]:
    """``STEPS`` runs in one segment, their fresh files gone; the tracker, the run ids and the segment."""
    monkeypatch.setenv("ORPHAN_LOG", str(tmp_path / "executions.txt"))
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb")
    tracker.records.auto_compact = False
    ids = [tracker.run(make, config={"i": i}, outputs=["t"]).run.id for i in range(STEPS)]
    tracker.compact()
    tracker.compact()  # the second settles the folded fresh files
    (name,) = segments.list_segment_names(tracker.layout.segments)
    return tracker, ids, tracker.layout.segments / name


def test_compaction_keeps_a_records_file_whose_parquet_was_deleted(tmp_path, monkeypatch, caplog):
    """The records file is the runs' only copy: compaction keeps it and says to run `consist rebuild`."""
    tracker, _, seg = compacted_catalog(tmp_path, monkeypatch)
    seg.unlink()
    other = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    other.run(make, config={"i": 100}, outputs=["t"])
    with caplog.at_level("WARNING", logger="consist.catalog"):
        other.compact()
        other.compact()
    assert segments.records_path(seg).exists()
    assert "consist rebuild" in caplog.text and segments.records_path(seg).name in caplog.text


def test_rebuild_writes_the_runs_of_a_records_file_without_parquet_again(tmp_path, monkeypatch, capsys):
    """`consist rebuild` recovers every run from the records file; steps are hits with their own outputs."""
    tracker, ids, seg = compacted_catalog(tmp_path, monkeypatch)
    log = tmp_path / "executions.txt"
    seg.unlink()
    Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path).compact()  # the compaction that used to delete it
    assert main(["--run-dir", str(tracker.run_dir), "--db-path", str(tracker.db_path), "rebuild"]) == 0
    assert f"({STEPS} runs)" in capsys.readouterr().out
    again = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    assert sorted(r.id for r in again.find_runs(status=None)) == sorted(ids)
    assert [again.get_run(run_id).config["i"] for run_id in ids] == list(range(STEPS))
    results = [again.run(make, config={"i": i}, outputs=["t"]) for i in range(STEPS)]
    assert all(r.cache_hit for r in results) and executions(log) == list(range(STEPS))
    assert [pl.read_parquet(r.outputs["t"].path)["i"][0] for r in results] == list(range(STEPS))
    rows = again.run_query("SELECT count(*) AS n, count(DISTINCT id) AS u FROM runs").to_dicts()
    assert rows == [{"n": 2 * STEPS, "u": 2 * STEPS}]


def test_a_records_file_left_by_a_killed_merge_is_still_deleted(tmp_path, monkeypatch):
    """A records file whose runs a live segment holds byte for byte is a leftover: compaction deletes it."""
    tracker, ids, seg = compacted_catalog(tmp_path, monkeypatch)
    leftover = seg.with_name("seg-00000000000000000001-00000000.records.arrow")
    leftover.write_bytes(segments.records_path(seg).read_bytes())
    tracker.compact()
    assert not leftover.exists()
    assert sorted(r.id for r in tracker.find_runs(status=None)) == sorted(ids)
