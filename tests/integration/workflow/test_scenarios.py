"""Scenarios end to end: grouping, the coupler between steps, per-step caching, traced blocks, faults."""

from __future__ import annotations

import warnings

import pandas as pd
import polars as pl
import pytest

import consist
from consist import (
    ConfigError,
    CouplerKeyError,
    ScenarioOutputsMissingError,
    Tracker,
    coupler_schema,
    use_tracker,
)
from consist.workflow.coupler import CouplerWarning


def records(tracker: Tracker) -> list[consist.Run]:
    return sorted(tracker.records.iter_fresh(), key=lambda r: r.started_at)


def scenario_record(tracker: Tracker, sc: consist.Scenario) -> consist.Run:
    run = tracker.records.get(sc.run_id)
    assert run is not None and run.kind == "scenario"
    return run


def frame(n: int = 5, offset: float = 0.0) -> pl.DataFrame:
    return pl.DataFrame({"id": list(range(n)), "value": [i + offset for i in range(n)]})


def make_frame(offset: float) -> pl.DataFrame:
    return frame(offset=offset)


# -- grouping and recording -----------------------------------------------------------------


def test_scenario_is_recorded_with_its_metadata_and_steps(tracker):
    """The scenario is a run of kind 'scenario' named and identified by its name, with model, facets and step ids."""
    with use_tracker(tracker), consist.scenario("baseline", model="travel_demand", region="bay", year=2030) as sc:
        result = sc.run(name="make", fn=lambda: frame(), outputs=["table"])
    run = scenario_record(tracker, sc)
    assert (run.id, run.name, run.model, run.status) == ("baseline", "baseline", "travel_demand", "completed")
    assert run.facets == {"region": "bay", "year": 2030}
    assert run.year == 2030
    assert run.meta["steps"] == [result.run.id]
    assert [a.key for a in run.outputs] == ["table"]
    assert result.run.parent_id == "baseline" and result.run.scenario_id == "baseline"


def test_rerun_scenario_gets_a_suffixed_record_id_but_steps_keep_the_name_as_parent(tracker):
    """Re-running a scenario records it as 'name~xxxxxx' while every step's parent_id stays the scenario name."""
    ids, parents = [], []
    for _ in range(2):
        with tracker.scenario("baseline") as sc:
            parents.append(sc.run("make", fn=lambda: frame(), outputs=["table"]).run.parent_id)
        ids.append(sc.run_id)
    assert ids[0] == "baseline" and ids[1].startswith("baseline~")
    assert parents == ["baseline", "baseline"]


def test_run_and_trace_inside_scenario_and_plain_consist_run_record_the_scenario_as_parent(tracker, tmp_path):
    """sc.run, sc.trace and consist.run inside the scenario all record parent_id = the scenario name."""
    calls = []

    def plain() -> pl.DataFrame:
        calls.append("plain")
        return frame()

    with use_tracker(tracker), consist.scenario("grouped") as sc:
        a = sc.run(name="a", fn=lambda: frame(), outputs=["a"])
        with sc.trace(name="b") as block:
            consist.log_dataframe(frame(), key="b")
        c = consist.run(fn=plain, outputs=["c"])
    assert {a.run.parent_id, block.result.run.parent_id, c.run.parent_id} == {"grouped"}
    # consist.run caches independently: not synced into the coupler.
    assert sc.coupler.keys() == ["a", "b"]
    assert c.run.kind == "step" and block.result.run.kind == "trace"


def test_scenario_makes_its_tracker_current_inside_the_block(tracker):
    """Inside `with tracker.scenario(...)`, consist.run and consist.trace use that tracker without use_tracker."""
    with tracker.scenario("s") as sc:
        result = consist.run("make", fn=lambda: frame(), outputs=["t"])
        with consist.trace("look") as block:
            pass
    assert result.run.parent_id == "s" and block.scenario is sc
    with pytest.raises(consist.NoActiveTrackerError):
        consist.run("make", fn=lambda: frame())


def test_tracker_scenario_and_module_level_scenario_are_the_same_thing(tracker):
    """tracker.scenario(...) and consist.scenario(..., tracker=) both open a Scenario bound to that tracker."""
    assert isinstance(tracker.scenario("x"), consist.Scenario)
    assert consist.scenario("y", tracker=tracker).tracker is tracker


def test_steps_run_only_inside_an_open_scenario(tracker):
    """sc.run before entering or after leaving the scenario is a clear error."""
    sc = tracker.scenario("closed")
    with pytest.raises(ConfigError, match="run steps inside `with consist.scenario"):
        sc.run("a", fn=lambda: frame())
    with sc:
        pass
    with pytest.raises(ConfigError, match="is completed"):
        sc.run("a", fn=lambda: frame())
    with pytest.raises(ConfigError, match="already entered"):
        sc.__enter__()


def test_nested_scenario_records_its_parent(tracker):
    """A scenario opened inside another records the outer scenario as its parent."""
    with tracker.scenario("outer"), tracker.scenario("inner") as inner:
        pass
    assert scenario_record(tracker, inner).parent_id == "outer"


# -- sc.run, the coupler, identity ----------------------------------------------------------


def test_sc_run_executes_only_on_a_miss_and_accepts_name_first_and_fn_first(tracker):
    """A re-run scenario serves every sc.run step from the cache; name-first and fn-first calls both work."""
    calls = []

    def make() -> pl.DataFrame:
        calls.append("make")
        return frame()

    def double(table: pl.DataFrame) -> pl.DataFrame:
        calls.append("double")
        return table.with_columns(pl.col("value") * 2)

    for _ in range(2):
        with tracker.scenario("s") as sc:
            sc.run("make", fn=make, outputs=["table"])
            result = sc.run(double, inputs=["table"], load_inputs=True, outputs=["doubled"])
    assert calls == ["make", "double"]
    assert result.cache_hit and result.run.name == "double"
    assert consist.load(sc.coupler.require("doubled"))["value"].to_list() == [0, 2, 4, 6, 8]


def test_sc_run_accepts_fn_positionally_with_name_keyword(tracker):
    """sc.run(fn, name="...") works like tracker.run(fn, name="..."), and giving the name twice is a clear error."""
    calls = []

    def make() -> pl.DataFrame:
        calls.append("make")
        return frame()

    for _ in range(2):
        with tracker.scenario("s") as sc:
            result = sc.run(make, name="prepare", outputs=["table"])
    assert calls == ["make"]
    assert result.cache_hit and result.run.name == "prepare"
    with tracker.scenario("t") as sc, pytest.raises(consist.ConfigError, match="name twice"):
        sc.run("prepare", fn=make, name="other")


def test_list_input_is_part_of_identity_but_not_loaded_unless_asked(tracker):
    """A coupler key in a list input changes the step's identity with its content, without being passed to fn."""
    calls = []

    def report() -> dict:
        calls.append("report")
        return {"ok": True}

    for offset in (0.0, 0.0, 1.0):
        with tracker.scenario("s") as sc:
            sc.run("make", fn=make_frame, config={"offset": offset}, outputs=["table"])
            sc.run("report", fn=report, inputs=["table"], outputs=["summary"])
    assert calls == ["report", "report"]


def test_list_inputs_sharing_a_file_stem_are_all_part_of_identity(tracker, tmp_path):
    """Two listed input files with the same stem both count: changing the second one re-executes the step."""
    first, second = tmp_path / "a" / "zones.csv", tmp_path / "b" / "zones.csv"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text("zone\n1\n")
    calls = []

    def report() -> dict:
        calls.append("report")
        return {"ok": True}

    for content in ("zone\n1\n", "zone\n1\n", "zone\n2\n"):
        second.write_text(content)
        with tracker.scenario("s") as sc:
            result = sc.run("report", fn=report, inputs=[first, second], outputs=["summary"])
    assert calls == ["report", "report"]
    assert len(result.run.inputs) == 2


def test_single_string_tags_and_outputs_in_scenarios_are_one_item(tracker):
    """tags="nightly" on a scenario and trace, and outputs="persons" on sc.run, are one-item lists."""
    with tracker.scenario("s", tags="nightly") as sc:
        with sc.trace("check", tags="nightly"):
            consist.log_dataframe(frame(), key="checked")
        result = sc.run("make", fn=frame, outputs="persons")
    assert list(result.outputs) == ["persons"] and "persons" in sc.coupler
    assert scenario_record(tracker, sc).tags == ["nightly"]
    assert consist.find_run(tracker=tracker, model="check").tags == ["nightly"]


def test_unknown_input_key_fails_before_running_with_close_match(tracker):
    """sc.run with an input key nobody produced raises CouplerKeyError naming the keys; the scenario is failed."""
    calls = []
    with pytest.raises(CouplerKeyError, match=r"input 'populaton'.*'population'.*Did you mean 'population'"):
        with tracker.scenario("s") as sc:
            sc.run("make", fn=lambda: frame(), outputs=["population"])
            sc.run("use", fn=lambda population: calls.append(1), inputs=["populaton"], load_inputs=True)
    assert calls == []
    run = scenario_record(tracker, sc)
    assert run.status == "failed" and "CouplerKeyError" in run.error
    assert len([r for r in records(tracker) if r.kind == "step"]) == 1


def test_mapping_inputs_can_take_coupler_artifacts(tracker):
    """A mapping input may hold sc.coupler.require(...) to bind a key to a differently named parameter."""
    with tracker.scenario("s") as sc:
        sc.run("make", fn=lambda: frame(), outputs=["population"])
        result = sc.run(
            "use", fn=lambda people: people.height, inputs={"people": sc.coupler.require("population")}, outputs=["n"]
        )
    assert consist.load(result.outputs["n"]) == 5


def test_content_early_cutoff_reexecutes_downstream_only_when_bytes_change(tracker):
    """Changing step 1's code re-runs it; step 2 re-runs only if step 1's output bytes changed."""
    calls = []

    def downstream(table: pl.DataFrame) -> pl.DataFrame:
        calls.append("downstream")
        return table.select(pl.col("value").sum())

    def first_v1() -> pl.DataFrame:
        calls.append("v1")
        return frame()

    def first_v2() -> pl.DataFrame:  # new code, same bytes
        calls.append("v2")
        return frame(offset=0.0)

    def first_v3() -> pl.DataFrame:  # new code, new bytes
        calls.append("v3")
        return frame(offset=1.0)

    for fn in (first_v1, first_v2, first_v3, first_v3):
        with tracker.scenario("chain") as sc:
            sc.run("first", fn=fn, outputs=["table"])
            sc.run("second", fn=downstream, inputs=["table"], load_inputs=True, outputs=["total"])
    assert calls == ["v1", "downstream", "v2", "v3", "downstream"]


def test_outputs_sync_to_coupler_on_hits_and_misses(tracker):
    """Every step's outputs are in the coupler afterwards, whether it executed or was served from the cache."""
    for _ in range(2):
        with tracker.scenario("s") as sc:
            result = sc.run("make", fn=lambda: {"a": frame(), "b": frame(2)})
            assert sc.coupler.require("a") == result.outputs["a"]
            assert sc.coupler.writer("b") == result.run.id
    assert result.cache_hit


def test_two_steps_writing_one_key_warn_last_wins_both_recorded(tracker):
    """Two differently named steps writing the same undeclared key warn naming both runs; the later one wins."""
    with tracker.scenario("s") as sc:
        with sc.trace(name="first"):
            consist.log_dataframe(frame(), key="data")
        first = sc.coupler.writer("data")
        with pytest.warns(CouplerWarning, match=rf"produced by run '{first}'.*step 'second'"):
            with sc.trace(name="second"):
                consist.log_dataframe(frame(offset=9), key="data")
    second = sc.coupler.writer("data")
    assert consist.load(sc.coupler.require("data"))["value"][0] == 9
    assert tracker.records.get(first).output_map["data"].run_id == first
    assert tracker.records.get(second).status == "completed"
    assert scenario_record(tracker, sc).meta["coupler_replaced"] == {"data": [first, second]}


def test_step_failure_marks_scenario_failed_keeps_earlier_steps_cached_and_propagates(tracker):
    """A raising step propagates the same exception, the scenario record is failed, and earlier steps stay cached."""
    calls = []
    boom = RuntimeError("model diverged")

    def ok() -> pl.DataFrame:
        calls.append("ok")
        return frame()

    def bad(table: pl.DataFrame) -> None:
        raise boom

    with pytest.raises(RuntimeError) as info:
        with tracker.scenario("s") as sc:
            sc.run("ok", fn=ok, outputs=["table"])
            sc.run("bad", fn=bad, inputs=["table"], load_inputs=True)
    assert info.value is boom
    run = scenario_record(tracker, sc)
    assert run.status == "failed" and run.error == "RuntimeError: model diverged"
    assert run.meta["failed_steps"] == ["bad"]
    (failed,) = [r for r in records(tracker) if r.name == "bad"]
    assert failed.status == "failed" and failed.parent_id == "s" and failed.error == "RuntimeError: model diverged"
    with tracker.scenario("s") as sc:
        assert sc.run("ok", fn=ok, outputs=["table"]).cache_hit
    assert calls == ["ok"]


def test_required_output_missing_fails_the_scenario_clearly(tracker):
    """Leaving a scenario without a required output raises ScenarioOutputsMissingError and records it failed."""
    with pytest.raises(ScenarioOutputsMissingError, match=r"without the required coupler outputs \['skims'\]"):
        with tracker.scenario("s") as sc:
            sc.require_outputs("skims", "population")
            sc.run("make", fn=lambda: frame(), outputs=["population"])
    run = scenario_record(tracker, sc)
    assert run.status == "failed" and "ScenarioOutputsMissingError" in run.error


def test_declare_outputs_optional_keys_do_not_fail(tracker):
    """Optional declared outputs may stay unset; missing_declared_outputs lists only required ones."""
    with tracker.scenario("s") as sc:
        sc.declare_outputs("main", "debug", required={"main": True, "debug": False})
        assert sc.coupler.missing_declared_outputs() == ["main"]
        sc.run("make", fn=lambda: frame(), outputs=["main"])
        assert sc.coupler.missing_declared_outputs() == []
    assert scenario_record(tracker, sc).status == "completed"


def test_require_outputs_warns_on_undocumented_key(tracker):
    """require_outputs(..., warn_undocumented=True) warns when a step sets a key that was not declared."""
    with tracker.scenario("s") as sc:
        sc.require_outputs("zarr_skims", warn_undocumented=True, description={"zarr_skims": "skims"})
        with pytest.warns(CouplerWarning, match="Setting undocumented coupler key 'zar_skims'"):
            sc.run("make", fn=lambda: {"zar_skims": frame(), "zarr_skims": frame()})


@coupler_schema
class Skims:
    zarr_skims: consist.Artifact
    population: consist.Artifact


def test_coupler_schema_and_collect_by_keys(tracker):
    """collect_by_keys puts chosen outputs in the coupler; the typed view returns them and errors on unset keys."""
    with tracker.scenario("s") as sc:
        typed = sc.coupler_schema(Skims)
        with pytest.raises(AttributeError, match="Skims.zarr_skims is not set yet"):
            _ = typed.zarr_skims
        result = consist.run("compile", fn=lambda: {"zarr_skims": frame(), "population": frame(2), "x": frame(1)})
        picked = sc.collect_by_keys(result.outputs, "zarr_skims", "population")
        assert set(picked) == {"zarr_skims", "population"}
        assert typed.zarr_skims == result.outputs["zarr_skims"]
        with pytest.raises(ConfigError, match=r"\['nope'\] not among the outputs"):
            sc.collect_by_keys(result.outputs, "nope")
    assert "x" not in sc.coupler


def test_log_artifacts_records_shared_and_per_key_metadata(tracker, tmp_path):
    """log_artifacts logs each file under its key with shared and per-key metadata, as scenario outputs."""
    paths = {}
    for key in ("persons", "households"):
        paths[key] = tmp_path / f"{key}.parquet"
        frame().write_parquet(paths[key])
    with tracker.scenario("outputs") as sc:
        logged = sc.log_artifacts(paths, metadata_by_key={"households": {"role": "primary_unit"}}, year=2030)
        with pytest.raises(ConfigError, match=r"metadata_by_key names \['jobs'\]"):
            sc.log_artifacts(paths, metadata_by_key={"jobs": {"role": "x"}})
        with pytest.raises(consist.InputNotFoundError, match="nothing was logged"):
            sc.log_artifacts({"gone": tmp_path / "gone.parquet"})
    assert logged["persons"].meta == {"year": 2030}
    assert logged["households"].meta == {"year": 2030, "role": "primary_unit"}
    assert sc.coupler.require("households") is logged["households"]
    run = scenario_record(tracker, sc)
    assert {a.key for a in run.outputs} == {"persons", "households"}
    assert all(a.run_id == sc.run_id for a in run.outputs)


def test_log_artifacts_inside_a_trace_logs_into_that_step(tracker, tmp_path):
    """Inside a traced block, log_artifacts records the files as that step's outputs."""
    path = tmp_path / "persons.csv"
    path.write_text("a\n1\n")
    with tracker.scenario("s") as sc, sc.trace(name="write") as block:
        sc.log_artifacts({"persons": path}, source="census")
    assert block.result.outputs["persons"].meta == {"source": "census"}


def test_years_and_metadata_from_numpy_are_recorded_like_plain_numbers(tracker):
    """A year loop over np.arange with numpy metadata records each year, caches it, and finds it by plain int."""
    import numpy as np

    calls = []

    def grow(year: int) -> pl.DataFrame:
        calls.append(int(year))
        return frame(offset=float(year))

    for _ in range(2):
        with tracker.scenario("np") as sc:
            for year in np.arange(2020, 2040, 10):
                sc.run(name="grow", fn=grow, config={"year": year}, year=year, outputs=["persons"])
                with sc.trace(name="check", year=year, threshold=np.float64(0.3)):
                    consist.log_dataframe(frame(), key="checked")
    assert calls == [2020, 2030]
    by_year = consist.find_runs(tracker=tracker, parent_id="np", model="grow", index_by="year")
    assert sorted(by_year) == [2020, 2030]
    assert consist.find_run(tracker=tracker, model="check", year=2030).facets["threshold"] == 0.3


def test_multi_year_loop_reexecutes_only_the_changed_year_and_downstream(tracker):
    """Re-running a year chain executes nothing; changing one year's config re-runs it and the years after it."""
    calls = []

    def advance(population: pl.DataFrame, growth: float, year: int) -> pl.DataFrame:
        calls.append(year)
        return population.with_columns(pl.col("value") * growth)

    def script(growth: dict[int, float]) -> None:
        with tracker.scenario("years") as sc:
            sc.run("base", fn=lambda: frame(), outputs=["population"])
            for year in (2020, 2030, 2040):
                sc.run(
                    name=f"advance_{year}",
                    fn=advance,
                    inputs=["population"],
                    load_inputs=True,
                    config={"growth": growth[year], "year": year},
                    outputs=["population"],
                    year=year,
                )

    script({2020: 1.1, 2030: 1.2, 2040: 1.3})
    script({2020: 1.1, 2030: 1.2, 2040: 1.3})
    assert calls == [2020, 2030, 2040]
    calls.clear()
    script({2020: 1.1, 2030: 1.5, 2040: 1.3})
    assert calls == [2030, 2040]
    calls.clear()
    script({2020: 1.1, 2030: 1.5, 2040: 1.0})
    assert calls == [2040]


def test_scenario_cache_hydration_option_reaches_steps(tracker):
    """step_cache_hydration is recorded on the scenario and becomes each traced step's cache_hydration."""
    with tracker.scenario("s", step_cache_hydration="inputs-missing") as sc:
        with sc.trace(name="t") as block:
            pass
        with sc.trace(name="u", cache_hydration="metadata") as other:
            pass
    assert block.spec.cache_hydration == "inputs-missing"
    assert other.spec.cache_hydration == "metadata"
    assert scenario_record(tracker, sc).meta["step_cache_hydration"] == "inputs-missing"


def test_scenario_cache_hydration_option_reaches_function_steps(tracker, monkeypatch):
    """sc.run gives its steps the scenario's step_cache_hydration unless the step gives its own."""
    from consist.workflow import scenario as scenario_module

    seen = []
    original = scenario_module.run_step

    def spy(host, spec):
        seen.append(spec.cache_hydration)
        return original(host, spec)

    monkeypatch.setattr(scenario_module, "run_step", spy)
    with tracker.scenario("s", step_cache_hydration="inputs-missing") as sc:
        sc.run("a", fn=lambda: frame(), outputs=["a"])
        sc.run("b", fn=lambda: frame(), outputs=["b"], cache_hydration="metadata")
    assert seen == ["inputs-missing", "metadata"]


# -- traced blocks --------------------------------------------------------------------------


def test_trace_always_executes_and_a_matching_rerun_is_a_hit_without_new_entry(tracker):
    """A re-run traced block executes again, is recorded as a hit reusing the first run, and leaves no copy."""
    calls = []
    blocks = []
    for _ in range(2):
        with tracker.scenario("s") as sc:
            with sc.trace(name="prepare", run_id="prep") as block:
                calls.append("block")
                consist.log_dataframe(frame(), key="table")
            blocks.append(block)
    first, second = (b.result.run for b in blocks)
    assert calls == ["block", "block"]
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second.reused_run_id == first.id and second.id.startswith("prep~")
    assert blocks[1].result.outputs["table"] == blocks[0].result.outputs["table"]
    assert tracker.index.get(first.signature).run_id == first.id
    assert not (tracker.run_dir / second.id).exists()


def test_trace_reports_expected_hit_inside_the_block(tracker):
    """Inside the block, .cache_hit and .cached_outputs tell whether an earlier run will be reused."""
    seen = []
    for _ in range(2):
        with tracker.scenario("s"), consist.trace("t") as block:
            seen.append((block.cache_hit, sorted(block.cached_outputs)))
            consist.log_dataframe(frame(), key="table")
    assert seen == [(False, []), (True, ["table"])]


def test_trace_block_that_logs_nothing_on_a_hit_serves_cached_outputs(tracker):
    """A block that skips its work on a hit (logging nothing) still gets the cached outputs."""
    for _ in range(2):
        with tracker.scenario("s") as sc:
            with sc.trace(name="t") as block:
                if not block.cache_hit:
                    consist.log_dataframe(frame(), key="table")
            assert "table" in sc.coupler
    assert block.result.cache_hit


def test_trace_with_different_content_on_a_hit_is_recorded_as_a_new_execution(tracker):
    """A block whose logged bytes differ from the cached ones is a miss with a reason and a new cache entry."""
    results = []
    for offset in (0.0, 1.0):
        with tracker.scenario("s"), consist.trace("t", code_version="1") as block:
            consist.log_dataframe(frame(offset=offset), key="table")
        results.append(block.result)
    assert not results[1].cache_hit
    assert "'table' with content that differs from cached run" in results[1].run.miss_reason
    assert tracker.index.get(results[1].run.signature).run_id == results[1].run.id


def test_trace_metadata_is_identity_and_facets(tracker, tmp_path):
    """Each threshold gets its own run and cache entry, recorded as facets; re-running hits each one."""
    results = {}
    for _ in range(2):
        with tracker.scenario("sweep") as sc:
            for threshold in (0.3, 0.5):
                with sc.trace(name="analyze", run_id=f"threshold_{threshold}", threshold=threshold) as block:
                    consist.log_dataframe(frame().filter(pl.col("value") > threshold * 4), key="filtered")
                results.setdefault(threshold, []).append(block.result.run)
    a, b = results[0.3][0], results[0.5][0]
    assert a.signature != b.signature
    assert a.facets["threshold"] == 0.3 and b.meta == {"threshold": 0.5}
    assert [r.cache_hit for r in results[0.3] + results[0.5]] == [False, True, False, True]


def test_trace_year_is_part_of_identity(tracker):
    """The same block in a loop over years is a separate step identity per year."""
    sigs = set()
    with tracker.scenario("s") as sc:
        for year in (2020, 2030):
            with sc.trace(name="simulate", year=year) as block:
                consist.log_dataframe(frame(offset=year), key="persons")
            sigs.add(block.result.run.signature)
            assert block.result.run.year == year
    assert len(sigs) == 2


def test_trace_metadata_clashing_with_config_is_an_error(tracker):
    """A value given both in config= and as metadata keyword is rejected."""
    with tracker.scenario("s") as sc:
        with pytest.raises(ConfigError, match=r"trace metadata \['alpha'\] is also in config="):
            sc.trace(name="t", config={"alpha": 1}, alpha=2)


def test_trace_failure_records_failed_run_and_propagates_unchanged(tracker):
    """An exception in a traced block is re-raised as is; the step and the scenario are recorded failed."""
    error = ValueError("bad zone")
    with pytest.raises(ValueError) as info:
        with tracker.scenario("s") as sc:
            with sc.trace(name="t") as block:
                consist.log_dataframe(frame(), key="partial")
                raise error
    assert info.value is error
    run = tracker.records.get(block.run_id)
    assert run.status == "failed" and run.error == "ValueError: bad zone"
    assert tracker.index.get(run.signature) is None
    assert scenario_record(tracker, sc).status == "failed"


def test_trace_declared_output_missing_records_failure(tracker):
    """A traced block that does not log a declared output fails with OutputMissingError, recorded as failed."""
    with pytest.raises(consist.OutputMissingError, match="declared outputs \\['table'\\]"):
        with tracker.scenario("s") as sc, sc.trace(name="t", outputs=["table"]) as block:
            pass
    assert tracker.records.get(block.run_id).status == "failed"
    assert scenario_record(tracker, sc).status == "failed"


def test_trace_inputs_resolve_through_the_coupler(tracker):
    """A traced block's list inputs are coupler artifacts; new upstream content makes it a miss."""
    hits = []
    for offset in (0.0, 0.0, 1.0):
        with tracker.scenario("s") as sc:
            sc.run("make", fn=make_frame, config={"offset": offset}, outputs=["table"])
            with sc.trace(name="read", inputs=["table"]) as block:
                consist.log_dataframe(consist.load(sc.coupler.require("table")).head(2), key="head")
            hits.append(block.result.cache_hit)
            assert block.result.inputs["table"].hash == sc.coupler.require("table").hash
    assert hits == [False, True, False]


def test_trace_code_identity_follows_the_block_source(tracker, tmp_path):
    """An identical block in a script hits; an edited block misses with the block named in the reason."""
    script = tmp_path / "pipeline.py"
    body = (
        "import consist\n"
        "def main(tracker):\n"
        "    with tracker.scenario('s') as sc:\n"
        "        with sc.trace(name='block') as block:\n"
        "            consist.log_dataframe(FRAME, key='out')  # VERSION\n"
        "    return block\n"
    )

    def run(version: str) -> consist.RunResult:
        script.write_text(body.replace("VERSION", version))
        namespace = {"FRAME": frame()}
        exec(compile(script.read_text(), str(script), "exec"), namespace)
        return namespace["main"](tracker).result

    first, same, edited = run("v1"), run("v1"), run("v2")
    assert not first.cache_hit and same.cache_hit and not edited.cache_hit
    assert edited.run.code.kind == "trace_block" and edited.run.code.file == str(script)
    assert "code of block changed" in edited.run.miss_reason
    source = (tracker.layout.code_path(edited.run.code.hash)).read_text()
    assert source.startswith("with sc.trace(name='block') as block:") and "# v2" in source


def test_trace_without_source_falls_back_to_bytecode(tracker):
    """A block in code with no source file (exec of a string) still has a stable identity."""
    code = (
        "with tracker.scenario('s') as sc:\n"
        "    with sc.trace(name='t') as block:\n"
        "        consist.log_dataframe(FRAME, key='out')\n"
    )
    results = []
    for _ in range(2):
        ns = {"tracker": tracker, "consist": consist, "FRAME": frame()}
        exec(compile(code, "<string>", "exec"), ns)
        results.append(ns["block"].result)
    assert results[1].cache_hit and results[1].run.code.kind == "bytecode"


def test_standalone_trace_outside_scenario(tracker):
    """consist.trace works without a scenario: recorded with no parent and cached the same way."""
    hits = []
    with use_tracker(tracker):
        for _ in range(2):
            with consist.trace("solo") as block:
                consist.log_dataframe(frame(), key="t")
            hits.append(block.result.cache_hit)
    assert hits == [False, True] and block.result.run.parent_id is None


def test_module_level_code_identity_recipe_for_traces(tmp_path):
    """With code_identity='callable_module', a traced block's identity is its whole file."""
    tracker = Tracker(run_dir=tmp_path / "runs", code_identity="callable_module")
    with tracker.scenario("s") as sc, sc.trace(name="t") as block:
        pass
    assert block.result.run.code.kind == "trace_module"


def test_guide_query_finds_steps_by_scenario_name(tracker):
    """consist.find_runs(parent_id=<scenario name>) finds the steps of every run of that scenario."""
    if not hasattr(consist, "find_runs"):
        pytest.skip("catalog queries are not exported yet")
    for _ in range(2):
        with tracker.scenario("baseline") as sc:
            for year in (2020, 2030):
                sc.run(f"simulate_{year}", fn=lambda: frame(), year=year, model="simulate", outputs=["persons"])
    runs = consist.find_runs(tracker=tracker, parent_id="baseline", model="simulate")
    assert len(runs) == 4


def test_pandas_frames_flow_through_the_coupler(tracker):
    """A pandas frame logged in one step loads as pandas in the next (what you store is what you get)."""
    with tracker.scenario("s") as sc:
        sc.run("make", fn=lambda: pd.DataFrame({"v": [1, 2]}), outputs=["t"])
        result = sc.run("use", fn=lambda t: t["v"].sum().item(), inputs=["t"], load_inputs=True, outputs=["total"])
    assert consist.load(result.outputs["total"]) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(consist.load(sc.coupler.require("t")), pd.DataFrame)


def test_two_sc_run_steps_declaring_one_key_warn_but_a_year_loop_does_not(tracker):
    """Two different functions both returning outputs=['persons'] warn; one function looped over years does not."""
    import warnings

    def simulate(year: int) -> pl.DataFrame:
        return frame(offset=year)

    def other() -> pl.DataFrame:
        return frame(offset=1)

    with tracker.scenario("s") as sc:
        with warnings.catch_warnings():
            warnings.simplefilter("error", CouplerWarning)
            for year in (2020, 2030):
                sc.run(name=f"simulate_{year}", fn=simulate, config={"year": year}, outputs=["persons"])
        with pytest.warns(CouplerWarning, match="simulate_2030"):
            sc.run(name="other", fn=other, outputs=["persons"])
    assert consist.load(sc.coupler.require("persons"))["value"][0] == 1


def test_a_step_advancing_the_key_it_read_does_not_warn(tracker):
    """A step that reads 'population' and writes its next version replaces it without a warning."""
    import warnings

    def advance(population: pl.DataFrame) -> pl.DataFrame:
        return population.with_columns(pl.col("value") + 1)

    with tracker.scenario("s") as sc, warnings.catch_warnings():
        warnings.simplefilter("error", CouplerWarning)
        sc.run("base", fn=lambda: frame(), outputs=["population"])
        sc.run("advance", fn=advance, inputs=["population"], load_inputs=True, outputs=["population"])
    assert consist.load(sc.coupler.require("population"))["value"][0] == 1
