"""Misspelt trace, scenario and log_artifact options are refused by name, not recorded as facets or metadata."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import consist
from consist import ConfigError, Tracker, use_tracker


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch) -> Tracker:
    monkeypatch.chdir(tmp_path)
    return Tracker(run_dir="./runs", db_path="./provenance.duckdb")


def test_trace_with_input_for_inputs_is_refused_and_the_right_spelling_tracks_it(tracker):
    """sc.trace(input=[...]) raises naming inputs=; with inputs= the block runs once and records its input."""
    calls = []
    with use_tracker(tracker), consist.scenario("baseline") as sc:
        with sc.trace(name="initialize"):
            consist.log_dataframe(pd.DataFrame({"person_id": [1, 2]}), key="population")
        with pytest.raises(ConfigError, match=r"input=.*misspelling of its option inputs=.*config=\{'input'"):
            with sc.trace(name="simulate", input=["population"]):
                calls.append("typo")
        with sc.trace(name="simulate", year=2030, inputs=["population"]):
            calls.append("simulate")
    assert calls == ["simulate"]
    run = consist.find_run(tracker=tracker, parent_id="baseline", model="simulate", year=2030)
    assert [a.key for a in run.inputs] == ["population"]


def test_other_misspelt_trace_options_are_refused_but_free_form_facets_are_kept(tracker):
    """facets=, cache_hydrate=, tag= and depend_on= are refused; threshold= and mode= stay facets."""
    with use_tracker(tracker), consist.scenario("sweep") as sc:
        for typo in ({"facets": {"a": 1}}, {"cache_hydrate": "outputs-all"}, {"tag": "x"}, {"depend_on": ["a"]}):
            with pytest.raises(ConfigError, match="looks like a misspelling"):
                sc.trace(name="analyze", **typo)
        with sc.trace(name="analyze", threshold=0.3, mode="car"):
            pass
    run = consist.find_run(tracker=tracker, model="analyze")
    assert run.facets["threshold"] == 0.3 and run.facets["mode"] == "car"


def test_scenario_with_misspelt_step_cache_hydration_is_refused(tracker):
    """consist.scenario(step_cache_hydrate=...) raises naming step_cache_hydration= instead of recording it."""
    with use_tracker(tracker):
        with pytest.raises(ConfigError, match="step_cache_hydrate=.*option step_cache_hydration="):
            consist.scenario("baseline", step_cache_hydrate="inputs-missing")
        with consist.scenario("baseline", model="travel_demand", region="north") as sc:
            pass
    assert sc.meta == {"region": "north"}


def test_log_artifact_with_a_misspelt_option_is_refused_and_metadata_is_kept(tracker):
    """log_artifact(contenthash=/profile_schema=) raises naming the option; other keywords stay metadata."""
    Path("t.csv").write_text("a,b\n1,x\n")
    with use_tracker(tracker), consist.scenario("s") as sc, sc.trace(name="log"):
        for typo, option in (("contenthash", "content_hash"), ("profile_schema", "profile_file_schema")):
            with pytest.raises(ConfigError, match=f"{typo}=.*option {option}="):
                consist.log_artifact("t.csv", key="t", **{typo: True})
        art = consist.log_artifact("t.csv", key="t", role="primary", profile_file_schema=True)
    assert art.meta["role"] == "primary" and art.meta["file_schema"]["profiled"] is True
