"""A schema and a simulate step whose runs fill a cross-run view, shared by the view tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from sqlmodel import Field, SQLModel

import consist
from consist import Tracker, use_tracker


class Person(SQLModel, table=True):
    __tablename__ = "person_vt"  # unique in SQLModel's global metadata; keys: person_vt(s)
    __consist_key__ = ["persons", "person"]

    person_id: int = Field(primary_key=True)
    age: int
    number_of_trips: int
    income: float | None = None


def persons(trips: int, n: int = 3, income: bool = False) -> pl.DataFrame:
    df = pl.DataFrame({"person_id": list(range(n)), "age": [30 + i for i in range(n)],
                       "number_of_trips": [trips + i for i in range(n)]})  # fmt: skip
    return df.with_columns(income=pl.lit(1000.0)) if income else df


def make_tracker(tmp_path: Path, *schemas: type) -> Tracker:
    return Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb", schemas=list(schemas))


def simulate(trips: int, income: bool = False) -> pl.DataFrame:
    return persons(trips, income=income)


def run_sim(tracker: Tracker, scenario: str, year: int, trips: int, **extra):
    with use_tracker(tracker):
        return consist.run(fn=simulate, name="simulate", config={"trips": trips, **extra}, outputs=["persons"],
                           parent_id=scenario, year=year)  # fmt: skip


def query(tracker: Tracker, stmt) -> pl.DataFrame:
    return consist.run_query(stmt, tracker=tracker)
