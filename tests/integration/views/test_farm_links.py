"""Provenance folders (consist.views.farm) when run folders are reached through symbolic links."""

from __future__ import annotations

import os

import pytest
from sqlmodel import func, select

from tests.helpers.views import Person, make_tracker, query, run_sim

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")


def test_views_and_scans_read_runs_under_a_symlinked_project_folder(tmp_path):
    """A project folder reached through a symbolic link, and the same folder by its real path, give the same rows."""
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "alias", target_is_directory=True)
    linked = make_tracker(tmp_path / "alias", Person)
    for i in range(4):
        run_sim(linked, ("a", "b")[i % 2], 2020 + i, i)
    for tracker in (linked, make_tracker(tmp_path / "real", Person)):
        V = tracker.views.Person
        df = query(tracker, select(V.consist_scenario_id, func.sum(V.number_of_trips).label("t"))
                   .group_by(V.consist_scenario_id).order_by(V.consist_scenario_id))  # fmt: skip
        assert [(s, int(t)) for s, t in df.rows()] == [("a", 3 + 9), ("b", 6 + 12)]
        assert tracker.scan("persons", scenario="b", year=2023).collect()["number_of_trips"].to_list() == [3, 4, 5]


def test_a_run_folder_replaced_by_a_link_elsewhere_is_read_there(tmp_path):
    """One run's folder moved away and linked back: a new tracker's view reads it through the link."""
    tracker = make_tracker(tmp_path, Person)
    results = [run_sim(tracker, "s", 2020 + i, 10 * i) for i in range(3)]
    run_folder = results[1].outputs["persons"].path.parent
    os.rename(run_folder, tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", run_folder, target_is_directory=True)
    fresh = make_tracker(tmp_path, Person)
    V = fresh.views.Person
    df = query(fresh, select(V.consist_year, func.sum(V.number_of_trips).label("t")).group_by(V.consist_year)
               .order_by(V.consist_year))  # fmt: skip
    assert [(y, int(t)) for y, t in df.rows()] == [(2020, 3), (2021, 33), (2022, 63)]
