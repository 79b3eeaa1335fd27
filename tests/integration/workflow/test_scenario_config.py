"""A scenario's config= counts toward every step's identity and is recorded as the scenario's facets."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import consist
from consist import use_tracker


def _step(log: Path):
    def assign(threshold: float) -> pl.DataFrame:
        with log.open("a") as fh:
            fh.write("x\n")
        return pl.DataFrame({"threshold": [threshold]})

    return assign


def _executions(log: Path) -> int:
    return log.read_text().count("x") if log.exists() else 0


def test_scenario_config_counts_toward_every_step(tracker, tmp_path):
    """Same step, same config: a hit under the same scenario config, executed again when it changes."""
    log = tmp_path / "calls.txt"
    step = _step(log)

    def session(fuel_price: float) -> consist.RunResult:
        with use_tracker(tracker), consist.scenario("policy", config={"fuel_price": fuel_price}) as sc:
            result = sc.run(step, config={"threshold": 0.5}, outputs=["assigned"])
            with sc.trace("summarise", inputs=["assigned"]):
                with log.open("a") as fh:
                    fh.write("t\n")
            return result

    first = session(3.0)
    assert _executions(log) == 1 and not first.cache_hit
    assert session(3.0).cache_hit and _executions(log) == 1
    changed = session(4.5)
    assert not changed.cache_hit and _executions(log) == 2
    assert changed.run.config == {"threshold": 0.5, "scenario_config": {"fuel_price": 4.5}}
    steps = tracker.find_runs(model="summarise")
    assert len({r.signature for r in steps}) == 2  # the traced block's identity changed with it


def test_the_step_does_not_receive_the_scenario_config(tracker):
    """A step taking a `config` parameter sees only its own config."""
    seen = {}

    def step(config) -> None:
        seen.update(config)

    with use_tracker(tracker), consist.scenario("s", config={"fuel_price": 3.0}) as sc:
        sc.run(step, config={"a": 1})
    assert seen == {"a": 1}


def test_scenario_config_is_recorded_as_facets(tracker):
    """Scalar values of the scenario's config are facets of its record; facet_from picks some."""
    with use_tracker(tracker):
        with consist.scenario("base", config={"fuel_price": 3.0, "region": "bay", "zones": [1, 2]}):
            pass
        with consist.scenario("high", config={"fuel_price": 5.0, "policy": {"toll": 2}}, facet_from=["policy.toll"]):
            pass
    base = tracker.get_run("base")
    assert base.facets == {"fuel_price": 3.0, "region": "bay"}
    assert base.config == {"fuel_price": 3.0, "region": "bay", "zones": [1, 2]}
    assert tracker.get_run("high").facets == {"policy.toll": 2}
    assert [r.id for r in tracker.find_runs(facets={"fuel_price": 3.0})] == ["base"]


def test_bad_facet_from_and_clashing_keys_are_refused(tracker):
    """facet_from naming no config key, and a step config key 'scenario_config', each give one clear error."""
    with use_tracker(tracker):
        with pytest.raises(consist.ConfigError, match=r"facet_from names \['speed'\]"):
            consist.scenario("x", config={"fuel_price": 3.0}, facet_from=["speed"])
        with pytest.raises(consist.ConfigError, match="give config= too"):
            consist.scenario("y", facet_from=["speed"])
        with consist.scenario("z", config={"a": 1}) as sc:
            with pytest.raises(consist.ConfigError, match="rename that key"):
                sc.run(lambda: None, name="clash", config={"scenario_config": 1})


def test_a_scenario_without_config_changes_no_signature(tracker, tmp_path):
    """Steps in a scenario without config= hash exactly as outside one (existing caches stay valid)."""
    log = tmp_path / "calls.txt"
    step = _step(log)
    plain = tracker.run(step, config={"threshold": 0.1}, outputs=["assigned"])
    with use_tracker(tracker), consist.scenario("s") as sc:
        inside = sc.run(step, config={"threshold": 0.1}, outputs=["assigned"])
    assert inside.cache_hit and inside.run.signature == plain.run.signature and _executions(log) == 1
