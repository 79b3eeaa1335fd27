"""Run records appended to per-process journals, read by other processes, killed writers and compaction.

Each process appends its records to a journal of its own in ``records/fresh``. These
tests run writers in other processes (killed, concurrent, compacted under) and read
through the public API and the DuckDB catalog file. Executions are counted in a file
each execution appends to.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from consist import Tracker
from consist.catalog import compaction
from consist.catalog.journal_index import STALE_S, is_journal, read_journal
from tests.helpers.journal_steps import executions, log, step  # noqa: F401 - log is a fixture
from tests.helpers.journals import fresh_ids, record_line

ROOT = Path(__file__).resolve().parents[3]
WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, ROOT)
    from consist import Tracker
    from tests.helpers.journal_steps import executions, log, step  # noqa: F401 - log is a fixture

    run_dir, first, count, threshold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    tracker = Tracker(run_dir=run_dir, db_path=Path(run_dir).parent / "catalog.duckdb")
    tracker.records.compact_threshold = threshold
    for n in range(first, first + count):
        result = tracker.run(step, name="step", config={"i": n // 2}, outputs=["o"])  # every second call hits
        print(n // 2, result.run.id, int(result.cache_hit), flush=True)
    wait = os.environ.get("JOURNAL_WAIT")
    while wait and not os.path.exists(wait):
        time.sleep(0.02)
    """
).replace("ROOT", repr(str(ROOT)))


def writer(run_dir: Path, first: int, count: int, threshold: int = 256) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(run_dir), str(first), str(count), str(threshold)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def acknowledged(out: str) -> list[tuple[int, str, bool]]:
    """(config, run id, hit) of every run the writer finished and printed."""
    return [(int(c), run_id, hit == "1") for c, run_id, hit in (line.split() for line in out.splitlines())]


def all_runs(tracker: Tracker) -> Counter:
    return Counter(r.id for r in tracker.find_runs(status=None))


def catalog_file_count(db_path: Path) -> tuple[int, int]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute("SELECT count(*), count(DISTINCT id) FROM runs").fetchone()
    finally:
        con.close()


def test_a_writer_killed_mid_journal_keeps_every_finished_run_and_its_cache(tmp_path, log, caplog):
    """SIGKILL at a random moment: every run the writer finished is listed once, silently; its executions hit."""
    run_dir = tmp_path / "runs"
    proc = writer(run_dir, 0, 100000)
    lines = []
    while len(lines) < 40:
        lines.append(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate()
    done = acknowledged("".join(lines) + rest)
    assert any(hit for _, _, hit in done) and any(not hit for _, _, hit in done)
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        tracker = Tracker(run_dir=run_dir)
        found = all_runs(tracker)
        assert all(found[run_id] == 1 for _, run_id, _ in done) and max(found.values()) == 1
    assert "corrupt" not in caplog.text  # a torn tail is no damage
    executed = {c for c, _, hit in done if not hit}
    before = len(executions(log))
    again = [tracker.run(step, name="step", config={"i": c}, outputs=["o"]) for c in sorted(executed)]
    assert all(r.cache_hit for r in again) and len(executions(log)) == before


def test_two_processes_appending_at_once_are_both_recorded(tmp_path, log):
    """Two writers on one folder at once: every run of each is listed once, hits and executions alike."""
    run_dir = tmp_path / "runs"
    procs = [writer(run_dir, 0, 60), writer(run_dir, 1000, 60)]
    done = [run for p in procs for run in acknowledged(p.communicate()[0])]
    assert all(p.returncode == 0 for p in procs)
    tracker = Tracker(run_dir=run_dir, db_path=tmp_path / "catalog.duckdb")
    assert all_runs(tracker) == Counter(run_id for _, run_id, _ in done)
    hits = tracker.run_query("SELECT count(*) AS n FROM runs WHERE cache_hit")["n"][0]
    assert hits == sum(hit for _, _, hit in done) >= 30
    assert catalog_file_count(tmp_path / "catalog.duckdb") == (len(done), len(done))


def test_compaction_while_another_process_appends_loses_and_doubles_nothing(tmp_path, log, monkeypatch):
    """Compacting again and again while a live writer appends (and seals journals) keeps every run exactly once."""
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)  # delete what is folded at once: the hardest case
    run_dir = tmp_path / "runs"
    Tracker(run_dir=run_dir)
    proc = writer(run_dir, 0, 300, threshold=16)
    tracker = Tracker(run_dir=run_dir)
    compactions = 0
    while proc.poll() is None:
        tracker.compact()
        compactions += 1
    done = acknowledged(proc.communicate()[0])
    assert proc.returncode == 0 and compactions > 1 and len(done) == 300
    expected = Counter(run_id for _, run_id, _ in done)
    assert all_runs(Tracker(run_dir=run_dir)) == expected
    tracker.compact()
    tracker.compact()
    assert all_runs(Tracker(run_dir=run_dir)) == expected
    assert fresh_ids(tracker.layout.fresh) == []  # the writer ended: its journals are sealed, folded and gone


def test_views_in_another_process_see_the_records_of_a_live_writer(tmp_path, log):
    """While the writer still holds its journal open, a new process lists its runs, hits included, in every view."""
    run_dir, release = tmp_path / "runs", tmp_path / "release"
    env = {**os.environ, "JOURNAL_WAIT": str(release)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(run_dir), "0", "4", "256"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        done = [acknowledged(proc.stdout.readline())[0] for _ in range(4)]
        tracker = Tracker(run_dir=run_dir, db_path=tmp_path / "reader.duckdb")
        assert all_runs(tracker) == Counter(run_id for _, run_id, _ in done)
        rows = tracker.run_query("SELECT id, cache_hit FROM runs ORDER BY id").rows()
        assert sorted(rows) == sorted((run_id, hit) for _, run_id, hit in done)
        assert catalog_file_count(tmp_path / "reader.duckdb") == (4, 4)
        assert all(tracker.get_run(run_id).cache_hit == hit for _, run_id, hit in done)
    finally:
        release.touch()
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def _ended_writer(tmp_path: Path, count: int = 6) -> tuple[Path, list[tuple[int, str, bool]]]:
    """A writer that ran ``count`` steps and ended: its one sealed journal, and what it printed."""
    proc = writer(tmp_path / "runs", 0, count)
    done = acknowledged(proc.communicate()[0])
    fresh = tmp_path / "runs" / ".consist" / "records" / "fresh"
    (journal,) = [fresh / n for n in os.listdir(fresh) if is_journal(n)]
    return journal, done


def test_a_torn_tail_is_ignored_silently(tmp_path, log, caplog):
    """Half a record at the end of a journal (a writer killed mid-write): the runs before it, no warning, no damage."""
    journal, done = _ended_writer(tmp_path)
    with open(journal, "ab") as fh:
        fh.write(journal.read_bytes().splitlines()[0][:50])  # no newline: never finished
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "catalog.duckdb")
        assert all_runs(tracker) == Counter(run_id for _, run_id, _ in done)
        assert tracker.run_query("SELECT count(*) AS n FROM runs")["n"][0] == len(done)
    assert catalog_file_count(tmp_path / "catalog.duckdb") == (len(done), len(done))
    assert caplog.text == ""
    report = tracker.compact()
    assert report.folded == len(done) and report.quarantined == []


def test_damage_inside_a_journal_is_reported_and_the_journal_set_aside_after_folding(tmp_path, log, caplog, monkeypatch):
    """A complete line that does not decode: reported by journal name; the other runs are folded, the journal kept aside."""
    journal, done = _ended_writer(tmp_path)
    damaged = done[2][1]
    _, at, line = record_line(journal.parent, damaged)
    with open(journal, "r+b") as fh:
        fh.seek(at)
        fh.write(b"#" + line[1:])  # same length: only a broken byte
    expected = Counter(run_id for _, run_id, _ in done if run_id != damaged)
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        tracker = Tracker(run_dir=tmp_path / "runs")
        assert all_runs(tracker) == expected
    assert journal.name in caplog.text
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    report = tracker.compact()
    assert report.folded == len(expected) and [Path(p).name for p in report.quarantined] == [journal.name]
    assert not journal.exists() and (tracker.layout.corrupt / journal.name).exists()
    assert all_runs(Tracker(run_dir=tmp_path / "runs")) == expected


def test_a_failed_bookkeeping_replaces_the_completed_record_of_its_run(tmp_path, log, monkeypatch):
    """A run recorded completed, whose cache entry then fails to write, is listed once, as failed, in every reader."""
    from consist.catalog import index

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "catalog.duckdb")
    with monkeypatch.context() as m, pytest.raises(OSError, match="No space left"):
        m.setattr(index, "write_bytes", full)  # replacing an entry
        m.setattr(index, "write_all", full)  # a new signature's entry
        tracker.run(step, name="step", config={"i": 1}, outputs=["o"])
    (record,) = [r for r in Tracker(run_dir=tmp_path / "runs").find_runs(status=None)]
    assert record.status == "failed"
    lines = [line for n in os.listdir(tracker.layout.fresh) if is_journal(n)
             for line in read_journal(tracker.layout.fresh / n).records.values()]  # fmt: skip
    assert len(lines) == 1
    assert catalog_file_count(tmp_path / "catalog.duckdb") == (1, 1)
    assert executions(log) == [1]
    assert not tracker.run(step, name="step", config={"i": 1}, outputs=["o"]).cache_hit


def test_a_hit_writes_one_record_and_claims_no_id(tmp_path, log, monkeypatch):
    """A cache hit's generated id is unclaimed: no file appears under ids/; its record is one journal line."""
    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.run(step, name="step", config={"i": 1}, outputs=["o"])
    claims = sorted(p for p in tracker.layout.ids.rglob("*") if p.is_file())
    journal = Path(tracker.records.journal_path)
    size = journal.stat().st_size
    hits = [tracker.run(step, name="step", config={"i": 1}, outputs=["o"]) for _ in range(20)]
    assert all(h.cache_hit for h in hits) and len({h.run.id for h in hits}) == 20
    assert sorted(p for p in tracker.layout.ids.rglob("*") if p.is_file()) == claims
    assert journal.stat().st_size > size and executions(log) == [1]
    assert all(Tracker(run_dir=tmp_path / "runs").get_run(h.run.id).reused_run_id == hits[0].run.reused_run_id
               for h in hits)  # fmt: skip


def test_compaction_removes_a_journal_temp_file_a_killed_writer_left(tmp_path, log):
    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.run(step, name="step", config={"i": 1}, outputs=["o"])
    fresh = tracker.layout.fresh
    abandoned = fresh / ".~journal-20260101-000000-123-abcdef1.json.tmp"  # killed between create and rename
    starting = fresh / ".~journal-20260101-000001-124-abcdef2.json.tmp"  # another writer, just now
    abandoned.touch()
    starting.touch()
    old = os.stat(abandoned).st_mtime - 2 * STALE_S
    os.utime(abandoned, (old, old))
    tracker.compact()
    assert not abandoned.exists() and starting.exists()
    assert [r.id for r in Tracker(run_dir=tmp_path / "runs").find_runs(status=None)] != []
