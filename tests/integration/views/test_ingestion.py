"""Ingestion: hot rows in DuckDB, hybrid views that never double them, and ghost artifacts."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from sqlmodel import SQLModel, func, select

import consist
from consist import (
    ArtifactNotFoundError,
    ConfigError,
    SchemaConflictError,
    Tracker,
    use_tracker,
)
from tests.helpers.frames import arrow_rich, pandas_rich, polars_rich, same_frame


class Trip(SQLModel):
    __tablename__ = "trip_it"
    __consist_key__ = "trips"

    trip_id: int
    minutes: float


def make_tracker(tmp_path: Path, *schemas: type) -> Tracker:
    return Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb", schemas=list(schemas))


def trips(n: int) -> pd.DataFrame:
    return pd.DataFrame({"trip_id": range(n), "minutes": [float(i) for i in range(n)]})


def run_trips(tracker: Tracker, n: int, scenario: str = "baseline", year: int = 2030):
    with use_tracker(tracker):
        return consist.run(fn=trips, config={"n": n}, outputs=["trips"], parent_id=scenario, year=year)


def count(tracker: Tracker) -> int:
    return consist.run_query(select(func.count()).select_from(tracker.views.Trip), tracker=tracker).item()


def test_ingested_rows_serve_the_view_and_are_never_doubled(tmp_path):
    """After ingesting one of two artifacts the view has each row once, with the same provenance."""
    tracker = make_tracker(tmp_path, Trip)
    first = run_trips(tracker, 3, year=2030)
    run_trips(tracker, 2, year=2040)
    before = consist.run_query(select(tracker.views.Trip).order_by("consist_year", "trip_id"), tracker=tracker)
    record = consist.ingest(first.outputs["trips"], tracker=tracker)
    assert record.rows == 3 and record.table == "trips"
    after = consist.run_query(select(tracker.views.Trip).order_by("consist_year", "trip_id"), tracker=tracker)
    assert after.equals(before)
    assert tracker.ingest(first.outputs["trips"]) == record  # idempotent


def test_ghost_artifact_loads_scans_and_stays_in_views(tmp_path):
    """An ingested artifact whose file is deleted still loads (as logged), scans, and appears in views."""
    tracker = make_tracker(tmp_path, Trip)
    result = run_trips(tracker, 4)
    artifact = result.outputs["trips"]
    tracker.ingest(artifact)
    artifact.path.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = consist.load(artifact)
        assert isinstance(df, pd.DataFrame) and df["trip_id"].tolist() == [0, 1, 2, 3]
        assert consist.load(artifact, as_="polars")["minutes"].to_list() == [0.0, 1.0, 2.0, 3.0]
        assert consist.scan(artifact).collect().height == 4
        assert count(tracker) == 4
        lazy = tracker.scan("trips")
        assert lazy.collect()["consist_run_id"].unique().to_list() == [result.run.id]
        assert lazy.filter(pl.col("trip_id") > 1).select("trip_id").collect()["trip_id"].sort().to_list() == [2, 3]
    with pytest.raises(ArtifactNotFoundError):
        consist.load(artifact, as_="path")


def test_ghost_loads_in_a_fresh_process_without_a_tracker(tmp_path):
    """consist.load finds the hot rows from the artifact's own location, in a new process."""
    tracker = make_tracker(tmp_path)
    artifact = run_trips(tracker, 2).outputs["trips"]
    tracker.ingest(artifact)
    artifact.path.unlink()
    code = (
        "import sys, msgspec, consist; from consist.models import Artifact; "
        "a = msgspec.json.decode(sys.stdin.buffer.read(), type=Artifact); "
        "print(consist.load(a)['trip_id'].tolist())"
    )
    import msgspec

    out = subprocess.run([sys.executable, "-c", code], input=msgspec.json.encode(artifact), capture_output=True,
                         check=True).stdout.decode()  # fmt: skip
    assert out.strip() == "[0, 1]"


def test_later_artifacts_add_columns_and_conflicting_types_are_refused(tmp_path):
    """A new column grows the hot table; a column of a conflicting type is refused by name."""
    tracker = make_tracker(tmp_path)

    def with_extra() -> pd.DataFrame:
        return trips(2).assign(mode=["car", "bus"])

    def text_minutes() -> pd.DataFrame:
        return trips(1).assign(minutes=["long"])

    tracker.ingest(run_trips(tracker, 2).outputs["trips"])
    with use_tracker(tracker):
        extra = consist.run(fn=with_extra, outputs=["trips"], year=2040)
        bad = consist.run(fn=text_minutes, outputs=["trips"], year=2050)
    tracker.ingest(extra.outputs["trips"])
    extra.outputs["trips"].path.unlink()
    assert consist.load(extra.outputs["trips"])["mode"].tolist() == ["car", "bus"]
    with pytest.raises(SchemaConflictError, match="'minutes'.*VARCHAR.*DOUBLE"):
        tracker.ingest(bad.outputs["trips"])


def test_bad_ingest_inputs(tmp_path):
    """Missing files, non-tabular artifacts and non-artifacts are refused with clear errors."""
    tracker = make_tracker(tmp_path)

    def note(_consist_ctx) -> None:
        path = _consist_ctx.run_dir / "notes.txt"
        path.write_text("hi")
        _consist_ctx.log_artifact(path, key="notes")

    with use_tracker(tracker):
        notes = consist.run(fn=note, inject_context=True).outputs["notes"]
    gone = run_trips(tracker, 1).outputs["trips"]
    gone.path.unlink()
    with pytest.raises(ArtifactNotFoundError, match="cannot ingest 'trips'"):
        tracker.ingest(gone)
    with pytest.raises(ConfigError, match="not tabular"):
        tracker.ingest(notes)
    with pytest.raises(ConfigError, match="takes Artifacts"):
        tracker.ingest(["trips.parquet"])


def test_hostile_keys_ingest_into_quoted_tables(tmp_path):
    """A key with quotes and SQL becomes a quoted hot table name."""
    key = 'trips"; DROP TABLE x; --'
    tracker = make_tracker(tmp_path)

    def make() -> dict[str, pd.DataFrame]:
        return {key: trips(2)}

    with use_tracker(tracker):
        artifact = consist.run(fn=make, outputs=[key]).outputs[key]
    assert tracker.ingest(artifact).table == key
    artifact.path.unlink()
    assert consist.load(artifact)["trip_id"].tolist() == [0, 1]


def _ingest_in_child(run_dir: str, db_path: str, artifact_json: bytes, done) -> None:
    import msgspec

    from consist.models import Artifact

    tracker = Tracker(run_dir=run_dir, db_path=db_path)
    tracker.ingest(msgspec.json.decode(artifact_json, type=Artifact))
    done.put("ok")


@pytest.mark.slow
def test_concurrent_ingests_and_queries_from_several_processes(tmp_path):
    """Two processes ingesting while a third queries the view all succeed; every row arrives once."""
    import msgspec

    tracker = make_tracker(tmp_path, Trip)
    artifacts = [run_trips(tracker, 50 + i, year=2000 + i).outputs["trips"] for i in range(6)]
    ctx = mp.get_context("spawn")
    done = ctx.Queue()
    where = (str(tracker.run_dir), str(tracker.db_path))
    children = [
        ctx.Process(target=_ingest_in_child, args=(*where, msgspec.json.encode(a), done)) for a in artifacts[:2]
    ]
    for child in children:
        child.start()
    seen = []
    while any(child.is_alive() for child in children) or len(seen) < 3:
        seen.append(count(tracker))
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert [done.get(timeout=5) for _ in children] == ["ok"] * 2
    assert all(n == 315 for n in seen)
    assert count(tracker) == 315
    for a in artifacts[:2]:
        a.path.unlink()
    assert count(tracker) == 315  # the two ingested ones are served from their hot rows


def test_ingest_without_use_tracker_finds_the_artifacts_tracker(tmp_path):
    """consist.ingest(artifact) with no tracker in use ingests into the tracker that recorded its run."""
    other = make_tracker(tmp_path / "other", Trip)
    tracker = make_tracker(tmp_path, Trip)
    artifact = run_trips(tracker, 3).outputs["trips"]
    record = consist.ingest(artifact)
    assert record.rows == 3
    artifact.path.unlink()
    assert count(tracker) == 3  # served from the hot rows of *this* tracker
    assert not (other.layout.hot / "hot.duckdb").exists()


@pytest.mark.parametrize(
    "make", [pandas_rich, polars_rich, arrow_rich], ids=["pandas", "polars", "arrow"]
)
def test_ghost_load_gives_back_what_was_stored(tracker: Tracker, make):
    """An ingested frame whose file is deleted loads from the hot rows with its index, dtypes, time zones and metadata intact."""

    def produce():
        return make()

    with use_tracker(tracker):
        artifact = consist.run(fn=produce, outputs=["out"]).outputs["out"]
        tracker.ingest(artifact)
        artifact.path.unlink()
        same_frame(make(), consist.load(artifact))
