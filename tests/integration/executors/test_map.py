"""consist.map in this process (executor=None) and on a thread pool: the same code path as on a cluster."""

from __future__ import annotations

import concurrent.futures as cf
import io
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import ConfigError, Tracker
from consist.executors import MapResult
from tests.helpers import sweep_steps
from tests.helpers.sweep_steps import executions


def grid(n: int) -> list[dict]:
    return [{"i": i} for i in range(n)]


def test_sc_map_records_each_config_as_sc_run_would(tracker, log):
    """Each config becomes a step of the scenario; its outputs reach the coupler; sc.run hits them."""
    with consist.use_tracker(tracker), consist.scenario("sweep") as sc:
        batch = sc.map(sweep_steps.simulate, configs=grid(12), outputs=["table"], runtime_kwargs={"log": str(log)})
        hit = sc.run(sweep_steps.simulate, config={"i": 4}, outputs=["table"], runtime_kwargs={"log": str(log)})
    assert isinstance(batch, MapResult) and len(batch) == 12
    assert (batch.executed, batch.hits, batch.failed) == (12, 0, [])
    assert hit.cache_hit and hit.run.reused_run_id == batch[4].run_id
    assert sc.coupler.get("table").id == hit.outputs["table"].id
    assert sc.steps[:12] == [r.run_id for r in batch]
    assert executions(log) == list(range(12))


def test_map_runs_is_the_upstream_spelling_of_sc_map(tracker, log):
    """sc.map_runs takes the same arguments and shares sc.map's entries."""
    with consist.use_tracker(tracker), consist.scenario("sweep") as sc:
        first = sc.map_runs(sweep_steps.simulate, configs=grid(5), outputs=["table"], runtime_kwargs={"log": str(log)})
        second = sc.map(sweep_steps.simulate, configs=grid(5), outputs=["table"], runtime_kwargs={"log": str(log)})
    assert first.executed == 5 and second.hits == 5


def test_tracker_map_outside_a_scenario_and_pydantic_configs(tracker, log):
    """tracker.map takes any config kind; a loop of tracker.run serves from its entries."""
    pydantic = pytest.importorskip("pydantic")

    class Cfg(pydantic.BaseModel):
        i: int

    def square(i: int) -> pl.DataFrame:
        return pl.DataFrame({"sq": [i * i]})

    batch = tracker.map(square, [Cfg(i=i) for i in range(4)], outputs=["table"])
    looped = [tracker.run(square, config=Cfg(i=i), outputs=["table"]) for i in range(4)]
    assert batch.executed == 4 and all(r.cache_hit for r in looped)
    assert consist.load(batch[3].outputs["table"])["sq"][0] == 9
    assert batch.results[0].run.parent_id is None


def test_per_config_options_give_each_config_its_year_and_facets(tracker, log):
    """per_config sets year=, facet= and run_id= per config; they are recorded, not hashed."""
    with consist.use_tracker(tracker):
        batch = consist.map(
            sweep_steps.simulate, configs=grid(3), outputs=["table"], runtime_kwargs={"log": str(log)},
            per_config=lambda c: {"year": 2020 + 10 * c["i"], "facet": {"arm": f"a{c['i']}"}, "run_id": f"sim-{c['i']}"},
        )
    assert [r.run.year for r in batch] == [2020, 2030, 2040]
    assert [r.run_id for r in batch] == ["sim-0", "sim-1", "sim-2"]
    assert tracker.find_run(year=2030, facets={"arm": "a1"}).id == "sim-1"
    with pytest.raises(ConfigError, match="per_config returned \\['colour'\\]"):
        consist.map(sweep_steps.simulate, configs=grid(1), tracker=tracker, per_config=lambda c: {"colour": 1})


def test_per_config_inputs_in_a_scenario_name_coupler_keys(tracker, tmp_path, log):
    """A per-config input can be a coupler key; its artifact's hash is part of that config's identity."""
    def base(config):
        return pl.DataFrame({"v": [config["v"]]})

    def scaled(config, seed: pl.DataFrame):
        return seed.with_columns(pl.col("v") * config["k"])

    with consist.use_tracker(tracker), consist.scenario("chain") as sc:
        sc.run(base, config={"v": 2}, outputs=["seed"])
        batch = sc.map(scaled, configs=[{"k": k} for k in (1, 5)], outputs=["scaled"],
                       per_config=lambda c: {"inputs": {"seed": "seed"}})
    assert [consist.load(r.outputs["scaled"])["v"][0] for r in batch] == [2, 10]
    assert batch[0].run.inputs[0].key == "seed"


def test_a_thread_pool_runs_the_same_steps(tracker, log):
    """A thread pool executes in this process: closures work and records match a loop's."""
    factor = 7

    def closure(config):
        return pl.DataFrame({"v": [config["i"] * factor]})

    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        batch = tracker.map(closure, grid(10), outputs=["v"], executor=pool)
    looped = [tracker.run(closure, config=c, outputs=["v"]) for c in grid(10)]
    assert batch.executed == 10 and all(r.cache_hit for r in looped)
    assert [consist.load(r.outputs["v"])["v"][0] for r in batch] == [7 * i for i in range(10)]


def test_record_in_client_writes_records_and_entries_in_the_client(tracker, log):
    """record_in="client" gives the same records and cache entries as workers writing them."""
    batch = tracker.map(sweep_steps.chain, [{"i": 0, "rate": 0.5}], outputs=["final"], record_in="client",
                        runtime_kwargs={"log": str(log)})
    assert batch.executed == 1
    assert sorted(r.year for r in tracker.find_runs(name="grow")) == [2020, 2030, 2040]
    assert tracker.map(sweep_steps.chain, [{"i": 0, "rate": 0.5}], outputs=["final"],
                       runtime_kwargs={"log": str(log)}).hits == 1
    assert executions(log) == [0]


def test_a_failed_config_is_reported_and_retry_runs_only_it(tracker, log, tmp_path):
    """A raising config fails alone; .retry() runs it again and keeps the others."""
    marks = tmp_path / "marks"
    marks.mkdir()
    configs = [{"i": i, "fail": i == 2} for i in range(4)]
    batch = tracker.map(sweep_steps.flaky, configs, outputs=["t"], runtime_kwargs={"log": str(log), "marks": str(marks)})
    assert batch.statuses == ["executed", "executed", "failed", "executed"] and not batch.ok
    assert batch.failed[0][0] == configs[2] and isinstance(batch.failed[0][1], RuntimeError)
    assert batch[2] is None and tracker.index.get(tracker.find_run(name="flaky", status="failed").signature) is None
    fixed = batch.retry()
    assert fixed.ok and fixed.statuses[2] == "executed" and fixed[0] is batch[0]
    assert fixed.shipped == 5 and executions(log) == [0, 1, 2, 3, 2]
    assert "4 configs" in repr(fixed)


def test_planning_errors_name_the_config_and_ship_nothing(tracker, log):
    """An unhashable config value fails before anything runs, naming the config."""
    with pytest.raises(consist.UnhashableInputError) as info:
        tracker.map(sweep_steps.simulate, [{"i": 0}, {"i": object()}], runtime_kwargs={"log": str(log)})
    assert "configs[1]" in "".join(getattr(info.value, "__notes__", []))
    assert executions(log) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retries": -1}, "retries=-1"),
        ({"record_in": "scheduler"}, "record_in='scheduler'"),
        ({"executor": "dask"}, "executor='dask' is not an executor"),
    ],
)
def test_bad_options_are_refused_by_name(tracker, kwargs, match):
    """Each bad option gets one error naming it."""
    with pytest.raises(ConfigError, match=match):
        tracker.map(sweep_steps.simulate, grid(1), **kwargs)


def test_configs_must_be_an_iterable_of_configs(tracker):
    """One dict passed as configs= is refused (it would iterate its keys)."""
    with pytest.raises(ConfigError, match="iterable of configs"):
        tracker.map(sweep_steps.simulate, {"i": 1})


def test_progress_bar_counts_hits_and_done(tracker, log, monkeypatch):
    """With progress on, one bar in the client counts hits, shipped and done configs."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    tracker.map(sweep_steps.simulate, grid(3), runtime_kwargs={"log": str(log)}, progress=True)
    tracker.map(sweep_steps.simulate, grid(4), runtime_kwargs={"log": str(log)}, progress=True)
    lines = stream.getvalue().split("\n")
    assert "map simulate (3 hits, 1 shipped, 1 done, 0 failed)" in lines[-2]
    assert "4 / 4 configs" in lines[-2]
    quiet = io.StringIO()
    monkeypatch.setattr("sys.stderr", quiet)
    tracker.map(sweep_steps.simulate, grid(2), runtime_kwargs={"log": str(log)})
    assert quiet.getvalue() == ""  # not a terminal: quiet by default


def test_the_map_compacts_the_catalog_once_at_the_end(tracker, log):
    """Records written during a map are folded into a segment when it ends; queries see every run."""
    batch = tracker.map(sweep_steps.simulate, grid(10), runtime_kwargs={"log": str(log)})
    assert tracker.run_query("select count(*) as n from runs")["n"][0] == 10  # while it compacts
    tracker.records.wait_for_compaction()
    segments = tracker.records.segments
    segments.refresh()
    assert all(segments.holder(r.run_id) is not None for r in batch)
    assert tracker.run_query("select count(*) as n from runs")["n"][0] == 10


def test_html_repr_summarises_the_batch(tracker, log):
    """The notebook view shows the counts."""
    html = tracker.map(sweep_steps.simulate, grid(2), runtime_kwargs={"log": str(log)})._repr_html_()
    assert "<table" in html and "executed" in html and "Failed configs" not in html


def test_module_level_map_uses_the_current_tracker(tmp_path, log):
    """consist.map finds the tracker in use, like consist.run."""
    tracker = Tracker(run_dir=tmp_path / "runs")
    with consist.use_tracker(tracker):
        batch = consist.map(sweep_steps.simulate, configs=grid(2), runtime_kwargs={"log": str(log)})
    assert batch.executed == 2 and batch[0].run.name == "simulate"


def test_retry_of_a_scenario_map_needs_the_scenario_open(tracker, log, tmp_path):
    """A scenario map's retry() after the scenario closed is refused before anything runs."""
    with consist.use_tracker(tracker), consist.scenario("sweep") as sc:
        batch = sc.map(sweep_steps.always_fails, configs=grid(2), runtime_kwargs={"log": str(log)})
    assert len(batch.failed) == 2 and sc.failed_steps == ["always_fails", "always_fails"]
    with pytest.raises(ConfigError, match="scenario 'sweep' is failed|scenario 'sweep' is completed"):
        batch.retry()
    assert executions(log) == [0, 1]


def test_the_sweep_example_runs_twice_and_ships_nothing_the_second_time(tmp_path):
    """examples/sweep.py on a process pool: 40 configs executed, then 40 hits and no task."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, str(root / "examples" / "sweep.py"), "--fresh", "--executor", "processes",
         "--work", str(tmp_path / "work")],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    ).stdout.splitlines()
    assert out[:2] == [
        "processes, 40 configs: 0 hits, 40 executed, 0 failed, 40 tasks shipped",
        "processes, 40 configs: 40 hits, 0 executed, 0 failed, 0 tasks shipped",
    ]
    assert out[2].startswith("40 runs in the catalog's trips scan")


def test_a_scenario_config_counts_toward_each_mapped_step_as_toward_sc_run(tracker, log):
    """Inside a scenario with config=, map and a loop of sc.run share entries; another scenario config misses."""
    with consist.use_tracker(tracker), consist.scenario("policy", config={"toll": 2.0}) as sc:
        batch = sc.map(sweep_steps.simulate, configs=grid(3), outputs=["table"], runtime_kwargs={"log": str(log)})
        looped = [sc.run(sweep_steps.simulate, config=c, outputs=["table"], runtime_kwargs={"log": str(log)})
                  for c in grid(3)]
    with consist.use_tracker(tracker), consist.scenario("policy-b", config={"toll": 3.0}) as other:
        moved = other.map(sweep_steps.simulate, configs=grid(3), outputs=["table"], runtime_kwargs={"log": str(log)})
    assert batch.executed == 3 and all(r.cache_hit for r in looped)
    assert moved.executed == 3 and executions(log) == [0, 1, 2, 0, 1, 2]
