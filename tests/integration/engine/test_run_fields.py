"""Typed run fields and record values are checked when the call is made, before any work.

A value a run record cannot hold is coerced when its meaning is clear (``year="2030"``
from argparse) or refused with a ConfigError naming where it sits, before the step runs:
no execution, no record, no cache entry. A record that is written always decodes, so
the run is in every query.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import consist
from consist import ConfigError, Tracker, use_tracker


def _executions(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _step(log: Path) -> pl.DataFrame:
    with open(log, "a") as fh:
        fh.write("ran\n")
    return pl.DataFrame({"a": [1]})


def _run(tracker: Tracker, log: Path, **kwargs):
    kwargs = {"name": "step", "outputs": ["out"], **kwargs}
    with use_tracker(tracker):
        return consist.run(fn=_step, runtime_kwargs={"log": log}, **kwargs)


def _nothing_written(tmp_path: Path, tracker: Tracker, log: Path) -> None:
    assert _executions(log) == 0
    assert Tracker(run_dir=tmp_path / "runs").find_runs(status=None) == []
    assert not any(p.name.startswith("step") for p in (tmp_path / "runs").iterdir() if p.is_dir())


@pytest.mark.parametrize("year", ["2030", " 2030 ", np.int64(2030), 2030.0])
def test_unambiguous_years_are_coerced_and_the_record_decodes(tmp_path, year):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    result = _run(tracker, log, year=year, iteration="3")
    assert result.run.year == 2030 and type(result.run.year) is int and result.run.iteration == 3
    fresh = Tracker(run_dir=tmp_path / "runs")
    assert [r.id for r in fresh.find_runs(year=2030)] == [result.run.id]  # decoded, and queryable
    assert _run(fresh, log, year=2030).cache_hit
    assert _executions(log) == 1


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"year": "twenty"}, "year='twenty'"),
        ({"year": True}, "year=True"),
        ({"year": 2030.5}, "year=2030.5"),
        ({"iteration": "1.5"}, "iteration='1.5'"),
        ({"tags": ["ok", 3]}, "tags[1]"),
        ({"tags": ["ok", "bad\udc80"]}, "tags[1]"),
        ({"run_id": "r\udc80"}, "run_id"),
        ({"run_id": 1.5}, "run_id"),
        ({"facet": {"obj": object()}}, "facet['obj']"),
        ({"facet": {"big": 2**70}}, "facet['big']"),
        ({"facet": {"nested": {"s": ["\udc80"]}}}, "facet['nested']['s'][0]"),
        ({"config": {"a": {"b": 2**70}}}, "config['a']['b']"),
        ({"config": {"a": [1, "x\udc80"]}}, "config['a'][1]"),
        ({"config": {"k\udc80": 1}}, "config key"),
        ({"name": "step\udc80"}, "name"),
        ({"outputs": ["o\udc80"]}, "outputs[0]"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_values_a_record_cannot_hold_are_refused_before_the_step_runs(tmp_path, kwargs, named):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    with pytest.raises(ConfigError) as caught:
        _run(tracker, log, **kwargs)
    assert named in str(caught.value)
    _nothing_written(tmp_path, tracker, log)


def test_trace_year_given_as_text_is_the_same_block_as_the_int(tmp_path):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    hits = []
    with use_tracker(tracker):
        for year in ("2030", 2030):
            with consist.trace("block", year=year, outputs=["out"]) as block:
                _step(log)
                consist.log_dataframe(pl.DataFrame({"a": [1]}), key="out")
            hits.append(block.cache_hit)
    assert hits == [False, True]
    assert [r.year for r in Tracker(run_dir=tmp_path / "runs").find_runs()] == [2030, 2030]


def test_scenario_year_text_and_path_metadata_are_recorded_plainly(tmp_path):
    tracker = Tracker(run_dir=tmp_path / "runs")
    with use_tracker(tracker), consist.scenario("base", year="2030", source=Path("inputs/zones.csv")):
        pass
    run = Tracker(run_dir=tmp_path / "runs").get_run("base")
    assert run.year == 2030 and run.meta["source"] == "inputs/zones.csv"


def test_path_metadata_is_recorded_as_its_string_everywhere(tmp_path):
    """Paths in artifact metadata (log_dataframe, log_output, log_artifacts) are their POSIX strings."""
    tracker = Tracker(run_dir=tmp_path / "runs")
    src = tmp_path / "zones.csv"
    src.write_text("a\n1\n")

    def step(_consist_ctx) -> None:
        consist.log_dataframe(pl.DataFrame({"a": [1]}), key="t", source=Path("t.csv"))
        _consist_ctx.log_output(src, key="zones", origin=Path("/data/zones.csv"), tags=[Path("x")])

    with use_tracker(tracker):
        result = consist.run(fn=step, inject_context=True, outputs=["t", "zones"])
        with consist.scenario("sc") as sc:
            logged = sc.log_artifacts({"raw": src}, source=Path("raw/zones.csv"))
    assert result.outputs["t"].meta == {"source": "t.csv"}
    assert logged["raw"].meta == {"source": "raw/zones.csv"}
    fresh = Tracker(run_dir=tmp_path / "runs")
    run = fresh.get_run(result.run.id)
    assert run.status == "completed"
    assert run.output_map["zones"].meta == {"origin": "/data/zones.csv", "tags": ["x"]}
    assert fresh.get_run("sc").output_map["raw"].meta == {"source": "raw/zones.csv"}


def test_unencodable_metadata_is_refused_at_the_call_and_the_failed_run_is_recorded(tmp_path):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"

    def step(_consist_ctx, log: Path) -> None:
        with open(log, "a") as fh:
            fh.write("ran\n")
        consist.log_dataframe(pl.DataFrame({"a": [1]}), key="t", handle=object())

    for _ in range(2):
        with use_tracker(tracker), pytest.raises(ConfigError, match=r"metadata of 't'\['handle'\]"):
            consist.run(fn=step, inject_context=True, runtime_kwargs={"log": log}, outputs=["t"])
    assert _executions(log) == 2  # no cache entry for the failed run
    runs = Tracker(run_dir=tmp_path / "runs").find_runs(status=None)
    assert [r.status for r in runs] == ["failed", "failed"]  # every execution left a record
    assert all(not (r.output_map.get("t")) for r in runs)  # refused before the frame was written
    with use_tracker(tracker), consist.scenario("sc") as sc:
        with pytest.raises(ConfigError, match="metadata of 'b'"):
            sc.log_artifacts({"a": log, "b": log}, metadata_by_key={"b": {"x": 2**70}})
    assert sc.coupler.get("a") is None  # nothing was logged


def test_issue_example_log_dataframe_with_a_path_keyword_leaves_a_decodable_record(tmp_path, monkeypatch):
    """The reported reproduction: ``log_dataframe(df, key="t", path=Path("t.csv"))`` inside a step."""
    monkeypatch.chdir(tmp_path)

    def step() -> None:
        consist.log_dataframe(pl.DataFrame({"a": [1]}), key="t", path=Path("t.csv"))

    with use_tracker(Tracker(run_dir=tmp_path / "runs")):
        result = consist.run(fn=step, outputs=["t"])
    run = Tracker(run_dir=tmp_path / "runs").get_run(result.run.id)
    assert run.status == "completed" and "t" in run.output_map


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"year": 2**70}, "year="),
        ({"iteration": str(2**64)}, "iteration="),
        ({"model": 5}, "model=5"),
        ({"model": ["m"]}, "model="),
    ],
    ids=["year-beyond-64-bits", "iteration-text-beyond-64-bits", "model-int", "model-list"],
)
def test_fields_the_catalog_cannot_hold_are_refused_and_queries_keep_working(tmp_path, kwargs, named):
    """A year beyond 64 bits once broke every later query; a non-string model left an undecodable record."""
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    with pytest.raises(ConfigError) as caught:
        _run(tracker, log, **kwargs)
    assert named in str(caught.value)
    _nothing_written(tmp_path, tracker, log)
    assert _run(tracker, log, year=2030).run.year == 2030
    assert [run.year for run in Tracker(run_dir=tmp_path / "runs").find_runs()] == [2030]
