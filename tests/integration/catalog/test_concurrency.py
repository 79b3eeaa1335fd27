"""Many processes writing one catalog at once, readers meanwhile, and killed writers."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from consist import Tracker
from tests.helpers.journals import fresh_ids

WRITERS = 8
RUNS_EACH = 250


def _writer(run_dir: str, db_path: str, worker: int, n: int, out: mp.Queue) -> None:
    tracker = Tracker(run_dir=run_dir, db_path=db_path)
    tracker.records.compact_threshold = 32  # compact and merge often, from every process

    def step(worker: int, i: int) -> None:
        return None

    ids = []
    for i in range(n):
        result = tracker.run(step, name="step", config={"worker": worker, "i": i}, year=2000 + i % 10)
        ids.append(result.run.id)
    out.put(ids)


def _reader(run_dir: str, db_path: str, stop: mp.Event, out: mp.Queue) -> None:
    tracker = Tracker(run_dir=run_dir, db_path=db_path)
    seen, problems, queries = 0, [], 0
    while not stop.is_set():
        ids = [r.id for r in tracker.find_runs(status=None)]
        queries += 1
        dupes = [k for k, v in Counter(ids).items() if v > 1]
        if dupes:
            problems.append(f"duplicates {dupes[:3]}")
        if len(ids) < seen:
            problems.append(f"count went down {seen} -> {len(ids)}")
        seen = len(ids)
    out.put((queries, problems))


@pytest.mark.slow
def test_eight_processes_lose_no_records(tmp_path: Path):
    """8 processes running steps on one run_dir/db_path at once leave every record, once, readable."""
    run_dir, db_path = str(tmp_path / "runs"), str(tmp_path / "provenance.duckdb")
    Tracker(run_dir=run_dir, db_path=db_path)
    ctx = mp.get_context("spawn")
    out, reads, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    reader = ctx.Process(target=_reader, args=(run_dir, db_path, stop, reads))
    reader.start()
    writers = [ctx.Process(target=_writer, args=(run_dir, db_path, w, RUNS_EACH, out)) for w in range(WRITERS)]
    for p in writers:
        p.start()
    written = [out.get(timeout=300) for _ in writers]
    for p in writers:
        p.join(timeout=60)
        assert p.exitcode == 0
    stop.set()
    queries, problems = reads.get(timeout=60)
    reader.join(timeout=60)
    assert problems == [] and queries > 0

    expected = sorted(i for ids in written for i in ids)
    assert len(expected) == len(set(expected)) == WRITERS * RUNS_EACH
    tracker = Tracker(run_dir=run_dir, db_path=db_path)
    assert sorted(r.id for r in tracker.find_runs(status=None)) == expected
    # Folded fresh files stay a grace period for outside readers: count the runs no segment holds yet.
    tracker.records.segments.refresh()
    unfolded = [i for i in fresh_ids(tracker.layout.fresh) if tracker.records.segments.holder(i) is None]
    assert tracker.layout.segments.exists() and len(unfolded) < WRITERS * RUNS_EACH
    con = duckdb.connect(db_path, read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM runs").fetchone() == (len(expected), len(expected))
    con.close()
    tracker.compact()
    assert sorted(r.id for r in tracker.find_runs(status=None)) == expected


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from consist.catalog.records import RecordStore
    from consist.models import Run
    from consist.artifacts.layout import Layout

    store = RecordStore(Layout(Path(sys.argv[1])), compact_threshold=8)
    start = int(sys.argv[2])
    for i in range(start, start + 100000):
        run = Run(id=f"run-{i}", name="step", model="step", status="completed", facets={"i": i},
                  config={"pad": "x" * 500})
        store.append(run)
        print(run.id, flush=True)
    """
)


@pytest.mark.slow
def test_sigkilled_writers_never_lose_or_duplicate_records(tmp_path: Path):
    """Writers killed with SIGKILL at random moments (mid-append or mid-compaction) lose no acknowledged record."""
    tracker = Tracker(run_dir=tmp_path / "runs")
    root = str(tracker.layout.root)
    acknowledged: list[str] = []
    start = 0
    for delay in (0.4, 0.9, 1.3, 0.6, 1.1):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, root, str(start)], stdout=subprocess.PIPE, text=True)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        lines = out.split()
        acknowledged += lines
        start += len(lines) + 1  # the killed append may or may not have landed
    assert len(acknowledged) > 50
    found = Counter(r.id for r in tracker.find_runs(status=None))
    assert all(found[i] == 1 for i in acknowledged)
    assert max(found.values()) == 1
    tracker.compact()
    after = Counter(r.id for r in tracker.find_runs(status=None))
    assert after == found
    leftovers = [n for n in os.listdir(tracker.layout.segments) if n.endswith(".tmp")]
    assert leftovers == []
