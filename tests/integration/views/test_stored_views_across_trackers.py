"""The catalog file's schema views across trackers: rewritten only when they change, never reopened to check."""

from __future__ import annotations

import duckdb
from sqlmodel import func, select

from tests.helpers.views import Person, make_tracker, query, run_sim


def count_rows(tracker) -> int:
    return query(tracker, select(func.count()).select_from(tracker.views.Person)).item()


def outside_count(db_path) -> int:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM person_vt").fetchone()[0]
    finally:
        con.close()


def test_a_new_tracker_with_the_same_views_leaves_the_file_alone(tmp_path, monkeypatch):
    """Same views: the file is neither rewritten nor opened; a new run rewrites it once, with the run."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)
    assert count_rows(tracker) == 3
    tracker.views.flush()
    inode = tracker.db_path.stat().st_ino
    assert outside_count(tracker.db_path) == 3

    opened = []
    real = duckdb.connect

    def connect(database=":memory:", *args, **kwargs):
        if str(database) != ":memory:":
            opened.append(str(database))
        return real(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", connect)
    again = make_tracker(tmp_path, Person)
    assert count_rows(again) == 3
    again.views.flush()
    assert tracker.db_path.stat().st_ino == inode
    assert opened == []  # the file consist wrote last is known current: not opened to check or to compare

    run_sim(again, "baseline", 2040, 2)
    assert count_rows(again) == 6
    again.views.flush()
    assert tracker.db_path.stat().st_ino != inode
    monkeypatch.setattr(duckdb, "connect", real)
    assert outside_count(tracker.db_path) == 6


def test_a_file_replaced_by_someone_else_gets_the_views_again(tmp_path):
    """A catalog file rebuilt behind consist's back gets the snapshot back from the next tracker's query."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)
    assert count_rows(tracker) == 3
    tracker.views.flush()
    tracker.db_path.unlink()
    make_tracker(tmp_path)  # builds a new file, without schema views
    again = make_tracker(tmp_path, Person)
    assert count_rows(again) == 3
    again.views.flush()
    assert outside_count(tracker.db_path) == 3
