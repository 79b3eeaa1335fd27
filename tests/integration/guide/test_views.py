"""The guide's "Cross-Run Queries with Views" and "Generating Schemas from Captured Data", as written.

The views snippet is the guide's code verbatim (checked against the guide when it is
present). It queries runs made by the guide's coupler example ("Passing Data with the
Coupler"), also verbatim, run once as written (scenario ``baseline``) and once with the
scenario renamed to ``high_gas`` so that the query has both scenarios to compare. The
user's helpers ``load_population`` and ``run_model`` are stubbed; each scenario's trips
differ so the averages tell them apart.

The schema section has no code: the test follows its text (profile a file when logging
it, ingest it, delete the file, export the stub, register it, query the view).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from sqlmodel import SQLModel

import consist
from consist import Tracker, use_tracker
from tests.integration.guide.test_pattern2 import (
    COUPLER,  # the guide's coupler example, kept verbatim once
)

GUIDE = Path(__file__).resolve().parents[4] / "shared" / "spec" / "usage-guide.md"


VIEWS = '''
import consist
from sqlmodel import SQLModel, Field, select, func
from consist import Tracker

class Person(SQLModel, table=True):
    person_id: int = Field(primary_key=True)
    age: int
    number_of_trips: int

tracker = Tracker(
    run_dir="./runs",
    db_path="./provenance.duckdb",
    schemas=[Person]
)

# After running scenarios...
VPerson = tracker.views.Person

query = (
    select(
        VPerson.consist_scenario_id,
        VPerson.consist_year,
        func.avg(VPerson.number_of_trips).label("avg_trips")
    )
    .where(VPerson.consist_scenario_id.in_(["baseline", "high_gas"]))
    .group_by(VPerson.consist_scenario_id, VPerson.consist_year)
)

results = consist.run_query(query, tracker=tracker)
'''

TRIPS = {"baseline": 3, "high_gas": 1}  # trips per person in each scenario (plus year % 7)


def _forget_person_table() -> None:
    table = SQLModel.metadata.tables.get("person")
    if table is not None:
        SQLModel.metadata.remove(table)


@pytest.fixture
def fresh_metadata():
    """The guide defines Person as a table model, in SQLModel's one global registry: other
    tests (and the docs) may have defined a 'person' table first, and this one must not
    stay behind either."""
    _forget_person_table()
    yield
    _forget_person_table()


def load_population() -> pd.DataFrame:
    return pd.DataFrame({"person_id": [1, 2, 3, 4], "age": [30, 40, 50, 60]})


def run_coupler_example(scenario: str) -> None:
    code = COUPLER.replace("baseline", scenario)  # the scenario name, its init run id and its year run ids

    def run_model(year: int, df_pop: pd.DataFrame) -> pd.DataFrame:
        return df_pop.assign(number_of_trips=TRIPS[scenario] + year % 7 + df_pop["person_id"] % 2)

    namespace = {"consist": consist, "use_tracker": use_tracker, "load_population": load_population,
                 "run_model": run_model, "tracker": Tracker(run_dir="./runs", db_path="./provenance.duckdb")}  # fmt: skip
    exec(compile(code, f"coupler_{scenario}.py", "exec"), namespace)


_runs = iter(range(1000))


def run_views_snippet() -> dict:
    # A module name of its own each time: SQLAlchemy keeps classes by module and name.
    namespace: dict = {"__name__": f"guide_views_snippet_{next(_runs)}"}
    exec(compile(VIEWS, "guide_views.py", "exec"), namespace)
    return namespace


def expected(scenario: str, year: int) -> float:
    return TRIPS[scenario] + year % 7 + 0.5  # person ids 1..4: half odd


def test_snippets_match_the_guide():
    """The snippets tested here appear verbatim in the usage guide."""
    if not GUIDE.exists():
        pytest.skip(f"{GUIDE} is not available")
    text = GUIDE.read_text()
    assert COUPLER.strip() in text and VIEWS.strip() in text


def test_cross_run_query_compares_scenarios_by_year(in_tmp, fresh_metadata):
    """The guide's grouped average returns one row per scenario and year with the right means."""
    run_coupler_example("baseline")
    run_coupler_example("high_gas")
    ns = run_views_snippet()
    results = ns["results"]
    assert isinstance(results, pl.DataFrame)
    assert results.columns == ["consist_scenario_id", "consist_year", "avg_trips"]
    got = {(r["consist_scenario_id"], r["consist_year"]): r["avg_trips"] for r in results.iter_rows(named=True)}
    assert got == {(s, y): expected(s, y) for s in TRIPS for y in (2020, 2030, 2040)}

    # Views include the other metadata columns too, and a new run shows up in the same query.
    tracker, VPerson = ns["tracker"], ns["VPerson"]
    assert {"consist_run_id", "consist_artifact_id", "consist_iteration"} <= {c.key for c in VPerson.c}
    builds = tracker.views.builds
    assert consist.run_query(ns["query"], tracker=tracker).height == 6 and tracker.views.builds == builds
    with use_tracker(tracker), consist.scenario("high_gas") as sc, sc.trace(name="simulate", year=2050):
        consist.log_dataframe(load_population().assign(number_of_trips=7), key="persons")
    again = consist.run_query(ns["query"], tracker=tracker)
    assert again.filter(pl.col("consist_year") == 2050)["avg_trips"].to_list() == [7.0]


def test_views_before_any_run_are_empty_and_typed(in_tmp, fresh_metadata):
    """Run before any scenario, the snippet returns an empty frame with the query's columns."""
    results = run_views_snippet()["results"]
    assert results.height == 0 and results.columns == ["consist_scenario_id", "consist_year", "avg_trips"]
    assert results.schema["consist_year"] == pl.Int64


def test_schema_capture_export_and_register(in_tmp):
    """Profile a CSV when logging it, ingest it, delete it; export its stub, register it, and query the view."""
    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

    def write_households(_consist_ctx) -> None:
        path = _consist_ctx.run_dir / "households.csv"
        path.write_text("household id,size,income\n1,2,50000.5\n2,4,72000\n3,1,\n")
        _consist_ctx.log_artifact(path, key="households", profile_file_schema=True, file_schema_sample_rows=2)

    with use_tracker(tracker):
        result = consist.run(fn=write_households, inject_context=True, parent_id="baseline", year=2030)
    artifact = result.outputs["households"]
    assert artifact.meta["schema_id"] == artifact.hash
    consist.ingest(artifact, tracker=tracker)
    artifact.path.unlink()  # the captured schema and the ingested rows outlive the file

    stub = consist.export_sqlmodel_stub(artifact, tracker=tracker, out="models/households.py")
    assert re.search(r"household_id: int = Field\(sa_column_kwargs=\{\"name\": 'household id'\}\)", stub)
    assert "income: float" in stub  # nulls are counted over the first 2 sampled rows only
    spec = importlib.util.spec_from_file_location("households_model", "models/households.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    viewer = Tracker(run_dir="./runs", db_path="./provenance.duckdb", schemas=[module.Households])
    V = viewer.views.Households
    from sqlmodel import func, select

    df = consist.run_query(
        select(V.consist_scenario_id, func.sum(V.size).label("people"), func.count().label("n"))
        .group_by(V.consist_scenario_id),
        tracker=viewer,
    )
    assert df.rows() == [("baseline", 7, 3)]
