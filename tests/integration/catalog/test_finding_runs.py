"""The guide's "Finding Runs" and "Loading Artifacts" with the variants users write next to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import consist
from consist import RunNotFoundError, Tracker, use_tracker


def _simulate_years(tracker: Tracker, years) -> list:
    calls = []

    def simulate(year: int) -> pd.DataFrame:
        calls.append(year)
        return pd.DataFrame({"person": [1, 2], "year": [year, year]})

    with use_tracker(tracker), consist.scenario("baseline") as sc:
        for year in years:
            sc.run(name="simulate", fn=simulate, config={"year": year}, year=year, outputs=["persons"])
    return calls


def test_find_run_accepts_numpy_years_from_a_loop(tracker):
    """Years taken from np.arange filter find_run and find_runs like plain ints, and arrays act as lists."""
    calls = _simulate_years(tracker, np.arange(2020, 2050, 10))
    assert len(calls) == 3
    year = np.int64(2030)
    run = consist.find_run(tracker=tracker, parent_id="baseline", year=year, model="simulate")
    assert run.year == 2030
    assert len(consist.find_runs(tracker=tracker, year=np.array([2020, 2040]))) == 2
    assert len(consist.find_runs(tracker=tracker, year=pl.Series([2020, 2030]))) == 2
    assert len(consist.find_runs(tracker=tracker, year=range(2020, 2031, 10))) == 2
    assert len(consist.find_runs(tracker=tracker, facets={"year": np.int64(2040)})) == 1
    with pytest.raises(RunNotFoundError, match="year=2031"):
        consist.find_run(tracker=tracker, year=np.int64(2031))


def test_get_artifacts_for_run_accepts_the_run_itself(tracker):
    """get_artifacts_for_run takes a Run or a RunResult as well as run.id, and its outputs load."""
    _simulate_years(tracker, [2030])
    run = consist.find_run(tracker=tracker, parent_id="baseline", year=2030, model="simulate")
    by_run = tracker.get_artifacts_for_run(run)
    assert by_run.outputs["persons"].id == tracker.get_artifacts_for_run(run.id).outputs["persons"].id
    assert tracker.get_run(run).id == run.id
    with use_tracker(tracker):
        result = consist.run(fn=lambda n: pd.DataFrame({"n": [n]}), name="count", config={"n": 1}, outputs=["n"])
    assert consist.load(tracker.get_artifacts_for_run(result).outputs["n"])["n"].tolist() == [1]


def test_find_run_takes_the_tracker_positionally(tracker):
    """consist.find_run(tracker, ...) and find_runs(tracker, ...) work like tracker=."""
    _simulate_years(tracker, [2020, 2030])
    assert consist.find_run(tracker, year=2030).year == 2030
    assert sorted(consist.find_runs(tracker, model="simulate", index_by="year")) == [2020, 2030]


def test_lineage_by_path_and_as_a_notebook_graph(tracker):
    """tracker.lineage accepts the artifact's file path, and the result draws itself as an SVG graph."""

    def make() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2]})

    def double(a: pd.DataFrame) -> pd.DataFrame:
        return a * 2

    a = tracker.run(make, outputs=["a"]).outputs["a"]
    b = tracker.run(double, inputs={"a": a}, outputs=["b"]).outputs["b"]
    for ref in (b, b.id, b.uri, b.path):
        assert [r.name for r in tracker.lineage(ref).runs()] == ["double", "make"]
    assert "<svg" in tracker.lineage(b)._repr_html_()
    with pytest.raises(RunNotFoundError, match="id or path 'nope'"):
        tracker.lineage("nope")


def test_run_query_binds_numpy_values_and_named_params(tracker):
    """run_query binds numpy values in a SQL string or a select, and a dict binds $name placeholders."""
    import sqlalchemy as sa

    from consist import ConfigError

    _simulate_years(tracker, [2020, 2030])
    sql = "SELECT count(*) AS n FROM runs WHERE year = ?"
    assert consist.run_query(sql, tracker=tracker, params=[np.int64(2030)])["n"].item() == 1
    runs = sa.table("runs", sa.column("id"), sa.column("year"))
    query = sa.select(runs.c.id).where(runs.c.year.in_(np.array([2020, 2030])))
    assert consist.run_query(query, tracker=tracker).height == 2
    named = "SELECT count(*) AS n FROM runs WHERE year = $year"
    assert consist.run_query(named, tracker=tracker, params={"year": np.int64(2030)})["n"].item() == 1
    assert consist.run_query(named, tracker=tracker, params={"year": 2020})["n"].item() == 1  # not the kept plan's value
    with pytest.raises(ConfigError, match="one per \\? placeholder"):
        consist.run_query("SELECT id FROM runs WHERE year = ?", tracker=tracker, params="2030")


def test_an_unknown_table_names_what_the_catalog_has(tracker):
    """A misspelt table gets one error naming the close match and the catalog's tables, not DuckDB's guess."""
    from consist import CatalogError

    with pytest.raises(CatalogError, match="no table or view named 'rnus'. Did you mean 'runs'") as err:
        consist.run_query("SELECT * FROM rnus", tracker=tracker)
    assert "run_artifacts" in str(err.value) and "schemas=[Model]" in str(err.value)
