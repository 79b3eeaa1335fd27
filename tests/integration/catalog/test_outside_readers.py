"""An outside DuckDB client reading db_path while compaction runs never loses a file under a query."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import duckdb

from consist import Tracker

READER = textwrap.dedent(
    """
    import sys, time, duckdb
    deadline = time.time() + float(sys.argv[2])
    ok = failed = 0
    errors = []
    while time.time() < deadline:
        con = duckdb.connect(sys.argv[1], read_only=True)
        try:
            n, distinct = con.execute("SELECT count(*), count(DISTINCT id) FROM runs").fetchone()
            assert n == distinct, (n, distinct)
            ok += 1
        except Exception as exc:
            failed += 1
            errors.append(str(exc)[:200])
        finally:
            con.close()
    print(ok, failed, errors[:3])
    """
)


def test_an_outside_reader_never_fails_while_compaction_runs(tmp_path):
    """A separate process queries the catalog file in a loop while runs land and compactions fold them."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "catalog.duckdb")
    tracker.records.auto_compact = False
    for i in range(40):
        tracker.run(lambda i: i, name="step", config={"i": i}, outputs=["v"])
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(tracker.db_path), "6"], stdout=subprocess.PIPE, text=True
    )
    i = 40
    deadline = time.time() + 5
    compactions = 0
    while time.time() < deadline:
        for _ in range(15):
            tracker.run(lambda i: i, name="step", config={"i": i}, outputs=["v"])
            i += 1
        tracker.compact()
        compactions += 1
    out, _ = reader.communicate(timeout=60)
    ok, failed, errors = out.split(" ", 2)
    assert int(failed) == 0, errors
    assert int(ok) > 5 and compactions > 3
    con = duckdb.connect(str(tracker.db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM runs").fetchone() == (i, i)
    finally:
        con.close()
