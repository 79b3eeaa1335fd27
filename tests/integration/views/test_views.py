"""Cross-run views: tracker.views.<Schema> over every artifact of a key, with provenance columns."""

from __future__ import annotations

import re
import warnings

import pandas as pd
import polars as pl
import pytest
from sqlmodel import Field, SQLModel, func, select

import consist
from consist import ConfigError, SchemaConflictError, use_tracker
from tests.helpers.views import Person, make_tracker, persons, query, run_sim, simulate


class Household(SQLModel):
    """A plain (non-table) SQLModel: its default __tablename__ is 'household'."""

    household_id: int
    size: int


def test_view_unions_every_run_with_provenance_columns(tmp_path):
    """The view has the schema's fields plus consist_* columns, one row set per run."""
    tracker = make_tracker(tmp_path, Person)
    a = run_sim(tracker, "baseline", 2030, 1)
    run_sim(tracker, "baseline", 2040, 2)
    run_sim(tracker, "high_gas", 2030, 5)
    V = tracker.views.Person
    assert [c.key for c in V.c] == ["person_id", "age", "number_of_trips", "income", "consist_run_id",
                                    "consist_scenario_id", "consist_year", "consist_artifact_id", "consist_iteration"]
    df = query(tracker, select(V).order_by(V.consist_scenario_id, V.consist_year, V.person_id))
    assert df.height == 9
    first = df.row(0, named=True)
    assert first["consist_run_id"] == a.run.id and first["consist_artifact_id"] == a.outputs["persons"].id
    assert (first["consist_scenario_id"], first["consist_year"], first["consist_iteration"]) == ("baseline", 2030, None)
    grouped = query(
        tracker,
        select(V.consist_scenario_id, V.consist_year, func.avg(V.number_of_trips).label("avg_trips"))
        .where(V.consist_scenario_id.in_(["baseline", "high_gas"]))
        .group_by(V.consist_scenario_id, V.consist_year)
        .order_by(V.consist_scenario_id, V.consist_year),
    )
    assert grouped["avg_trips"].to_list() == [2.0, 3.0, 6.0]


def test_new_runs_appear_without_refresh_and_unchanged_catalog_is_not_rebuilt(tmp_path):
    """A new run's rows show up in the next query; queries on an unchanged catalog do not rebuild the view."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)
    V = tracker.views.Person
    count = select(func.count().label("n")).select_from(V)
    assert query(tracker, count)["n"][0] == 3
    builds = tracker.views.builds
    for _ in range(3):
        assert query(tracker, count)["n"][0] == 3
        assert tracker.views.Person is V
    assert tracker.views.builds == builds
    run_sim(tracker, "baseline", 2040, 2)
    assert query(tracker, count)["n"][0] == 6
    assert tracker.views.builds == builds + 1


def test_a_second_tracker_process_sees_runs_of_the_first(tmp_path):
    """Runs recorded by another Tracker on the same folder appear in this tracker's view."""
    reader = make_tracker(tmp_path, Person)
    writer = make_tracker(tmp_path)
    assert query(reader, select(func.count()).select_from(reader.views.Person)).item() == 0
    run_sim(writer, "baseline", 2030, 1)
    assert query(reader, select(func.count()).select_from(reader.views.Person)).item() == 3


def test_columns_added_in_later_runs_are_null_in_earlier_ones(tmp_path):
    """UNION BY NAME: a declared column an older file lacks reads as null there."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)
    run_sim(tracker, "baseline", 2040, 1, income=True)
    V = tracker.views.Person
    df = query(tracker, select(V.consist_year, V.income).order_by(V.consist_year))
    assert df.filter(pl.col("consist_year") == 2030)["income"].null_count() == 3
    assert df.filter(pl.col("consist_year") == 2040)["income"].to_list() == [1000.0] * 3
    assert df.schema["income"] == pl.Float64


def test_csv_and_parquet_artifacts_share_one_view(tmp_path):
    """Artifacts of one key logged as CSV and as Parquet are both in the view, cast to the declared types."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)

    def write_csv(_consist_ctx) -> None:
        path = _consist_ctx.run_dir / "persons.csv"
        path.write_text("person_id,age,number_of_trips\n7,70,7\n8,80,8\n")
        _consist_ctx.log_artifact(path, key="persons")

    with use_tracker(tracker):
        consist.run(fn=write_csv, inject_context=True, parent_id="csv", year=2030)
    V = tracker.views.Person
    df = query(tracker, select(V.consist_scenario_id, V.person_id, V.age).where(V.consist_scenario_id == "csv"))
    assert sorted(df["person_id"].to_list()) == [7, 8] and df.schema["age"] == pl.Int64


def test_schema_with_no_artifacts_gives_an_empty_typed_view(tmp_path):
    """Before any run, the view exists, is empty, and has the declared column types."""
    tracker = make_tracker(tmp_path, Person, Household)
    df = query(tracker, select(tracker.views.Person))
    assert df.height == 0
    assert df.schema["person_id"] == pl.Int64 and df.schema["income"] == pl.Float64
    assert df.schema["consist_scenario_id"] == pl.String and df.schema["consist_year"] == pl.Int64
    assert query(tracker, "SELECT * FROM household").columns[:2] == ["household_id", "size"]


def test_default_keys_are_the_table_name_or_its_plural_ignoring_case(tmp_path):
    """A schema without __consist_key__ covers artifacts keyed by its table name or that name plus 's'."""
    tracker = make_tracker(tmp_path, Household)

    def households(n: int) -> dict[str, pd.DataFrame]:
        frame = pd.DataFrame({"household_id": [n], "size": [n]})
        return {"household": frame, "Households": frame, "housing": frame}

    with use_tracker(tracker):
        consist.run(fn=households, config={"n": 2}, outputs=["household", "Households", "housing"])
    df = query(tracker, select(tracker.views.Household))
    assert df.height == 2


def test_a_cache_hit_in_another_scenario_shows_there_but_reruns_do_not_double(tmp_path):
    """Re-running a step adds no rows; reusing it in a new scenario adds it under that scenario."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)
    assert run_sim(tracker, "baseline", 2030, 1).cache_hit
    hit = run_sim(tracker, "policy", 2030, 1)
    assert hit.cache_hit
    V = tracker.views.Person
    df = query(tracker, select(V.consist_scenario_id, func.count().label("n")).group_by(V.consist_scenario_id)
               .order_by(V.consist_scenario_id))  # fmt: skip
    assert df.rows() == [("baseline", 3), ("policy", 3)]
    policy = query(tracker, select(V.consist_run_id).where(V.consist_scenario_id == "policy").distinct())
    assert policy["consist_run_id"].to_list() == [hit.run.id]


def test_conflicting_types_name_the_files_and_the_column(tmp_path):
    """A file whose column does not fit the declared type is reported with an agreeing file and the column."""
    tracker = make_tracker(tmp_path, Person)
    good = run_sim(tracker, "baseline", 2030, 1)

    def text_ages() -> pl.DataFrame:
        return persons(1).with_columns(pl.col("age").cast(pl.String) + " years")

    with use_tracker(tracker):
        bad = consist.run(fn=text_ages, outputs=["persons"], parent_id="baseline", year=2040)
    with pytest.raises(SchemaConflictError) as info:
        query(tracker, select(tracker.views.Person))
    message = str(info.value)
    assert "'age'" in message and "VARCHAR" in message
    assert bad.outputs["persons"].uri in message and good.outputs["persons"].uri in message


def test_a_missing_cold_file_is_skipped_with_a_warning_naming_it(tmp_path):
    """Deleting an artifact's file drops its rows with a warning, whether or not the view was built before."""
    tracker = make_tracker(tmp_path, Person)
    first = run_sim(tracker, "baseline", 2030, 1)
    second = run_sim(tracker, "baseline", 2040, 2)
    count = select(func.count()).select_from(tracker.views.Person)
    assert query(tracker, count).item() == 6
    second.outputs["persons"].path.unlink()
    with pytest.warns(UserWarning, match=re.escape(str(second.outputs["persons"].path))):
        assert query(tracker, count).item() == 3
    fresh = make_tracker(tmp_path, Person)
    first.outputs["persons"].path.unlink()
    with pytest.warns(UserWarning, match="is missing"):
        assert query(fresh, select(func.count()).select_from(fresh.views.Person)).item() == 0


def test_hostile_table_column_and_key_names_are_quoted(tmp_path):
    """Quotes, spaces and SQL in table, column and key names reach DuckDB as quoted identifiers."""
    key = "odd key's \"x\"; DROP TABLE runs"

    class Hostile(SQLModel):
        __tablename__ = 'we"ird; DROP VIEW runs; --'
        __consist_key__ = key

        plain: int
        spaced: str | None = Field(default=None, sa_column_kwargs={"name": 'a "b"; c'})

    tracker = make_tracker(tmp_path, Hostile)

    def hostile() -> dict[str, pl.DataFrame]:
        return {key: pl.DataFrame({"plain": [1, 2], 'a "b"; c': ["x", "y"]})}

    with use_tracker(tracker):
        consist.run(fn=hostile, outputs=[key], parent_id="it's", year=1)
    V = tracker.views.Hostile
    df = query(tracker, select(V.plain, V.spaced, V.consist_scenario_id).where(V.consist_scenario_id == "it's")
               .order_by(V.plain))  # fmt: skip
    assert df.rows() == [(1, "x", "it's"), (2, "y", "it's")]
    assert query(tracker, "SELECT count(*) AS n FROM runs")["n"][0] == 1


def test_filter_on_a_provenance_column_reads_only_matching_files(tmp_path):
    """DuckDB opens only the files of the runs a provenance filter selects (its own count, EXPLAIN ANALYZE)."""
    tracker = make_tracker(tmp_path, Person)
    runs = [run_sim(tracker, ("a", "b")[i % 2], 2020 + i, i) for i in range(12)]
    V = tracker.views.Person
    query(tracker, select(func.count()).select_from(V))

    def files_read(where: str) -> int:
        with tracker.views.querying():
            con = tracker.catalog.connection()
            plan = con.execute(f"EXPLAIN ANALYZE SELECT avg(number_of_trips) FROM person_vt {where}").fetchall()[0][1]
        return sum(int(n) for n in re.findall(r"Total Files Read: (\d+)", plan))

    assert files_read("") == 12
    assert files_read(f"WHERE consist_run_id = '{runs[5].run.id}'") == 1
    assert files_read(f"WHERE consist_artifact_id = '{runs[7].outputs['persons'].id}'") == 1
    assert files_read("WHERE consist_scenario_id = 'a' AND consist_year = 2024") == 1
    assert files_read("WHERE consist_scenario_id IN ('b', 'c')") == 6


def test_register_later_and_bad_schemas(tmp_path):
    """register() adds a view; reserved table names and provenance-named fields are refused."""
    tracker = make_tracker(tmp_path)
    run_sim(tracker, "baseline", 2030, 1)
    V = tracker.views.register(Person)
    assert query(tracker, select(func.count()).select_from(V)).item() == 3
    with pytest.raises(AttributeError, match="registered schemas are Person"):
        _ = tracker.views.Nope

    class Runs(SQLModel):
        __tablename__ = "runs"
        x: int

    class Shadow(SQLModel):
        consist_year: int

    with pytest.raises(ConfigError, match="catalog's own views"):
        tracker.views.register(Runs)
    with pytest.raises(ConfigError, match="consist_year"):
        tracker.views.register(Shadow)


def test_views_do_not_warn_on_a_clean_catalog(tmp_path):
    """A normal query over a healthy catalog emits no warnings."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "baseline", 2030, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert query(tracker, select(tracker.views.Person)).height == 3


def test_without_symbolic_links_views_and_scans_join_provenance_instead(tmp_path, monkeypatch):
    """Where links cannot be made, views and scans give the same rows and still prune by run."""
    from consist.views.farm import LinkFarm

    tracker = make_tracker(tmp_path, Person)
    runs = [run_sim(tracker, ("a", "b")[i % 2], 2020 + i, i) for i in range(6)]
    V = tracker.views.Person
    stmt = select(V).order_by(V.consist_year, V.person_id)
    linked = query(tracker, stmt)
    scanned = tracker.scan("persons").collect().sort("consist_year", "person_id")

    monkeypatch.setattr(LinkFarm, "link", lambda self, source: None)
    other = make_tracker(tmp_path, Person)
    assert query(other, stmt).equals(linked)
    assert other.scan("persons").collect().sort("consist_year", "person_id").equals(scanned)
    with other.views.querying():
        con = other.catalog.connection()
        plan = con.execute(f"EXPLAIN ANALYZE SELECT count(*) FROM person_vt WHERE consist_run_id = '{runs[3].run.id}'")
        files = sum(int(n) for n in re.findall(r"Total Files Read: (\d+)", plan.fetchall()[0][1]))
    assert files <= 2  # the matching file, and the first of the list, which DuckDB opens to bind


def test_a_scenario_name_too_long_for_a_link_still_shows(tmp_path):
    """A provenance value longer than a file name allows falls back to the joined table."""
    tracker = make_tracker(tmp_path, Person)
    long_name = "scenario-" + "x" * 300
    run_sim(tracker, long_name, 2030, 1)
    run_sim(tracker, "short", 2030, 2)
    V = tracker.views.Person
    df = query(tracker, select(V.consist_scenario_id, func.sum(V.number_of_trips).label("t"))
               .group_by(V.consist_scenario_id).order_by(V.consist_scenario_id))  # fmt: skip
    assert df["consist_scenario_id"].to_list() == ["scenario-" + "x" * 300, "short"]
    assert tracker.scan("persons", scenario=long_name).collect().height == 3


def test_runs_with_and_without_scenario_year_or_iteration_share_one_view(tmp_path):
    """Null provenance values read back as null beside set ones, in views and scans, and filters on them prune."""
    tracker = make_tracker(tmp_path, Person)
    with use_tracker(tracker):
        consist.run(fn=simulate, name="simulate", config={"trips": 1}, outputs=["persons"])
        consist.run(fn=simulate, name="simulate", config={"trips": 2}, outputs=["persons"], year=2030)
        consist.run(fn=simulate, name="simulate", config={"trips": 3}, outputs=["persons"], parent_id="s",
                    year=2030, iteration=2)  # fmt: skip
    V = tracker.views.Person
    df = query(tracker, select(V.consist_scenario_id, V.consist_year, V.consist_iteration,
                               func.sum(V.number_of_trips).label("t"))
               .group_by(V.consist_scenario_id, V.consist_year, V.consist_iteration).order_by("t"))  # fmt: skip
    assert df.rows() == [(None, None, None, 6), (None, 2030, None, 9), ("s", 2030, 2, 12)]
    assert query(tracker, select(func.count()).select_from(V).where(V.consist_iteration == 2)).item() == 3
    assert query(tracker, select(func.count()).select_from(V).where(V.consist_year.is_(None))).item() == 3
    scanned = tracker.scan("persons").group_by("consist_scenario_id", "consist_year", "consist_iteration").agg(
        pl.col("number_of_trips").sum().alias("t")).sort("t").collect()  # fmt: skip
    assert scanned.rows() == df.rows()
    assert tracker.scan("persons", iteration=2).collect().height == 3


def test_provenance_folders_need_no_symbolic_links_and_survive_an_equals_sign_in_paths(tmp_path, monkeypatch):
    """Views and scans give the same rows without symlink support, and under a run folder whose name has '='."""
    import os

    def no_symlinks(*args, **kwargs):
        raise OSError("symbolic links are not supported here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    plain = make_tracker(tmp_path / "plain", Person)
    odd = make_tracker(tmp_path / "exp=1", Person)  # a folder name a hive reader could take for a partition
    frames = []
    for tracker in (plain, odd):
        for i in range(4):
            run_sim(tracker, ("a", "b")[i % 2], 2020 + i, i)
        V = tracker.views.Person
        frames.append(query(tracker, select(V.consist_scenario_id, V.consist_year, func.sum(V.number_of_trips).label("t"))
                            .group_by(V.consist_scenario_id, V.consist_year).order_by(V.consist_year)))  # fmt: skip
        scanned = tracker.scan("persons", scenario="b").collect()
        assert sorted(scanned["consist_year"].unique().to_list()) == [2021, 2023]
        assert "exp" not in scanned.columns
    assert frames[0].equals(frames[1])
    assert frames[0].rows() == [("a", 2020, 3), ("b", 2021, 6), ("a", 2022, 9), ("b", 2023, 12)]


def test_views_and_scans_read_a_moved_run_folder(tmp_path):
    """After the run folder (and catalog) moved elsewhere, views and scans read the files at their new place."""
    import shutil

    first = make_tracker(tmp_path / "old", Person)
    for i in range(3):
        run_sim(first, "s", 2020 + i, i)
    shutil.move(str(tmp_path / "old"), str(tmp_path / "new"))
    moved = make_tracker(tmp_path / "new", Person)
    V = moved.views.Person
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "file is missing" warning: every file is found at its new place
        df = query(moved, select(V.consist_year, func.sum(V.number_of_trips).label("t")).group_by(V.consist_year)
                   .order_by(V.consist_year))  # fmt: skip
        assert df.rows() == [(2020, 3), (2021, 6), (2022, 9)]
        assert moved.scan("persons", year=2021).collect()["number_of_trips"].sum() == 6


def test_queries_that_name_no_view_leave_the_views_alone(tmp_path):
    """A query of runs after a new run does not rebuild the views; the next query of a view does."""
    tracker = make_tracker(tmp_path, Person)
    run_sim(tracker, "s", 2020, 1)
    V = tracker.views.Person
    assert query(tracker, select(func.count()).select_from(V)).item() == 3
    builds = tracker.views.builds
    run_sim(tracker, "s", 2021, 2)
    assert consist.run_query("SELECT count(*) AS n FROM runs", tracker=tracker)["n"].item() == 2
    assert tracker.views.builds == builds
    assert query(tracker, select(func.count()).select_from(V)).item() == 6
    assert tracker.views.builds == builds + 1
