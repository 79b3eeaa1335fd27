"""Cross-run data as a user meets it: views, scans, ingestion and stubs beyond the happy path."""

from __future__ import annotations

import datetime as dt
import importlib.util
import warnings
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from sqlmodel import SQLModel, func, select

import consist
from consist import SchemaConflictError, Tracker, use_tracker


class Reading(SQLModel):
    __tablename__ = "reading_acc"
    __consist_key__ = "readings"

    sensor: int
    taken_at: dt.datetime


class Level(SQLModel):
    __tablename__ = "level_acc"
    __consist_key__ = "levels"

    value: int


def make_tracker(tmp_path: Path, *schemas: type) -> Tracker:
    return Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb", schemas=list(schemas))


CALLS: list[str] = []  # one entry per execution of a step below


def readings(n: int) -> pd.DataFrame:
    CALLS.append("readings")
    return pd.DataFrame({"sensor": range(n), "taken_at": pd.to_datetime(["2030-01-01 06:00"] * n)})


def levels(kind: str) -> pd.DataFrame:
    CALLS.append("levels")
    return pd.DataFrame({"value": [1, 2] if kind == "int" else ["low", "high"]})


def run_step(tracker: Tracker, fn, key: str, year: int, **config):
    with use_tracker(tracker):
        return consist.run(fn=fn, config=config, outputs=[key], parent_id="base", year=year)


def test_naive_timestamps_fill_a_datetime_field_read_as_utc(tmp_path):
    """A `datetime` field (aware in SQLModel) takes pandas' naive timestamps, as UTC, in views and scans."""
    tracker = make_tracker(tmp_path, Reading)
    CALLS.clear()
    run_step(tracker, readings, "readings", 2030, n=2)
    run_step(tracker, readings, "readings", 2030, n=2)
    assert CALLS == ["readings"]
    V = tracker.views.Reading
    df = consist.run_query(select(V.taken_at, V.consist_year), tracker=tracker)
    expected = dt.datetime(2030, 1, 1, 6, tzinfo=dt.UTC)
    assert df.height == 2 and all(v == expected for v in df["taken_at"].to_list())
    scanned = tracker.scan(Reading).collect()
    assert scanned["taken_at"].to_list() == [expected, expected]


def test_a_conflicting_schema_fails_only_queries_that_read_its_view(tmp_path):
    """Files that conflict under one schema raise SchemaConflictError for that view; other views and runs still query."""
    tracker = make_tracker(tmp_path, Level, Reading)
    run_step(tracker, levels, "levels", 2030, kind="int")
    run_step(tracker, levels, "levels", 2040, kind="text")
    run_step(tracker, readings, "readings", 2030, n=3)
    VL, VR = tracker.views.Level, tracker.views.Reading
    for stmt in (select(VL), select(func.count()).select_from(VL), select(VL.value).where(VL.consist_year == 2030)):
        with pytest.raises(SchemaConflictError, match=r"column 'value' is VARCHAR in .*levels\.parquet.*BIGINT in"):
            consist.run_query(stmt, tracker=tracker)
    assert consist.run_query(select(func.count()).select_from(VR), tracker=tracker).item() == 3
    assert consist.run_query("SELECT count(*) AS n FROM runs", tracker=tracker)["n"][0] == 3
    only_ints = tracker.scan("levels", year=2030).collect()
    assert only_ints["value"].to_list() == [1, 2]


def test_a_ghost_artifact_exports_its_stub_without_a_tracker_and_the_stub_gives_a_view(tmp_path):
    """An ingested, never-profiled artifact whose file is gone still exports a stub (no tracker needed) that works as a view."""
    tracker = make_tracker(tmp_path)
    first = run_step(tracker, readings, "readings", 2030, n=2).outputs["readings"]
    run_step(tracker, readings, "readings", 2040, n=3)
    consist.ingest(first, tracker=tracker)
    first.path.unlink()
    out = tmp_path / "models" / "readings_model.py"
    code = consist.export_sqlmodel_stub(first, out=out)
    assert "class Readings(SQLModel)" in code and "__consist_key__ = 'readings'" in code
    spec = importlib.util.spec_from_file_location("readings_model", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tracker.views.register(module.Readings)
    V = tracker.views.Readings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = consist.run_query(
            select(V.consist_year, func.count().label("n")).group_by(V.consist_year).order_by(V.consist_year),
            tracker=tracker,
        )
    assert df.rows() == [(2030, 2), (2040, 3)]


def test_ingesting_a_conflicting_file_names_the_file_already_ingested(tmp_path):
    """A hot-table type conflict names the new file, the column and the earlier ingested file."""
    tracker = make_tracker(tmp_path)
    ints = run_step(tracker, levels, "levels", 2030, kind="int").outputs["levels"]
    text = run_step(tracker, levels, "levels", 2040, kind="text").outputs["levels"]
    consist.ingest(ints, tracker=tracker)
    with pytest.raises(SchemaConflictError) as info:
        consist.ingest(text, tracker=tracker)
    message = str(info.value)
    assert str(text.path) in message and str(ints.path) in message and "'value'" in message


def test_a_facet_filter_takes_a_list_of_values(tmp_path):
    """tracker.scan(key, facet=[a, b]) keeps the runs whose facet is any of the values."""
    tracker = make_tracker(tmp_path)

    def trips(mode: str) -> pl.DataFrame:
        return pl.DataFrame({"mode": [mode]})

    with use_tracker(tracker):
        for mode in ("bus", "car", "bike"):
            consist.run(fn=trips, config={"mode": mode}, facet={"mode": mode}, outputs=["trips"], year=2030)
    picked = tracker.scan("trips", mode=["bus", "bike"]).collect()
    assert sorted(picked["mode"].to_list()) == ["bike", "bus"]
    assert tracker.scan("trips", mode=[]).collect().height == 0


def test_warnings_about_missing_files_and_keys_point_at_the_callers_line(tmp_path):
    """The missing-file and unknown-key warnings of views and scans are attributed to the user's code."""
    tracker = make_tracker(tmp_path, Reading)
    run_step(tracker, readings, "readings", 2030, n=2).outputs["readings"].path.unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        consist.run_query(select(func.count()).select_from(tracker.views.Reading), tracker=tracker)
        tracker.scan("readings").collect()
        tracker.scan("no_such_key")
    assert len(caught) == 3
    assert {Path(w.filename).resolve() for w in caught} == {Path(__file__).resolve()}


def test_flush_writes_current_views_to_the_catalog_file_without_a_query_first(tmp_path):
    """After runs and tracker.views.flush() alone, a plain DuckDB client reads every run's rows from db_path."""
    import duckdb

    tracker = make_tracker(tmp_path, Reading)
    run_step(tracker, readings, "readings", 2030, n=2)
    tracker.views.flush()
    run_step(tracker, readings, "readings", 2040, n=3)
    tracker.views.flush()
    con = duckdb.connect(str(tmp_path / "provenance.duckdb"), read_only=True)
    try:
        rows = con.sql("SELECT consist_year, count(*) FROM reading_acc GROUP BY ALL ORDER BY 1").fetchall()
    finally:
        con.close()
    assert rows == [(2030, 2), (2040, 3)]


class Household(SQLModel):
    __tablename__ = "household_acc"
    __consist_key__ = "households"

    hh_id: int
    income: float | None = None


def test_a_csv_column_left_empty_in_one_run_joins_the_numbers_of_another(tmp_path):
    """An optional CSV column with no values in one run is null there, not text that conflicts with the others."""
    tracker = make_tracker(tmp_path, Household)

    def write(_consist_ctx, body: str) -> None:
        path = _consist_ctx.run_dir / "households.csv"
        path.write_text(body)
        _consist_ctx.log_artifact(path, key="households")

    with use_tracker(tracker):
        tracker.run(fn=write, inject_context=True, config={"body": "hh_id,income\n1,\n2,\n"}, year=2030)
        tracker.run(fn=write, inject_context=True, config={"body": "hh_id,income\n3,5.5\n"}, year=2040)
    V = tracker.views.Household
    viewed = consist.run_query(select(V.hh_id, V.income).order_by(V.hh_id), tracker=tracker)
    assert viewed.rows() == [(1, None), (2, None), (3, 5.5)]
    scanned = tracker.scan("households").sort("hh_id").collect()
    assert scanned["income"].to_list() == [None, None, 5.5] and scanned.schema["income"] == pl.Float64
