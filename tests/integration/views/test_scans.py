"""Cross-run Polars scans: tracker.scan(key, **filters) as one LazyFrame with provenance columns."""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl
import pytest
from sqlmodel import SQLModel

import consist
from consist import ConfigError, SchemaConflictError, Tracker, use_tracker
from consist.artifacts import schema_capture


def make_tracker(tmp_path: Path) -> Tracker:
    return Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb")


def simulate(trips: int, mode: str = "car") -> pl.DataFrame:
    return pl.DataFrame({"person_id": [1, 2], "number_of_trips": [trips, trips + 1]})


def run_sim(tracker: Tracker, scenario: str, year: int, trips: int, mode: str = "car", **kwargs):
    with use_tracker(tracker):
        return consist.run(fn=simulate, name="simulate", config={"trips": trips, "mode": mode}, outputs=["persons"],
                           parent_id=scenario, year=year, facet={"mode": mode}, **kwargs)  # fmt: skip


def test_scan_is_lazy_with_provenance_columns_and_filters(tmp_path):
    """tracker.scan returns a LazyFrame over every run; scenario/year/run_id/facet filters choose runs."""
    tracker = make_tracker(tmp_path)
    a = run_sim(tracker, "baseline", 2030, 1)
    run_sim(tracker, "baseline", 2040, 2, mode="bus")
    run_sim(tracker, "high_gas", 2030, 5, iteration=3)
    lf = tracker.scan("persons")
    assert isinstance(lf, pl.LazyFrame)
    assert lf.collect_schema().names() == ["person_id", "number_of_trips", "consist_run_id", "consist_scenario_id",
                                           "consist_year", "consist_artifact_id", "consist_iteration"]
    assert lf.collect().height == 6
    one = tracker.scan("persons", run_id=a.run.id).collect()
    assert set(one["consist_artifact_id"]) == {a.outputs["persons"].id} and one["number_of_trips"].to_list() == [1, 2]
    assert tracker.scan("persons", scenario="baseline", year=[2040]).collect()["number_of_trips"].to_list() == [2, 3]
    assert tracker.scan("persons", scenario="high_gas").collect()["consist_iteration"].to_list() == [3, 3]
    assert tracker.scan("persons", mode="bus").collect()["consist_year"].unique().to_list() == [2040]
    grouped = (
        tracker.scan("persons", scenario=["baseline", "high_gas"])
        .group_by("consist_scenario_id", "consist_year")
        .agg(pl.col("number_of_trips").mean())
        .sort("consist_scenario_id", "consist_year")
    ).collect()
    assert grouped.rows() == [("baseline", 2030, 1.5), ("baseline", 2040, 2.5), ("high_gas", 2030, 5.5)]


@pytest.mark.slow
def test_a_scan_filtered_to_one_run_of_1000_opens_one_file(tmp_path, monkeypatch):
    """With 1,000 runs, filtering to one run scans one file and reads no other file's schema."""
    tracker = make_tracker(tmp_path)
    results = [run_sim(tracker, ("a", "b")[i % 2], 2000 + i, i) for i in range(1000)]
    scanned: list = []
    described: list[str] = []
    real_scan, real_describe = pl.scan_parquet, schema_capture.describe_file

    def counting_scan(source, *args, **kwargs):
        scanned.append(source if isinstance(source, list) else str(source))
        return real_scan(source, *args, **kwargs)

    def counting_describe(path, *args, **kwargs):
        described.append(str(path))
        return real_describe(path, *args, **kwargs)

    monkeypatch.setattr(pl, "scan_parquet", counting_scan)
    monkeypatch.setattr(schema_capture, "describe_file", counting_describe)
    def opened() -> list[str]:
        # Files are scanned through links named after their provenance (see consist.views.farm).
        out = []
        for source in scanned:
            out += [os.path.realpath(p) for p in ([source] if isinstance(source, str) else source)]
        return out

    target = results[637]
    df = tracker.scan("persons", run_id=target.run.id).collect()
    assert opened() == [target.outputs["persons"].uri]
    assert described == [target.outputs["persons"].uri]
    assert df["consist_run_id"].unique().to_list() == [target.run.id]
    scanned.clear()
    assert tracker.scan("persons", scenario="b", year=2001).collect().height == 2
    assert opened() == [results[1].outputs["persons"].uri]


def test_columns_are_unioned_and_widened_and_conflicts_name_both_files(tmp_path):
    """A column missing in one file is null there; int32 and int64 widen; int and text conflict by file name."""
    tracker = make_tracker(tmp_path)

    def narrow() -> pl.DataFrame:
        return pl.DataFrame({"x": pl.Series([1, 2], dtype=pl.Int32)})

    def wide() -> pl.DataFrame:
        return pl.DataFrame({"x": [3], "extra": ["e"]})

    def text() -> pl.DataFrame:
        return pl.DataFrame({"x": ["three"]})

    with use_tracker(tracker):
        first = consist.run(fn=narrow, outputs=["t"], year=1)
        second = consist.run(fn=wide, outputs=["t"], year=2)
    df = tracker.scan("t").collect().sort("consist_year")
    assert df.schema["x"] == pl.Int64 and df["x"].to_list() == [1, 2, 3]
    assert df["extra"].to_list() == [None, None, "e"]
    with use_tracker(tracker):
        third = consist.run(fn=text, outputs=["t"], year=3)
    with pytest.raises(SchemaConflictError) as info:
        tracker.scan("t")
    message = str(info.value)
    assert "'x'" in message and third.outputs["t"].uri in message
    assert first.outputs["t"].uri in message or second.outputs["t"].uri in message
    assert tracker.scan("t", year=[1, 2]).collect().height == 3  # filtering to agreeing runs works


def test_scan_of_a_schema_class_uses_its_columns_and_types(tmp_path):
    """Scanning a SQLModel class gives its declared columns, cast to their types, over its keys."""

    class Trip(SQLModel):
        __consist_key__ = "persons"
        person_id: int
        number_of_trips: float
        comment: str | None = None

    tracker = make_tracker(tmp_path)
    run_sim(tracker, "baseline", 2030, 1)
    df = tracker.scan(Trip).collect()
    assert df.columns[:3] == ["person_id", "number_of_trips", "comment"]
    assert df.schema["number_of_trips"] == pl.Float64 and df["comment"].null_count() == 2


def test_csv_artifacts_scan_with_their_captured_types(tmp_path):
    """CSV files are scanned with the types DuckDB sniffed for them, next to Parquet files."""
    tracker = make_tracker(tmp_path)

    def write(_consist_ctx, sep: str) -> None:
        name = "trips.tsv" if sep == "\t" else "trips.csv"
        path = _consist_ctx.run_dir / name
        path.write_text(sep.join(["person_id", "day"]) + "\n" + sep.join(["1", "2030-01-02"]) + "\n")
        _consist_ctx.log_artifact(path, key="trips")

    with use_tracker(tracker):
        consist.run(fn=write, config={"sep": ","}, inject_context=True, year=1)
        consist.run(fn=write, config={"sep": "\t"}, inject_context=True, year=2)
    df = tracker.scan("trips").collect()
    assert df.schema["day"] == pl.Date and df.height == 2


def test_unknown_keys_bad_filters_and_empty_scans(tmp_path):
    """An unknown key warns with close matches; an unknown facet is a ConfigError; no match is an empty frame."""
    tracker = make_tracker(tmp_path)
    run_sim(tracker, "baseline", 2030, 1)
    with pytest.warns(UserWarning, match="Did you mean 'persons'"):
        empty = tracker.scan("person")
    assert empty.collect().height == 0 and "consist_run_id" in empty.collect_schema().names()
    with pytest.raises(ConfigError, match="Did you mean year"):
        tracker.scan("persons", yaer=2030)
    none = tracker.scan("persons", scenario="nowhere").collect()
    assert none.height == 0 and none.schema["consist_year"] == pl.Int64
    with pytest.raises(ConfigError, match="artifact key or a schema class"):
        tracker.scan(42)


def test_missing_file_is_skipped_with_a_warning(tmp_path):
    """A deleted file is left out of the scan with a warning naming it."""
    tracker = make_tracker(tmp_path)
    run_sim(tracker, "baseline", 2030, 1)
    gone = run_sim(tracker, "baseline", 2040, 2)
    gone.outputs["persons"].path.unlink()
    with pytest.warns(UserWarning, match=re.escape(gone.outputs["persons"].uri)):
        df = tracker.scan("persons").collect()
    assert df["consist_year"].unique().to_list() == [2030]


def test_scan_reads_nothing_until_collected(tmp_path):
    """Building the frame reads no rows: a file replaced afterwards is what collect sees."""
    tracker = make_tracker(tmp_path)
    result = run_sim(tracker, "baseline", 2030, 1)
    lf = tracker.scan("persons").select("number_of_trips")
    pl.DataFrame({"person_id": [9], "number_of_trips": [99]}).write_parquet(result.outputs["persons"].path)
    assert lf.collect()["number_of_trips"].to_list() == [99]
