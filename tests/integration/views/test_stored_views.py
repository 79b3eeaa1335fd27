"""Schema views written into the catalog file at db_path, for DuckDB clients outside consist."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
from sqlmodel import Field, SQLModel

import consist
from consist import Tracker, use_tracker


class Rider(SQLModel, table=True):
    __tablename__ = "rider_sv"
    __consist_key__ = "riders"

    rider_id: int = Field(primary_key=True)
    trips: int


def riders(trips: int) -> pl.DataFrame:
    return pl.DataFrame({"rider_id": [1, 2, 3], "trips": [trips, trips + 1, trips + 2]})


def make_tracker(tmp_path: Path) -> Tracker:
    return Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb", schemas=[Rider])


def run_riders(tracker: Tracker, scenario: str, year: int, trips: int):
    with use_tracker(tracker):
        return consist.run(fn=riders, name="riders", config={"trips": trips}, outputs=["riders"],
                           parent_id=scenario, year=year)  # fmt: skip


def outside(db_path: Path, sql: str) -> list[tuple]:
    """Rows of ``sql`` read by a plain DuckDB client in another process."""
    script = textwrap.dedent(
        f"""
        import duckdb
        con = duckdb.connect({str(db_path)!r}, read_only=True)
        print(repr(con.execute({sql!r}).fetchall()))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return eval(out.stdout)  # noqa: S307 - our own repr of plain values


def test_a_plain_duckdb_client_reads_the_schema_view_with_provenance(tmp_path):
    """After a consist query, another process's DuckDB reads the view from db_path, provenance included."""
    tracker = make_tracker(tmp_path)
    first = run_riders(tracker, "baseline", 2030, 1)
    run_riders(tracker, "high_gas", 2030, 5)
    consist.run_query("SELECT count(*) FROM rider_sv", tracker=tracker)
    tracker.views.flush()
    rows = outside(
        tracker.db_path,
        "SELECT consist_scenario_id, consist_year, sum(trips), min(consist_run_id) FROM rider_sv GROUP BY ALL ORDER BY 1",
    )
    assert [r[:3] for r in rows] == [("baseline", 2030, 6), ("high_gas", 2030, 18)]
    assert rows[0][3] == first.run.id
    assert outside(tracker.db_path, "SELECT view_name, artifacts FROM consist_views") == [("rider_sv", 2)]


def test_the_stored_view_follows_the_next_query_and_survives_a_rebuild(tmp_path):
    """A new run shows in the file after consist's next query; a rebuilt file gets the views back."""
    tracker = make_tracker(tmp_path)
    run_riders(tracker, "baseline", 2030, 1)
    consist.run_query("SELECT count(*) FROM rider_sv", tracker=tracker)
    tracker.views.flush()
    run_riders(tracker, "baseline", 2040, 2)
    assert outside(tracker.db_path, "SELECT count(*) FROM rider_sv") == [(3,)]  # a snapshot until consist queries
    assert consist.run_query("SELECT count(*) AS n FROM rider_sv", tracker=tracker)["n"].to_list() == [6]
    tracker.views.flush()
    assert outside(tracker.db_path, "SELECT count(*) FROM rider_sv") == [(6,)]

    tracker.rebuild_catalog()
    consist.run_query("SELECT count(*) FROM rider_sv", tracker=tracker)
    tracker.views.flush()
    assert outside(tracker.db_path, "SELECT count(*) FROM rider_sv") == [(6,)]
    assert outside(tracker.db_path, "SELECT count(*) FROM runs") == [(2,)]


def test_an_ingested_artifact_whose_file_is_gone_is_counted_not_read(tmp_path):
    """The file's view reads files only: a ghost artifact is left out and counted in consist_views."""
    tracker = make_tracker(tmp_path)
    ghost = run_riders(tracker, "baseline", 2030, 1).outputs["riders"]
    run_riders(tracker, "baseline", 2040, 2)
    tracker.ingest(ghost)
    ghost.path.unlink()
    assert consist.run_query("SELECT count(*) AS n FROM rider_sv", tracker=tracker)["n"].to_list() == [6]
    tracker.views.flush()
    assert outside(tracker.db_path, "SELECT count(*), min(consist_year) FROM rider_sv") == [(3, 2040)]
    assert outside(tracker.db_path, "SELECT artifacts, ingested_omitted FROM consist_views") == [(1, 1)]


def test_a_file_held_open_elsewhere_does_not_fail_the_query(tmp_path):
    """While another process holds db_path read-write, queries work and the snapshot waits for the next build."""
    tracker = make_tracker(tmp_path)
    run_riders(tracker, "baseline", 2030, 1)
    hold = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(tracker.db_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert consist.run_query("SELECT count(*) AS n FROM rider_sv", tracker=tracker)["n"].to_list() == [3]
        tracker.views.flush()
    finally:
        holder.communicate("")
    assert outside(tracker.db_path, "SELECT count(*) FROM duckdb_views() WHERE view_name = 'rider_sv'") == [(0,)]
    run_riders(tracker, "baseline", 2040, 2)
    consist.run_query("SELECT count(*) FROM rider_sv", tracker=tracker)
    tracker.views.flush()
    assert outside(tracker.db_path, "SELECT count(*) FROM rider_sv") == [(6,)]


def test_flush_after_deleting_a_file_rewrites_the_snapshot_without_it(tmp_path):
    """flush() rebuilds even when no run landed, so a deleted file leaves the file's view instead of breaking it."""
    import pytest

    tracker = make_tracker(tmp_path)
    gone = run_riders(tracker, "baseline", 2030, 1).outputs["riders"]
    run_riders(tracker, "baseline", 2040, 2)
    tracker.views.flush()
    assert outside(tracker.db_path, "SELECT count(*) FROM rider_sv") == [(6,)]
    gone.path.unlink()
    with pytest.warns(UserWarning, match="is missing"):
        tracker.views.flush()
    assert outside(tracker.db_path, "SELECT count(*), min(consist_year) FROM rider_sv") == [(3, 2040)]


def test_writing_the_snapshot_never_locks_out_a_reader(tmp_path):
    """A DuckDB client reading db_path the whole time never meets a lock while consist writes its views."""
    tracker = make_tracker(tmp_path)
    run_riders(tracker, "baseline", 2030, 1)
    tracker.views.flush()
    reader = textwrap.dedent(
        f"""
        import sys, time, duckdb
        print("ready", flush=True)
        errors, reads, end = 0, 0, time.time() + 3
        while time.time() < end:
            try:
                con = duckdb.connect({str(tracker.db_path)!r}, read_only=True)
                con.execute("SELECT count(*) FROM runs").fetchall()
                con.close()
                reads += 1
            except duckdb.Error as exc:
                errors += 1
                print(exc, file=sys.stderr)
        print(reads, errors)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", reader], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    for year in range(2031, 2037):
        run_riders(tracker, "baseline", year, year)
        tracker.views.flush()
    out, err = proc.communicate(timeout=30)
    reads, errors = map(int, out.split())
    assert reads > 0 and errors == 0, err
    assert outside(tracker.db_path, "SELECT count(*) FROM rider_sv") == [(21,)]
