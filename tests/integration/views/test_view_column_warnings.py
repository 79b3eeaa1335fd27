"""A view whose declared columns no artifact has warns, naming the columns the files do have."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import SQLModel, select

from consist import Tracker


class Misnamed(SQLModel):
    __tablename__ = "misnamed_people"
    __consist_key__ = "people"

    person_id: int
    agee: int


class People(SQLModel):
    __tablename__ = "people_ok"
    __consist_key__ = "people"

    id: int
    age: int


def people() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2], "age": [30, 40]})


def test_all_null_view_warns_with_the_columns_that_exist(tmp_path: Path):
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb", schemas=[Misnamed])
    tracker.run(people, outputs=["people"])
    with pytest.warns(UserWarning, match=r"none of its columns \(person_id, agee\).*'agee': did you mean 'age'.*have: age, id"):
        frame = tracker.run_query(select(tracker.views.Misnamed))
    assert frame.height == 2 and frame["agee"].null_count() == 2


def test_matching_view_is_silent(tmp_path: Path):
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb", schemas=[People])
    tracker.run(people, outputs=["people"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tracker.run_query(select(tracker.views.People))["age"].to_list() == [30, 40]
