"""Catalog queries: find_run(s), artifacts of a run, lineage, pivot_facets, run_query."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest
from sqlmodel import select

import consist
from consist import Tracker, use_tracker
from tests.helpers.journals import record_line


def simulate(year: int, alpha: float, mode: str) -> pd.DataFrame:
    return pd.DataFrame({"year": [year], "alpha": [alpha], "mode": [mode]})


@pytest.fixture
def sweep(tracker: Tracker) -> Tracker:
    """Three years of 'simulate' in scenario 'baseline', plus one in 'high_gas'."""
    with use_tracker(tracker):
        for year in (2020, 2030, 2040):
            consist.run(fn=simulate, name="simulate", parent_id="baseline", year=year,
                        config={"year": year, "alpha": year / 1e4, "mode": "car"}, outputs=["persons"])  # fmt: skip
        consist.run(fn=simulate, name="simulate", parent_id="high_gas", year=2030,
                    config={"year": 2030, "alpha": 0.9, "mode": "bus"}, outputs=["persons"])  # fmt: skip
    return tracker


def test_find_run_by_scenario_year_and_model(sweep):
    """find_run returns the one run of a model for a scenario and year."""
    run = consist.find_run(tracker=sweep, parent_id="baseline", year=2030, model="simulate")
    assert (run.parent_id, run.year, run.model) == ("baseline", 2030, "simulate")


def test_find_runs_indexed_by_year(sweep):
    """index_by='year' returns a dict from year to run."""
    runs = consist.find_runs(tracker=sweep, parent_id="baseline", model="simulate", index_by="year")
    assert sorted(runs) == [2020, 2030, 2040]
    assert runs[2030].config["alpha"] == 0.203


def test_find_runs_indexed_by_facet_and_filtered_by_facets(sweep):
    """index_by='facet.<key>' keys by a facet; facets={} filters on facet values."""
    by_mode = consist.find_runs(tracker=sweep, year=2030, index_by="facet.mode")
    assert sorted(by_mode) == ["bus", "car"]
    assert [r.parent_id for r in sweep.find_runs(facets={"mode": "bus"})] == ["high_gas"]
    assert len(sweep.find_runs(facets={"alpha": 0.9, "mode": "bus"})) == 1


def test_find_runs_accepts_lists_and_none(sweep):
    """A list matches any of its values; None matches a missing field."""
    assert len(sweep.find_runs(parent_id=["baseline", "high_gas"])) == 4
    assert sweep.find_runs(iteration=None, year=2040)[0].year == 2040


def test_find_run_with_no_match_names_existing_values(sweep):
    """No match raises RunNotFoundError listing the values that do exist."""
    with pytest.raises(consist.RunNotFoundError, match=r"year=2050.*year in \[2020, 2030, 2040\]"):
        consist.find_run(tracker=sweep, parent_id="baseline", year=2050, model="simulate")


def test_find_runs_rejects_unknown_fields(sweep):
    """A filter that is not a run field is a ConfigError suggesting close names."""
    with pytest.raises(consist.ConfigError, match="Did you mean year"):
        sweep.find_runs(yaer=2030)


def test_latest_run_wins_on_repeats(sweep):
    """A cache hit is a run too: find_run returns the latest, which reuses the first."""
    first = sweep.find_run(parent_id="baseline", year=2020, model="simulate")
    with use_tracker(sweep):
        consist.run(fn=simulate, name="simulate", parent_id="baseline", year=2020,
                    config={"year": 2020, "alpha": 0.202, "mode": "car"}, outputs=["persons"])  # fmt: skip
    latest = sweep.find_run(parent_id="baseline", year=2020, model="simulate")
    assert latest.cache_hit and latest.reused_run_id == first.id


def test_get_artifacts_for_run_and_load(sweep):
    """get_artifacts_for_run gives outputs by key, loadable as logged."""
    run = sweep.find_run(parent_id="baseline", year=2030)
    artifacts = sweep.get_artifacts_for_run(run.id)
    df = consist.load(artifacts.outputs["persons"])
    assert isinstance(df, pd.DataFrame) and df["year"].tolist() == [2030]
    assert artifacts.inputs == {}


def test_get_run_of_unknown_id_raises(tracker):
    """An unknown run id raises RunNotFoundError naming it."""
    with pytest.raises(consist.RunNotFoundError, match="'nope'"):
        tracker.get_run("nope")
    with pytest.raises(consist.RunNotFoundError, match="'nope'"):
        tracker.find_run(id="nope")


def test_lineage_follows_inputs_recursively(tracker, raw_csv):
    """lineage names the producing run of an artifact and, recursively, of its inputs."""
    def clean(raw: pd.DataFrame) -> pd.DataFrame:
        return raw[raw["value"] > 0.5]

    def summarise(cleaned: pd.DataFrame) -> pd.DataFrame:
        return cleaned.groupby("category", as_index=False)["value"].mean()

    with use_tracker(tracker):
        a = consist.run(fn=clean, inputs={"raw": raw_csv}, outputs=["cleaned"])
        b = consist.run(fn=summarise, inputs={"cleaned": a.outputs["cleaned"]}, outputs=["summary"])
    tree = tracker.lineage(b.outputs["summary"])
    assert tree.run.id == b.run.id
    assert tree.inputs["cleaned"].run.id == a.run.id
    assert tree.inputs["cleaned"].inputs["raw"].run is None
    assert [r.id for r in tree.runs()] == [b.run.id, a.run.id]
    assert "summary" in str(tree) and "(raw input)" in str(tree)
    by_id = tracker.lineage(b.outputs["summary"].id)
    assert by_id.run.id == b.run.id
    assert tracker.lineage(b.outputs["summary"], max_depth=1).inputs["cleaned"].inputs == {}


def test_pivot_facets_as_in_the_guide(sweep):
    """pivot_facets gives one row per run with a column per key, queried through run_query."""
    params = consist.pivot_facets(namespace="simulate", keys=["alpha", "year", "mode"], value_columns={"mode": "value_str"})
    rows = consist.run_query(select(params.c.run_id, params.c.alpha, params.c.year, params.c.mode), tracker=sweep)
    assert isinstance(rows, pl.DataFrame)
    assert rows.columns == ["run_id", "alpha", "year", "mode"]
    assert sorted(rows["mode"].to_list()) == ["bus", "car", "car", "car"]
    assert sorted(rows.filter(pl.col("mode") == "car")["year"].to_list()) == [2020.0, 2030.0, 2040.0]
    assert isinstance(rows.to_pandas(), pd.DataFrame)


def test_pivot_facets_filters_in_sql(sweep):
    """The pivot is a subquery: filters and joins on it run in SQL with bound values."""
    params = consist.pivot_facets(namespace="simulate", keys=["alpha", "mode"], value_columns={"mode": "value_str"})
    rows = consist.run_query(select(params.c.run_id).where(params.c.mode == "bus"), tracker=sweep)
    assert rows.height == 1
    assert consist.run_query(select(params.c.run_id).where(params.c.alpha > 1), tracker=sweep).height == 0


def test_pivot_facets_rejects_bad_value_columns():
    """value_columns must name a value column for one of the keys."""
    with pytest.raises(consist.ConfigError, match="value_mode"):
        consist.pivot_facets(namespace="x", keys=["mode"], value_columns={"mode": "value_mode"})
    with pytest.raises(consist.ConfigError, match="not one of keys"):
        consist.pivot_facets(namespace="x", keys=["alpha"], value_columns={"mode": "value_str"})
    with pytest.raises(consist.ConfigError, match="keys"):
        consist.pivot_facets(namespace="x", keys=[])


def test_run_query_with_sql_string_and_params(sweep):
    """run_query runs a SQL string with bound parameters and returns Polars."""
    df = consist.run_query("SELECT year FROM runs WHERE parent_id = ? ORDER BY year", tracker=sweep, params=["baseline"])
    assert df["year"].to_list() == [2020, 2030, 2040]
    arts = sweep.run_query("SELECT ra.key, ra.direction FROM run_artifacts ra JOIN artifacts a ON ra.artifact_id = a.id")
    assert set(arts["key"]) == {"persons"} and set(arts["direction"]) == {"out"}


def test_run_query_uses_the_current_tracker(sweep):
    """Module-level queries use the tracker set by use_tracker."""
    with use_tracker(sweep):
        assert consist.run_query("SELECT count(*) AS n FROM runs")["n"][0] == 4
        assert len(consist.find_runs(model="simulate")) == 4


def test_run_query_rejects_other_objects(tracker):
    """Anything but SQL text or a SQLAlchemy statement is a ConfigError."""
    with pytest.raises(consist.ConfigError, match="SQL string or a SQLAlchemy select"):
        tracker.run_query(42)


def test_hostile_names_reach_sql_only_quoted(tracker):
    """Model names, facet keys and values with quotes, semicolons and unicode are data, never SQL."""
    nasty = "m'; DROP VIEW runs; --\"ü"
    key = 'k"; DELETE FROM facets; --\'é'
    with use_tracker(tracker):
        consist.run(fn=lambda: None, name=nasty, facet={key: "v'; --", "ok": 1})
    run = consist.find_run(tracker=tracker, model=nasty)
    assert run.facets[key] == "v'; --"
    assert tracker.find_runs(facets={key: "v'; --"})[0].id == run.id
    params = consist.pivot_facets(namespace=nasty, keys=[key, "ok"], value_columns={key: "value_str"})
    rows = consist.run_query(select(params.c.run_id, params.c[key], params.c.ok), tracker=tracker)
    assert rows.columns == ["run_id", key, "ok"]
    assert rows.row(0) == (run.id, "v'; --", 1.0)
    assert tracker.run_query("SELECT count(*) AS n FROM runs")["n"][0] == 1


def test_run_ids_never_reach_outside_the_records_folder(tracker):
    """A run id with path separators or a leading dot finds nothing, even if a file sits there."""
    with use_tracker(tracker):
        real = consist.run(fn=lambda: None, name="step").run
    (tracker.layout.root / "records" / "evil.json").write_bytes(record_line(tracker.layout.fresh, real.id)[2])
    for bad in ("../evil", ".hidden", "a/b"):
        with pytest.raises(consist.RunNotFoundError):
            tracker.get_run(bad)


def test_find_runs_by_tags(tracker):
    """tags= keeps runs carrying every named tag; find_run takes it too."""
    with use_tracker(tracker):
        for i, tags in enumerate((["calibration"], ["calibration", "final"], ["draft"])):
            consist.run(fn=simulate, name="simulate", config={"year": 2020 + i, "alpha": 0.1, "mode": "car"},
                        tags=tags, outputs=["persons"])  # fmt: skip
    assert len(consist.find_runs(tracker=tracker, tags="calibration")) == 2
    assert [r.tags for r in consist.find_runs(tracker=tracker, tags=["calibration", "final"])] == [["calibration", "final"]]
    assert consist.find_run(tracker=tracker, tags=["draft"]).year is None
    assert len(consist.find_runs(tracker=tracker, tags="calibration", limit=1)) == 1
