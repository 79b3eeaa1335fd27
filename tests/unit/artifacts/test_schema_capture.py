"""Schema capture, column-type rules, and SQLModel stub export."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest
from sqlmodel import select

import consist
from consist import ConfigError, Tracker, use_tracker
from consist.artifacts.coltypes import combine, conflict, fits, polars_dtype, python_annotation
from consist.artifacts.schema_capture import (
    FileSchema,
    SchemaStore,
    describe_file,
    schema_from_meta,
)
from consist.views.schema_export import export_sqlmodel, export_sqlmodel_stub


def make_tracker(tmp_path: Path, *schemas: type) -> Tracker:
    return Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb", schemas=list(schemas))


def log_file(tracker: Tracker, write, name: str, key: str, **options):
    def step(_consist_ctx) -> None:
        path = _consist_ctx.run_dir / name
        write(path)
        _consist_ctx.log_artifact(path, key=key, **options)

    with use_tracker(tracker):
        return consist.run(fn=step, name=f"write_{key}", inject_context=True, config={"options": repr(options)})


def firms(path: Path) -> None:
    pl.DataFrame(
        {"firm_id": [1, 2, 3, 4], "mode": ["car", "bus", "car", None], "Mass (kg)": [1.5, None, 2.0, 3.0]}
    ).write_parquet(path)


# -- column type rules -------------------------------------------------------------------


def test_types_of_one_family_widen_and_others_conflict():
    """Integers widen, ints with floats become DOUBLE, nulls fit anything, numbers and text conflict."""
    assert combine(["INTEGER", "BIGINT"]) == "BIGINT"
    assert combine(["UINTEGER", "INTEGER"]) == "BIGINT"
    assert combine(["BIGINT", "FLOAT"]) == "DOUBLE"
    assert combine(['"NULL"', "VARCHAR"]) == "VARCHAR"
    assert combine(["TIMESTAMP_NS", "TIMESTAMP"]) == "TIMESTAMP"
    assert combine(["BIGINT", "VARCHAR"]) is None and combine(["DATE", "TIMESTAMP"]) is None
    assert conflict({"a.parquet": "BIGINT", "b.parquet": "INTEGER", "c.parquet": "VARCHAR"}) == ("a.parquet", "c.parquet")
    assert conflict({f"{i}.parquet": "BIGINT" for i in range(1000)}) is None
    assert fits("INTEGER", "DOUBLE") and fits('"NULL"', "BIGINT") and not fits("DOUBLE", "BIGINT")


def test_type_maps():
    """DuckDB types map to Polars dtypes and to Python annotations for stubs."""
    assert polars_dtype("BIGINT") == pl.Int64 and polars_dtype("DECIMAL(10,2)") == pl.Decimal(10, 2)
    assert polars_dtype("TIMESTAMP WITH TIME ZONE") == pl.Datetime("us", "UTC") and polars_dtype("MAP(A, B)") is None
    assert python_annotation("DATE") == ("date", "datetime") and python_annotation("VARCHAR") == ("str", None)


# -- capture -----------------------------------------------------------------------------


def test_profile_records_columns_types_nullability_and_stats(tmp_path):
    """profile_file_schema=True stores names, DuckDB types, nulls and statistics in the artifact's meta."""
    tracker = make_tracker(tmp_path)
    artifact = log_file(tracker, firms, "firms.parquet", "firms", profile_file_schema=True).outputs["firms"]
    schema = schema_from_meta(artifact.meta)
    assert artifact.meta["schema_id"] == artifact.hash == schema.id
    assert [(c.name, c.type) for c in schema.columns] == [("firm_id", "BIGINT"), ("mode", "VARCHAR"),
                                                          ("Mass (kg)", "DOUBLE")]
    by_name = {c.name: c for c in schema.columns}
    assert by_name["firm_id"].null_count == 0 and (by_name["firm_id"].min, by_name["firm_id"].max) == ("1", "4")
    assert by_name["mode"].null_count == 1 and by_name["mode"].values == ["bus", "car"]
    assert schema.rows == 4 and schema.sampled_rows == 4 and schema.profiled


def test_sample_rows_limit_the_statistics(tmp_path):
    """file_schema_sample_rows=N computes statistics over the first N rows only."""
    tracker = make_tracker(tmp_path)
    artifact = log_file(tracker, firms, "firms.parquet", "firms", profile_file_schema=True,
                        file_schema_sample_rows=2).outputs["firms"]  # fmt: skip
    schema = schema_from_meta(artifact.meta)
    assert schema.sampled_rows == 2 and schema.rows == 4
    assert {c.name: c.max for c in schema.columns}["firm_id"] == "2"
    with pytest.raises(ConfigError, match="file_schema_sample_rows=0"):
        log_file(tracker, firms, "firms.parquet", "firms2", profile_file_schema=True, file_schema_sample_rows=0)


def test_csv_profiles_and_non_tabular_files_are_refused(tmp_path):
    """A CSV is profiled with sniffed types; profiling a non-tabular file is a ConfigError."""
    tracker = make_tracker(tmp_path)

    def csv(path: Path) -> None:
        path.write_text("id,when,score\n1,2030-01-01,0.5\n2,2030-01-02,\n")

    artifact = log_file(tracker, csv, "scores.csv", "scores", profile_file_schema=True).outputs["scores"]
    schema = schema_from_meta(artifact.meta)
    assert [(c.name, c.type) for c in schema.columns] == [("id", "BIGINT"), ("when", "DATE"), ("score", "DOUBLE")]
    assert {c.name: c.null_count for c in schema.columns}["score"] == 1 and schema.rows == 2
    with pytest.raises(ConfigError, match="needs a Parquet or CSV file"):
        log_file(tracker, lambda p: p.write_text("x"), "notes.txt", "notes", profile_file_schema=True)


def test_captured_schema_survives_the_file_and_exports(tmp_path):
    """After the file is deleted the profile is still in the run record, and exports as a stub."""
    tracker = make_tracker(tmp_path)
    result = log_file(tracker, firms, "firms.parquet", "firms", profile_file_schema=True)
    result.outputs["firms"].path.unlink()
    stored = tracker.get_run(result.run.id).output_map["firms"]
    assert schema_from_meta(stored.meta).types["Mass (kg)"] == "DOUBLE"
    code = export_sqlmodel_stub(stored, tracker=tracker)
    assert "class Firms(SQLModel):" in code and "__consist_key__ = 'firms'" in code
    assert "Mass_kg: Optional[float] = Field(default=None, sa_column_kwargs={\"name\": 'Mass (kg)'})" in code
    assert export_sqlmodel(tracker, stored, class_name="Firm", table_name="firm").count("class Firm(SQLModel)") == 1


def test_exported_stub_registered_gives_a_working_view(tmp_path):
    """The exported module imports as written and, registered with a Tracker, gives a view of the key."""
    tracker = make_tracker(tmp_path)
    first = log_file(tracker, firms, "firms.parquet", "firms", profile_file_schema=True).outputs["firms"]
    out = tmp_path / "models" / "firms_model.py"
    export_sqlmodel_stub(first, tracker=tracker, out=out)
    spec = importlib.util.spec_from_file_location("firms_model", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    viewer = make_tracker(tmp_path, module.Firms)
    V = viewer.views.Firms
    df = consist.run_query(select(V.firm_id, V.Mass_kg, V.mode).order_by(V.firm_id), tracker=viewer)
    assert df.columns == ["firm_id", "Mass (kg)", "mode"] and df["Mass (kg)"].to_list() == [1.5, None, 2.0, 3.0]


def test_stub_names_hostile_columns_safely():
    """Keywords, digits, punctuation and duplicates become valid, distinct attribute names."""
    from consist.artifacts.schema_capture import ColumnSchema

    schema = FileSchema(id="x" * 64, driver="parquet", columns=[
        ColumnSchema(name=n, type=t) for n, t in
        [("class", "BIGINT"), ("2nd", "VARCHAR"), ("a b", "DOUBLE"), ("a-b", "DOUBLE"), ("metadata", "DATE"),
         ("_private", "BOOLEAN"), ("consist_run_id", "VARCHAR")]
    ])  # fmt: skip
    code = export_sqlmodel_stub(schema, class_name="Odd")
    namespace: dict = {}
    exec(compile(code, "<stub>", "exec"), namespace)
    fields = namespace["Odd"].model_fields
    assert list(fields) == ["class_", "col_2nd", "a_b", "a_b__2", "metadata_", "private"]
    assert "consist_run_id" not in code


def test_schema_store_remembers_footers_by_content(tmp_path):
    """describe_file reads a footer once; the store returns it by content hash, from memory or disk."""
    path = tmp_path / "f.parquet"
    firms(path)
    schema = describe_file(path, "parquet", "ab" * 32)
    assert [c.nullable for c in schema.columns] == [True, True, True] and not schema.profiled
    tracker = make_tracker(tmp_path)
    SchemaStore(tracker.layout).put(schema)
    again = SchemaStore(tracker.layout).get("ab" * 32)
    assert again == schema and (tracker.layout.root / "schemas" / "ab").is_dir()
    assert SchemaStore(tracker.layout).get("cd" * 32) is None
    with pytest.raises(FileNotFoundError):
        describe_file(tmp_path / "gone.parquet", "parquet", "ef" * 32)
