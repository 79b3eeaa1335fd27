"""Repeated queries reuse compiled SQL and DuckDB relations without ever serving stale or wrong values."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlmodel import Field, SQLModel, func, select

import consist
from consist import Tracker, use_tracker


class Trip(SQLModel, table=True):
    __tablename__ = "trip_qp"  # unique in SQLModel's global metadata; keys: trip_qp(s)
    __consist_key__ = ["trips"]

    trip_id: int = Field(primary_key=True)
    mode: str


def trips(n: int) -> pl.DataFrame:
    return pl.DataFrame({"trip_id": list(range(n)), "mode": ["car"] * n})


def run_trips(tracker: Tracker, scenario: str, n: int) -> None:
    with use_tracker(tracker):
        consist.run(fn=trips, name="trips", config={"n": n}, outputs=["trips"], parent_id=scenario, year=2020)


def make_tracker(tmp_path: Path) -> Tracker:
    return Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb", schemas=[Trip])


def count_in(tracker: Tracker, scenarios: list[str]) -> int:
    VTrip = tracker.views.Trip
    stmt = select(func.count()).select_from(VTrip).where(VTrip.consist_scenario_id.in_(scenarios))
    return int(consist.run_query(stmt, tracker=tracker).item())


def test_same_statement_shape_with_other_values_gets_those_values(tmp_path):
    """A select rebuilt with other values, and IN lists of other lengths, counts the rows those values select."""
    tracker = make_tracker(tmp_path)
    run_trips(tracker, "a", 2)
    run_trips(tracker, "b", 3)
    run_trips(tracker, "c", 5)
    assert count_in(tracker, ["a"]) == 2
    assert count_in(tracker, ["b"]) == 3
    assert count_in(tracker, ["a", "c"]) == 7
    assert count_in(tracker, ["a", "b", "c"]) == 10
    assert count_in(tracker, ["c"]) == 5


def test_repeated_query_sees_a_new_run(tmp_path):
    """The same query asked again after a new run lands includes that run's rows."""
    tracker = make_tracker(tmp_path)
    run_trips(tracker, "a", 2)
    assert count_in(tracker, ["a", "b"]) == 2
    assert count_in(tracker, ["a", "b"]) == 2
    run_trips(tracker, "b", 3)
    assert count_in(tracker, ["a", "b"]) == 5
    sql = "SELECT count(*) AS n FROM runs WHERE parent_id = ?"
    assert consist.run_query(sql, tracker=tracker, params=["a"])["n"].item() == 1
    run_trips(tracker, "a", 4)
    assert consist.run_query(sql, tracker=tracker, params=["a"])["n"].item() == 2


def test_equal_values_of_other_types_are_not_confused(tmp_path):
    """A query asked with 1 and then with True returns an integer and then a boolean."""
    tracker = make_tracker(tmp_path)
    assert consist.run_query("SELECT ? AS v", tracker=tracker, params=[1])["v"].dtype.is_integer()
    assert consist.run_query("SELECT ? AS v", tracker=tracker, params=[True])["v"].dtype == pl.Boolean


def test_a_script_runs_every_statement_each_time(tmp_path):
    """A query of several statements runs its earlier statements again on every call."""
    tracker = make_tracker(tmp_path)
    consist.run_query("CREATE TEMP TABLE hits (n INTEGER)", tracker=tracker)
    script = "INSERT INTO hits VALUES (1); SELECT count(*) AS n FROM hits"
    assert consist.run_query(script, tracker=tracker)["n"].item() == 1
    assert consist.run_query(script, tracker=tracker)["n"].item() == 2


def test_a_failed_query_is_not_kept(tmp_path):
    """A query that fails, fails again the same way, and a good one after it still works."""
    import duckdb

    tracker = make_tracker(tmp_path)
    for _ in range(2):
        with pytest.raises(duckdb.Error):
            consist.run_query("SELECT CAST(? AS INTEGER) AS v", tracker=tracker, params=["x"])
    assert consist.run_query("SELECT CAST(? AS INTEGER) AS v", tracker=tracker, params=["7"])["v"].item() == 7
