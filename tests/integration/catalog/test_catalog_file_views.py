"""The DuckDB catalog file's views over damaged segments: a warning, never a crash of consist's own work.

The file at ``db_path`` is only for outside readers; its views glob every segment, and
DuckDB refuses to define them over a Parquet file it cannot open (a truncated one).
Opening such a catalog (moved, copied, or with its file deleted) must still run steps
and answer queries from the checked records, and `consist rebuild` must bring the file back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import Tracker
from consist.catalog import compaction, segments

STEPS = 6


def make(i: int) -> pl.DataFrame:
    with open(os.environ["VIEWS_LOG"], "a") as fh:
        fh.write(f"{i}\n")
    return pl.DataFrame({"i": [i]})


def steps_in_subprocess(root: Path, log: Path) -> dict:
    """Every step run again in a fresh process on the catalog at ``root``: values, hits, and listed run ids."""
    code = textwrap.dedent(
        f"""
        import json
        import polars as pl
        from consist import Tracker
        from {__name__} import make
        t = Tracker(run_dir={str(root / "runs")!r}, db_path={str(root / "provenance.duckdb")!r})
        values, hits = [], 0
        for i in range({STEPS}):
            r = t.run(make, config={{"i": i}}, outputs=["t"])
            values.append(pl.read_parquet(r.outputs["t"].path)["i"][0])
            hits += r.cache_hit
        ids = [r.id for r in t.find_runs(model="make", status=None)]
        print(json.dumps({{"values": values, "hits": hits, "ids": ids}}))
        """
    )
    tests_root = Path(__file__).resolve().parents[3]
    path = os.pathsep.join([str(Path(consist.__file__).parent.parent), str(tests_root)])
    env = {**os.environ, "PYTHONPATH": path, "VIEWS_LOG": str(log)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tests_root)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    out["stderr"] = proc.stderr
    return out


@pytest.mark.parametrize("how", ["copied", "file deleted"])
def test_a_truncated_segment_in_a_reopened_catalog_still_runs_steps(tmp_path, monkeypatch, how):
    """A truncated Parquet segment, catalog copied elsewhere (or its file deleted): steps run, queries answer; rebuild fixes."""
    log = tmp_path / "executions.txt"
    monkeypatch.setenv("VIEWS_LOG", str(log))
    tracker = Tracker(run_dir=tmp_path / "a" / "runs", db_path=tmp_path / "a" / "provenance.duckdb")
    tracker.records.auto_compact = False
    for i in range(STEPS):
        tracker.run(make, config={"i": i}, outputs=["t"])
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    tracker.compact()
    tracker.compact()  # the second settles the folded fresh files: only the segment holds the runs
    (name,) = segments.list_segment_names(tracker.layout.segments)
    seg = tracker.layout.segments / name
    seg.write_bytes(seg.read_bytes()[: seg.stat().st_size // 2])
    root = tmp_path / "a"
    if how == "copied":
        root = tmp_path / "b"
        shutil.copytree(tmp_path / "a", root)
    else:
        (root / "provenance.duckdb").unlink()

    first = steps_in_subprocess(root, log)
    assert first["values"] == list(range(STEPS))  # never another config's output
    assert "consist rebuild" in first["stderr"] and name in first["stderr"]
    assert len(first["ids"]) == len(set(first["ids"]))

    from consist.cli import main

    assert main(["--run-dir", str(root / "runs"), "--db-path", str(root / "provenance.duckdb"), "rebuild"]) == 0
    again = steps_in_subprocess(root, log)
    assert again["values"] == list(range(STEPS)) and again["hits"] == STEPS
    assert len(again["ids"]) == len(set(again["ids"])) == 3 * STEPS  # built, re-run (hit or not), re-run
    outside = Tracker(run_dir=root / "runs", db_path=root / "provenance.duckdb")
    rows = outside.run_query("SELECT count(*) AS n, count(DISTINCT id) AS u FROM runs WHERE model = 'make'").to_dicts()
    assert rows == [{"n": len(again["ids"]), "u": len(again["ids"])}]
