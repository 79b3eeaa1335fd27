"""Regressions from an outside-user QA pass over single-step runs and scenarios."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import consist
from consist import Artifact, ConfigError, InputError, Tracker, use_tracker


def test_artifact_and_str_annotations_receive_the_artifact_and_its_path(tracker, raw_csv):
    """A parameter annotated Artifact gets the input artifact, one annotated str gets its path as text; repeats hit."""
    seen: list[object] = []

    def step(raw: Artifact, raw_name: str) -> pd.DataFrame:
        seen.append((raw, raw_name))
        return pd.DataFrame({"rows": [len(consist.load(raw))]})

    with use_tracker(tracker):
        for _ in range(2):
            result = consist.run(fn=step, inputs={"raw": raw_csv, "raw_name": raw_csv}, outputs=["n"])
    assert len(seen) == 1 and result.cache_hit
    artifact, name = seen[0]
    assert isinstance(artifact, Artifact) and artifact.path == raw_csv.resolve()
    assert name == str(raw_csv.resolve())
    assert list(consist.load(result.outputs["n"])["rows"]) == [5]


def test_union_with_str_prefers_the_frame_or_path_kind(tracker, raw_csv):
    """A ``str | Path`` parameter gets a Path and a ``pd.DataFrame | str`` one gets a frame."""
    seen: list[type] = []

    def step(a: str | Path, b: pd.DataFrame | str) -> None:
        seen.extend([type(a), type(b)])

    with use_tracker(tracker):
        consist.run(fn=step, inputs={"a": raw_csv, "b": raw_csv})
    assert issubclass(seen[0], Path) and seen[1] is pd.DataFrame


def test_unloaded_input_names_load_inputs_as_the_cause(tracker, raw_csv):
    """An input hashed with load_inputs=False but given no runtime value is named, with both fixes."""
    calls: list[object] = []

    def step(raw_file: Path) -> None:
        calls.append(raw_file)

    expected = r"'raw_file' is an input, but inputs are not loaded.*load_inputs=True.*runtime_kwargs=\{'raw_file'"
    with use_tracker(tracker), pytest.raises(ConfigError, match=expected):
        consist.run(fn=step, inputs={"raw_file": raw_csv}, load_inputs=False)
    assert calls == []
    assert list(tracker.records.iter_fresh()) == []


def test_input_name_matching_no_parameter_is_named(tracker, raw_csv):
    """An input whose name is not the parameter's is named in the error, with the parameter it should be."""
    calls: list[object] = []

    def step(df: pd.DataFrame) -> None:
        calls.append(df)

    expected = r"needs 'df'.*\['data'\] match no parameter.*inputs=\{'df': \.\.\.\}"
    with use_tracker(tracker), pytest.raises(ConfigError, match=expected):
        consist.run(fn=step, inputs={"data": raw_csv})
    assert calls == []


@pytest.mark.parametrize("as_outputs", [False, True])
def test_run_result_given_as_input_points_at_its_outputs(tracker, as_outputs):
    """Passing a RunResult (or its .outputs) as an input says to pass one of its artifacts."""

    def make() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    def use(df: pd.DataFrame) -> None:
        pass

    with use_tracker(tracker):
        made = consist.run(fn=make, outputs=["made"])
        value = made.outputs if as_outputs else made
        with pytest.raises(InputError, match=r"Input 'df' is a .*result\.outputs\['made'\]"):
            consist.run(fn=use, inputs={"df": value})
        with pytest.raises(InputError, match=r"Input 'inputs\[0\]' is a .*result\.outputs\['made'\]"):
            consist.run(fn=use, inputs=[value], runtime_kwargs={"df": None})


def test_mapping_input_may_name_a_coupler_key(tracker):
    """In a scenario, ``inputs={"df": "population"}`` loads that coupler key into df, cached like a list input."""
    calls: list[int] = []

    def init() -> pd.DataFrame:
        return pd.DataFrame({"person": [1, 2, 3]})

    def count(df: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(df))
        return pd.DataFrame({"n": [len(df)]})

    with use_tracker(tracker):
        for _ in range(2):
            with consist.scenario("base") as sc:
                sc.run("init", fn=init, outputs=["population"])
                result = sc.run("count", fn=count, inputs={"df": "population"}, outputs=["n"])
    assert calls == [3] and result.cache_hit
    assert result.run.input_map["df"].run_id == sc.coupler.require("population").run_id


def test_config_with_integer_keys_runs_and_hits(tracker):
    """A config holding a per-year dict with int keys ({2020: 1.1}) executes once, then hits."""
    calls: list[dict] = []

    def grow(growth: dict) -> pd.DataFrame:
        calls.append(growth)
        return pd.DataFrame({"year": list(growth), "rate": list(growth.values())})

    with use_tracker(tracker):
        for _ in range(2):
            result = consist.run(fn=grow, config={"growth": {2020: 1.1, 2030: 1.2}}, outputs=["rates"])
    assert calls == [{2020: 1.1, 2030: 1.2}]
    assert result.cache_hit and result.run.status == "completed"
    assert list(consist.load(result.outputs["rates"])["year"]) == [2020, 2030]


def test_config_keys_colliding_once_canonical_are_refused(tracker):
    """A config with both 1 and "1" as keys is refused before running, naming where they sit."""
    calls: list[int] = []

    def step(table: dict) -> None:
        calls.append(1)

    with use_tracker(tracker), pytest.raises(consist.UnhashableInputError, match=r"config\['table'\] has keys"):
        consist.run(fn=step, config={"table": {1: "a", "1": "b"}})
    assert calls == []


def test_name_then_function_positionally_works_like_sc_run(tracker):
    """consist.run("clean", fn) and tracker.run("clean", fn) run fn under that name, as sc.run("clean", fn) does."""
    calls: list[int] = []

    def clean() -> pd.DataFrame:
        calls.append(1)
        return pd.DataFrame({"a": [1]})

    with use_tracker(tracker):
        first = consist.run("clean", clean, outputs=["cleaned"])
        second = tracker.run("clean", clean, outputs=["cleaned"])
    assert first.run.name == second.run.name == "clean"
    assert calls == [1] and second.cache_hit


def test_undocumented_key_warning_is_a_public_coupler_warning(tracker):
    """With warn_undocumented=True, a misspelt key warns with consist.CouplerWarning naming the close key."""

    def compile_step() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    missing = pytest.raises(consist.ScenarioOutputsMissingError)
    with use_tracker(tracker), missing, consist.scenario("workflow") as sc:
        sc.require_outputs("zarr_skims", warn_undocumented=True)
        with pytest.warns(consist.CouplerWarning, match="undocumented coupler key 'zar_skims'.*'zarr_skims'"):
            sc.run("compile", fn=compile_step, outputs=["zar_skims"])
    assert issubclass(consist.CouplerWarning, UserWarning)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("*.csv", ["sub__x", "y"]), ("**/*.csv", ["sub__x", "y"]), ("sub/*.csv", ["sub__x"])],
)
def test_capture_patterns_with_folders_match_paths_inside_the_folder(tracker, in_tmp, pattern, expected):
    """capture_pattern="**/*.csv" or "sub/*.csv" captures the matching files a tool writes, as glob users expect."""
    calls: list[str] = []

    def tool() -> None:
        calls.append(pattern)
        out = Path("outputs")
        (out / "sub").mkdir(parents=True, exist_ok=True)
        (out / "sub" / "x.csv").write_text("a\n1\n")
        (out / "y.csv").write_text("a\n2\n")
        (out / "notes.txt").write_text("not a table")

    with use_tracker(tracker):
        for _ in range(2):
            result = consist.run(fn=tool, capture_dir=Path("outputs"), capture_pattern=pattern)
    assert sorted(result.outputs) == expected
    assert calls == [pattern] and result.cache_hit


def test_one_function_behind_two_steps_with_other_outputs_hits_both(tmp_path):
    """Two steps running one function on the same inputs but declaring different outputs each hit on a rerun."""
    calls = []

    def analyze(df: pd.DataFrame) -> pd.DataFrame:
        calls.append(1)
        return df.assign(double=df["x"] * 2)

    source = tmp_path / "in.csv"
    source.write_text("x\n1\n2\n")
    tracker = Tracker(run_dir=tmp_path / "runs")
    for _ in range(3):
        a = tracker.run(analyze, name="analyze", inputs={"df": source}, outputs=["a"])
        b = tracker.run(analyze, name="analyze2", inputs={"df": source}, outputs=["b"])
    assert len(calls) == 2
    assert a.cache_hit and b.cache_hit
    assert set(a.outputs) == {"a"} and set(b.outputs) == {"b"}
