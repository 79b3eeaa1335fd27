"""tracker.runs_table: one row per run, config and facets as typed columns, filters, pandas on request."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import consist
from consist import ConfigError, Tracker, use_tracker


def simulate(year: int, growth: float, solver: dict) -> None:
    return None


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    with use_tracker(tracker):
        for name, growth in (("baseline", 1.0), ("high", 1.5)):
            with consist.scenario(name, region="north") as sc:
                for year in (2020, 2030):
                    sc.run(name="simulate", fn=simulate, config={"year": year, "growth": growth, "solver": {"tol": 0.01}},
                           year=year, facet={"mode": "bus"})  # fmt: skip
        consist.run(fn=simulate, config={"year": 2020, "growth": 1.0, "solver": {"tol": 0.01}},
                    name="simulate", parent_id="baseline", year=2020, facet={"mode": "bus"})  # fmt: skip
    return tracker


def test_one_row_per_run_with_typed_config_and_facet_columns(tracker: Tracker):
    table = tracker.runs_table(name="simulate")
    assert table.height == 5
    assert table.columns[:3] == ["id", "name", "model"]
    assert table.schema["config.year"] == pl.Int64 and table.schema["config.growth"] == pl.Float64
    assert table.schema["config.solver.tol"] == pl.Float64 and table.schema["year"] == pl.Int64
    assert table["facet.mode"].to_list() == ["bus"] * 5 and "facet.year" not in table.columns
    assert isinstance(table.schema["started_at"], pl.Datetime) and table.schema["started_at"].time_zone == "UTC"
    assert table["scenario"].to_list() == ["baseline", "baseline", "high", "high", "baseline"]
    assert table["cache_hit"].to_list() == [False] * 4 + [True]


def test_rows_and_filters_choose_runs(tracker: Tracker):
    assert tracker.runs_table(name="simulate", rows="executed").height == 4
    latest = tracker.runs_table(name="simulate", rows="latest")
    assert latest.height == 4 and latest.filter(pl.col("config.year") == 2020, pl.col("scenario") == "baseline")["cache_hit"].item()
    assert tracker.runs_table(parent_id="high", year=2030)["config.growth"].to_list() == [1.5]
    assert tracker.runs_table(facets={"mode": "bus"}, year=[2030]).height == 2
    scenarios = tracker.runs_table(kind="scenario")
    assert scenarios["name"].to_list() == ["baseline", "high"] and scenarios["facet.region"].to_list() == ["north"] * 2
    assert tracker.runs_table(kind=None).height == 7
    with pytest.raises(ConfigError, match="rows='newest'"):
        tracker.runs_table(rows="newest")


def test_pandas_on_request_and_the_package_function(tracker: Tracker):
    frame = consist.runs_table(tracker=tracker, name="simulate", as_pandas=True, config=False, facets=False)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 5
    assert not [c for c in frame.columns if c.startswith(("config.", "facet."))]


def test_mixed_types_in_one_config_leaf_become_json_text(tmp_path: Path):
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")

    def step(level) -> None:
        return None

    tracker.run(step, config={"level": 3})
    tracker.run(step, config={"level": "high"})
    table = tracker.runs_table()
    assert table["config.level"].to_list() == ["3", '"high"']
