"""A view's source listing saved for the next process: used only while every record file stands as it was."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
import warnings

import pytest
from sqlmodel import func, select

import consist
from consist.catalog import journal_index, reader
from tests.helpers.journals import record_line
from tests.helpers.views import Person, make_tracker, query, run_sim


def count_rows(tracker) -> int:
    """Rows of the view; the listing the query saved is on disk when this returns."""
    rows = query(tracker, select(func.count()).select_from(tracker.views.Person)).item()
    tracker.views.flush()
    return rows


@pytest.fixture
def record_reads(monkeypatch):
    """How many run record files the catalog reader opens (in every tracker of this process)."""
    reads = []
    real = reader.read_record
    real_journal = journal_index.JournalIndex._read

    def counting(path):
        reads.append(path)
        return real(path)

    def counting_journal(index, name, known, st):
        reads.append(index.folder / name)
        return real_journal(index, name, known, st)

    monkeypatch.setattr(reader, "read_record", counting)
    monkeypatch.setattr(journal_index.JournalIndex, "_read", counting_journal)  # records in journals
    return reads


def test_a_new_tracker_answers_from_the_saved_listing_without_reading_a_record(tmp_path, record_reads):
    """The first view query of a new tracker over an unchanged catalog opens no run record, and counts every run."""
    tracker = make_tracker(tmp_path, Person)
    for year in (2030, 2040, 2050):
        run_sim(tracker, "baseline", year, 1)
    assert count_rows(tracker) == 9
    assert record_reads  # the first tracker read them (and saved the listing)
    record_reads.clear()
    again = make_tracker(tmp_path, Person)
    assert count_rows(again) == 9
    assert record_reads == []
    # A query that needs the records loads them on demand, in the same connection.
    V = again.views.Person
    joined = query(again, select(func.count()).select_from(V).join_from(V, _runs(), V.consist_run_id == _runs().c.id))
    assert joined.item() == 9


def _runs():
    from sqlalchemy import column, table

    return table("runs", column("id"))


def test_runs_landing_from_another_process_or_compacted_are_never_missed(tmp_path):
    """A run recorded after the listing was saved, in this process or another, shows in a new tracker's view."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)
    assert count_rows(tracker) == 3
    script = textwrap.dedent(
        f"""
        import sys; sys.path[:0] = {sys.path[:3]!r}
        from tests.helpers.views import make_tracker, run_sim
        from pathlib import Path
        run_sim(make_tracker(Path({str(tmp_path)!r})), "baseline", 2040, 2)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=os.getcwd())
    assert count_rows(make_tracker(tmp_path, Person)) == 6
    tracker.compact()  # the fresh records move into a segment: other names, same runs
    assert count_rows(make_tracker(tmp_path, Person)) == 6
    run_sim(tracker, "high_gas", 2030, 3)
    assert count_rows(make_tracker(tmp_path, Person)) == 9
    assert count_rows(tracker) == 9


def test_a_record_damaged_in_place_is_reported_not_served_from_the_listing(tmp_path, caplog):
    """Garbage written over a record, its mtime set back, still makes the next tracker read (and report) it."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)
    second = run_sim(tracker, "baseline", 2040, 2)
    assert count_rows(tracker) == 6
    record, at, line = record_line(tracker.layout.fresh, second.run.id)  # its line in the journal
    st = record.stat()
    with open(record, "r+b") as fh:
        fh.seek(at)
        fh.write(b"{not json" + b" " * max(0, len(line) - 9))
    os.utime(record, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert record.stat().st_size == st.st_size
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        assert count_rows(make_tracker(tmp_path, Person)) == 3
    assert str(record) in caplog.text


def test_a_damaged_saved_listing_is_ignored(tmp_path, record_reads):
    """Flipped bytes in the saved listing: the next tracker reads the records and gets every row."""
    tracker = make_tracker(tmp_path, Person)
    for year in (2030, 2040):
        run_sim(tracker, "baseline", year, 1)
    assert count_rows(tracker) == 6
    (saved,) = (tracker.layout.root / "sources").iterdir()
    data = bytearray(saved.read_bytes())
    data[-40:-20] = bytes(b ^ 0xFF for b in data[-40:-20])
    saved.write_bytes(bytes(data))
    record_reads.clear()
    assert count_rows(make_tracker(tmp_path, Person)) == 6
    assert record_reads  # read again, not taken from the damaged file


def test_a_copied_run_folder_reads_its_own_files_after_the_original_is_gone(tmp_path):
    """A copy of the project (saved listing included) reads its own records and files, not the original's."""
    tracker = make_tracker(tmp_path / "a", Person)
    for year in (2030, 2040):
        run_sim(tracker, "baseline", year, year - 2029)
    assert count_rows(tracker) == 6
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    copy = make_tracker(tmp_path / "b", Person)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "file is missing": every file is read in the copy
        assert count_rows(copy) == 6
    run_sim(copy, "baseline", 2050, 3)
    assert count_rows(make_tracker(tmp_path / "b", Person)) == 9


def test_a_user_view_over_runs_keeps_up_once_the_records_are_loaded(tmp_path):
    """A view a user defines over runs stays current even when later queries name only that view."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)
    assert count_rows(tracker) == 3
    fresh = make_tracker(tmp_path, Person)
    assert count_rows(fresh) == 3
    consist.run_query("CREATE OR REPLACE VIEW sim_log AS SELECT id FROM runs WHERE name = 'simulate'", tracker=fresh)
    assert consist.run_query("SELECT count(*) AS n FROM sim_log", tracker=fresh)["n"].item() == 1
    run_sim(tracker, "baseline", 2040, 2)
    assert consist.run_query("SELECT count(*) AS n FROM sim_log", tracker=fresh)["n"].item() == 2


def test_a_damaged_segment_is_reported_by_every_new_tracker(tmp_path, monkeypatch, caplog):
    """A listing read past a damaged segment is not saved: each new tracker reads the records and names the segment."""
    from consist.catalog import compaction

    tracker = make_tracker(tmp_path, Person)
    tracker.records.auto_compact = False
    for year in (2030, 2040):
        run_sim(tracker, "baseline", year, 1)
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    tracker.compact()
    run_sim(tracker, "baseline", 2050, 1)  # a fresh record beside the segment
    (segment,) = tracker.layout.segments.glob("seg-*.parquet")
    segment.write_bytes(segment.read_bytes()[: segment.stat().st_size // 2])
    for _ in range(2):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="consist.catalog"):
            assert count_rows(make_tracker(tmp_path, Person)) == 3  # the fresh run's rows only
        assert segment.name in caplog.text
