"""How a step's parameters receive its inputs: annotations choose artifact, path or frame; wrong names and kinds are named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import consist
from consist import Artifact, ConfigError, InputError, use_tracker


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
