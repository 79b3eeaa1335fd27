"""Caches moved between folders and machines: hits, verification, recovery and copies without the data."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import Tracker, use_tracker
from tests.helpers.chain_steps import CALLS, load
from tests.helpers.chain_steps import chain as _chain


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


def _move_project(tmp_path: Path) -> Tracker:
    """Build the chain in project/, then move the whole project to 'moved project/'."""
    first = Tracker(run_dir=tmp_path / "project" / "runs")
    _chain(first)
    shutil.move(tmp_path / "project", tmp_path / "moved project")
    return Tracker(run_dir=tmp_path / "moved project" / "runs")


# -- a run folder moved or copied elsewhere ------------------------------------------------


def test_moved_run_folder_keeps_its_cache_hits(tmp_path):
    """After the whole run folder moves, the same chain hits and its artifacts point at the new place."""
    moved = _move_project(tmp_path)
    CALLS.clear()
    assert moved.would_hit(load, config={"threshold": 0.5}, outputs=["a"])
    a, b, c = _chain(moved)
    assert CALLS == []
    assert (a.cache_hit, b.cache_hit, c.cache_hit) == (True, True, True)
    assert str(c.outputs["c"].path).startswith(str(tmp_path / "moved project" / "runs"))
    assert consist.load(c.outputs["c"], as_="polars").item() == 3.0


def test_moved_run_folder_verifies_clean_and_loads_old_records(tmp_path):
    """verify() finds nothing wrong after a move, and an artifact from an old record still loads."""
    moved = _move_project(tmp_path)
    assert moved.verify() == []
    recorded = moved.find_run(model="last").outputs[0]
    assert not recorded.path.exists()  # the record still names the old place
    with use_tracker(moved):
        assert consist.load(recorded, as_="polars").item() == 3.0


def test_moved_run_folder_recovers_into_the_new_place(tmp_path):
    """recover() after a move re-executes only what is gone and writes under the new run folder."""
    moved = _move_project(tmp_path)
    b = moved.find_run(model="mid").outputs[0]
    shutil.rmtree(tmp_path / "moved project" / "runs" / b.run_id)
    CALLS.clear()
    recovery = moved.recover(b)
    assert CALLS == ["mid"]
    assert str(recovery.artifact.path).startswith(str(tmp_path / "moved project" / "runs"))
    assert recovery.artifact.path.exists()
    assert not (tmp_path / "project").exists()  # nothing written at the old machine's path


def test_catalog_copied_without_data_misses_then_hits_where_the_data_is_now(tmp_path):
    """Only .consist copied: every step misses naming the absent output; with the data copied too, all hit."""
    _chain(Tracker(run_dir=tmp_path / "a" / "runs"))
    shutil.copytree(tmp_path / "a" / "runs" / ".consist", tmp_path / "b" / "runs" / ".consist")
    shutil.move(tmp_path / "a", tmp_path / "elsewhere")  # machine a's disk is not reachable from b
    b = Tracker(run_dir=tmp_path / "b" / "runs")
    why = b.explain(load, config={"threshold": 0.5}, outputs=["a"])
    assert not why.would_hit and "is missing at" in why.reason
    shutil.rmtree(tmp_path / "b")
    shutil.copytree(tmp_path / "elsewhere" / "runs", tmp_path / "b" / "runs")
    CALLS.clear()
    b = Tracker(run_dir=tmp_path / "b" / "runs")
    hydrated = b.run(load, config={"threshold": 0.5}, outputs=["a"], cache_hydration="outputs-all",
                     hydrate_dir=tmp_path / "work")
    assert CALLS == [] and hydrated.cache_hit
    assert pl.read_parquet(tmp_path / "work" / "a.parquet")["x"].to_list() == [1, 2, 3]
