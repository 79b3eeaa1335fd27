"""A segment's checksum file (``seg-*.sums``) garbled while both files it vouches for are intact.

`consist rebuild` used to take both twins for damaged (neither matched an unreadable
checksum) and move the segment aside with none of its runs recovered. The records file
carries a digest beside each record, so it is checked record by record instead and
every run is written into a new segment. Executions are counted in a file each
execution appends to.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from consist import Tracker
from consist.catalog import compaction, segment_sums, segments
from consist.cli import main

STEPS = 8


def make(i: int) -> pl.DataFrame:
    with open(os.environ["SUMS_LOG"], "a") as fh:
        fh.write(f"{i}\n")
    return pl.DataFrame({"i": [i]})


def test_rebuild_recovers_every_run_when_only_the_checksum_file_is_garbled(tmp_path, monkeypatch, capsys):
    """Garbled .sums: runs skipped with a warning until `consist rebuild`, which restores all of them."""
    log = tmp_path / "executions.txt"
    monkeypatch.setenv("SUMS_LOG", str(log))
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb")
    tracker.records.auto_compact = False
    ids = [tracker.run(make, config={"i": i}, outputs=["t"]).run.id for i in range(STEPS)]
    tracker.compact()
    tracker.compact()  # the second settles the folded fresh files: only the segment holds the runs
    (name,) = segments.list_segment_names(tracker.layout.segments)
    segment_sums.sums_path(tracker.layout.segments / name).write_bytes(os.urandom(48))

    assert main(["--run-dir", str(tracker.run_dir), "--db-path", str(tracker.db_path), "rebuild"]) == 0
    assert f"({STEPS} runs)" in capsys.readouterr().out
    again = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    assert sorted(r.id for r in again.find_runs(status=None)) == sorted(ids)
    assert [again.get_run(run_id).config["i"] for run_id in ids] == list(range(STEPS))
    results = [again.run(make, config={"i": i}, outputs=["t"]) for i in range(STEPS)]
    assert all(r.cache_hit for r in results) and log.read_text().split() == [str(i) for i in range(STEPS)]
    assert [pl.read_parquet(r.outputs["t"].path)["i"][0] for r in results] == list(range(STEPS))
