"""The DuckDB file at db_path: plain-client views, rebuilds, schema version, ADBC."""

from __future__ import annotations

import json

import duckdb
import polars as pl

import consist
from consist import Tracker, use_tracker
from consist.catalog import database
from tests.helpers.records import make_run


def plain(tracker: Tracker, sql: str) -> list[tuple]:
    """Query the file the way a user's own duckdb client would."""
    con = duckdb.connect(str(tracker.db_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_plain_duckdb_client_sees_fresh_and_compacted_runs(tracker):
    """Opening db_path in plain DuckDB, the views list compacted and fresh runs alike."""
    tracker.records.auto_compact = False
    for i in range(3):
        tracker.records.append(make_run(i))
    tracker.compact()
    tracker.records.append(make_run(3))
    assert plain(tracker, "SELECT id FROM runs ORDER BY id") == [("run-0",), ("run-1",), ("run-2",), ("run-3",)]
    assert plain(tracker, "SELECT count(*) FROM run_artifacts WHERE direction = 'in'") == [(4,)]
    assert plain(tracker, "SELECT count(DISTINCT id) FROM artifacts") == [(5,)]
    facets = plain(tracker, "SELECT key, value_str, value_num, value_bool FROM facets WHERE run_id = 'run-3' ORDER BY key")
    assert facets == [("alpha", None, 0.3, None), ("flag", None, None, False), ("mode", "car", None, None),
                      ("solver.tol", None, 1e-6, None)]  # fmt: skip


def test_plain_views_match_consist_views(tracker):
    """The file's views (globs over JSON and Parquet) return what consist's own queries do."""
    tracker.records.auto_compact = False
    for i in range(4):
        tracker.records.append(make_run(i, tags=["t"], meta={"note": "x"}))
    tracker.compact()
    for i in range(4, 6):
        tracker.records.append(make_run(i, facets={"lst": [1, 2], "none": None, "n": 2}))
    for view in ("runs", "artifacts", "run_artifacts", "facets"):
        mine = tracker.run_query(f"SELECT * FROM {view}")
        mine = mine.sort(mine.columns[:4])
        con = duckdb.connect(str(tracker.db_path), read_only=True)
        theirs = pl.from_arrow(con.sql(f"SELECT * FROM {view}").to_arrow_table())
        theirs = theirs.sort(theirs.columns[:4])
        con.close()
        assert mine.columns == theirs.columns, view
        for column in mine.columns:
            a, b = mine[column].to_list(), theirs[column].to_list()
            if column in ("config", "meta", "code", "record", "value_json"):
                # Same JSON values; DuckDB may spell numbers differently (1e-06 vs 0.000001).
                a, b = [json.loads(x) if x else x for x in a], [json.loads(x) if x else x for x in b]
            assert a == b, (view, column)


def test_empty_catalog_is_queryable(tracker):
    """Before any run, every view exists and is empty."""
    for view in ("runs", "artifacts", "run_artifacts", "facets"):
        assert plain(tracker, f"SELECT count(*) FROM {view}") == [(0,)]
        assert tracker.run_query(f"SELECT count(*) AS n FROM {view}")["n"][0] == 0


def test_deleted_database_is_rebuilt_by_the_next_tracker(tracker, tmp_path):
    """Deleting db_path loses nothing: the next Tracker rebuilds it from the records."""
    with use_tracker(tracker):
        consist.run(fn=lambda: None, name="step", year=2030)
    tracker.db_path.unlink()
    again = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    assert again.db_path.exists()
    assert plain(again, "SELECT name, year FROM runs") == [("step", 2030)]
    assert plain(again, "SELECT version FROM consist_schema") == [(database.CATALOG_SCHEMA_VERSION,)]


def test_outdated_or_moved_database_is_upgraded_in_place(tracker):
    """A file from an older schema is redefined in place, keeping the user's own tables."""
    con = duckdb.connect(str(tracker.db_path))
    con.execute("UPDATE consist_schema SET version = 0")
    con.execute("CREATE TABLE my_notes AS SELECT 1 AS x")
    con.close()
    tracker.records.append(make_run(1))
    fresh = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    assert fresh.find_runs()[0].id == "run-1"  # first query checks the file
    assert plain(fresh, "SELECT version FROM consist_schema") == [(database.CATALOG_SCHEMA_VERSION,)]
    assert plain(fresh, "SELECT x FROM my_notes") == [(1,)]


def test_rebuild_catalog_on_demand(tracker):
    """rebuild_catalog replaces the file atomically with current views."""
    tracker.records.append(make_run(1))
    tracker.rebuild_catalog()
    assert plain(tracker, "SELECT id FROM runs") == [("run-1",)]
    assert not [p for p in tracker.db_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_catalog_file_is_not_locked_by_queries(tracker):
    """While a tracker queries, another client can open the file (nothing holds it)."""
    tracker.records.append(make_run(1))
    assert tracker.find_runs()[0].id == "run-1"
    con = duckdb.connect(str(tracker.db_path))  # read-write: fails if anyone holds it
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)
    con.close()


def test_adbc_connection_reads_into_polars(tracker):
    """connect_adbc gives an Arrow-native DB-API connection for pl.read_database."""
    tracker.records.append(make_run(1))
    tracker.records.append(make_run(2))
    with tracker.connect_adbc() as conn:
        df = pl.read_database("SELECT model, count(*) AS n FROM runs GROUP BY model", connection=conn)
    assert df.to_dicts() == [{"model": "simulate", "n": 2}]


def test_paths_with_quotes_are_quoted_in_view_definitions(tmp_path):
    """A run_dir whose name has a quote still gives working views."""
    tracker = Tracker(run_dir=tmp_path / "it's; here", db_path=tmp_path / "o'db.duckdb")
    tracker.records.append(make_run(1))
    assert plain(tracker, "SELECT id FROM runs") == [("run-1",)]
    assert tracker.find_runs()[0].id == "run-1"


def test_file_held_open_elsewhere_does_not_disturb_queries(tracker, caplog):
    """While another process holds db_path read-write, a new tracker's queries work without warnings."""
    import logging
    import subprocess
    import sys

    tracker.records.append(make_run(1))
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(tracker.db_path)!r}); print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ok"
        with caplog.at_level(logging.WARNING, logger="consist.catalog"):
            again = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
            assert [r.id for r in again.find_runs()] == ["run-1"]
        assert caplog.text == ""
    finally:
        holder.kill()
        holder.wait()


def test_corrupt_catalog_file_is_rebuilt_and_the_old_bytes_kept_aside(tracker, caplog):
    """A db_path that is not a DuckDB file is rebuilt for plain clients; its old bytes are kept under a new name."""
    import logging

    import duckdb

    tracker.records.append(make_run(1))
    tracker.db_path.write_bytes(b"not a duckdb file")
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        again = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
        assert [r.id for r in again.find_runs()] == ["run-1"]
    assert "not a readable DuckDB database" in caplog.text and "open elsewhere" not in caplog.text
    kept = list(tracker.db_path.parent.glob(tracker.db_path.name + ".unreadable-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"not a duckdb file"
    con = duckdb.connect(str(tracker.db_path), read_only=True)
    try:
        assert con.execute("SELECT id FROM runs").fetchall() == [("run-1",)]
    finally:
        con.close()


def test_an_empty_catalog_file_is_rebuilt_in_place(tracker):
    """A 0-byte db_path (say, from a full disk) becomes a working catalog file without a kept copy."""
    import duckdb

    tracker.records.append(make_run(1))
    tracker.db_path.write_bytes(b"")
    Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path).find_runs()
    assert not list(tracker.db_path.parent.glob(tracker.db_path.name + ".unreadable-*"))
    con = duckdb.connect(str(tracker.db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)
    finally:
        con.close()
