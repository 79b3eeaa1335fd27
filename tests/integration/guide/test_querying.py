"""The guide's "Querying Results" and "Query Facets with pivot_facets" sections, as written."""

from __future__ import annotations

import pandas as pd
import polars as pl
from sqlmodel import select

import consist
from consist import Tracker, use_tracker


def load_population() -> pd.DataFrame:
    return pd.DataFrame({"person_id": [1, 2, 3], "age": [30, 40, 50]})


def run_model(year: int, df_pop: pd.DataFrame) -> pd.DataFrame:
    return df_pop.assign(year=year, number_of_trips=year % 7)


def test_finding_runs_and_loading_artifacts(in_tmp):
    """find_run, find_runs(index_by='year') and get_artifacts_for_run work on the coupler example."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    calls = []
    with use_tracker(tracker), consist.scenario("baseline", model="travel_demand") as sc:
        coupler = sc.coupler
        with sc.trace(name="initialize", run_id="baseline_init"):
            consist.log_dataframe(load_population(), key="population")
        for year in [2020, 2030, 2040]:
            with sc.trace(name="simulate", run_id=f"baseline_{year}", year=year, inputs=["population"]):
                calls.append(year)
                df_pop = consist.load(coupler.require("population"))
                consist.log_dataframe(run_model(year, df_pop), key="persons")

    # Find a specific run
    run = consist.find_run(
        tracker=tracker,
        parent_id="baseline",  # Scenario ID
        year=2030,
        model="simulate",
    )
    assert run.year == 2030 and run.parent_id == "baseline"

    # Get multiple runs indexed by a field
    runs_by_year = consist.find_runs(tracker=tracker, parent_id="baseline", model="simulate", index_by="year")
    result_2030 = runs_by_year[2030]
    assert sorted(runs_by_year) == [2020, 2030, 2040] and result_2030.id == run.id

    # Get artifacts for a run
    artifacts = tracker.get_artifacts_for_run(run.id)
    persons_artifact = artifacts.outputs["persons"]

    # Load the data
    df = consist.load(persons_artifact)
    assert isinstance(df, pd.DataFrame) and set(df["year"]) == {2030}
    assert calls == [2020, 2030, 2040]

    lineage = tracker.lineage(persons_artifact)
    assert [r.name for r in lineage.runs()] == ["simulate", "initialize"]


def test_pivot_facets_as_written(in_tmp):
    """The guide's pivot_facets block returns run_id, alpha, beta, mode for every simulate run."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    def simulate(alpha: float, beta: int, mode: str) -> pd.DataFrame:
        return pd.DataFrame({"score": [alpha * beta]})

    with use_tracker(tracker):
        for alpha in (0.1, 0.2):
            for mode in ("car", "bus"):
                consist.run(fn=simulate, name="simulate", config={"alpha": alpha, "beta": 3, "mode": mode},
                            outputs=["scores"])  # fmt: skip
        consist.run(fn=lambda alpha: None, name="other", config={"alpha": 9.9})

    # Pivot config facets into columns
    params = consist.pivot_facets(
        namespace="simulate",
        keys=["alpha", "beta", "mode"],
        value_columns={"mode": "value_str"},
    )

    rows = consist.run_query(
        select(params.c.run_id, params.c.alpha, params.c.beta, params.c.mode),
        tracker=tracker,
    )

    assert rows.columns == ["run_id", "alpha", "beta", "mode"]
    assert sorted(rows.select("alpha", "beta", "mode").rows()) == [
        (0.1, 3.0, "bus"), (0.1, 3.0, "car"), (0.2, 3.0, "bus"), (0.2, 3.0, "car"),
    ]  # fmt: skip
    assert isinstance(rows, pl.DataFrame) and len(rows.to_pandas()) == 4
