"""Code ported from upstream Consist: its option objects and option names get our spelling back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import use_tracker


def _counting_step(log: Path):
    def step() -> pl.DataFrame:
        with log.open("a") as fh:
            fh.write("x\n")
        return pl.DataFrame({"a": [1]})

    return step


def test_importing_execution_options_names_the_flat_keywords():
    """`from consist import ExecutionOptions` is an ImportError that lists load_inputs= and friends."""
    code = "from consist import ExecutionOptions"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr or "UpstreamNameError" in proc.stderr
    assert "load_inputs=" in proc.stderr and "runtime_kwargs=" in proc.stderr
    with pytest.raises(ImportError, match="cache_hydration="):
        from consist import CacheOptions  # noqa: F401
    with pytest.raises(consist.UpstreamNameError):
        from consist import OutputPolicyOptions  # noqa: F401


def test_other_missing_names_stay_attribute_errors():
    """An unknown attribute is still an AttributeError, so hasattr() answers False."""
    assert not hasattr(consist, "no_such_thing")


def test_execution_options_keyword_is_refused_with_the_flat_spelling(tracker, tmp_path):
    """run(execution_options=...) raises a TypeError spelling out load_inputs=/runtime_kwargs= and runs nothing."""
    log = tmp_path / "calls.txt"
    with pytest.raises(TypeError, match=r"load_inputs=True, runtime_kwargs=\{'n': 1\}") as info:
        tracker.run(_counting_step(log), execution_options={"load_inputs": True, "runtime_kwargs": {"n": 1}})
    assert isinstance(info.value, consist.UpstreamOptionError)
    with pytest.raises(consist.UpstreamOptionError, match="cache_mode='overwrite'"):
        tracker.run(_counting_step(log), cache_options={"cache_mode": "overwrite"})
    with pytest.raises(consist.UpstreamOptionError, match="Tracker\\(verify_outputs"):
        tracker.run(_counting_step(log), cache_options={"validate_cached_outputs": "hash"})
    assert not log.exists()
    assert tracker.find_runs() == []


def test_option_objects_are_refused_in_a_scenario_and_a_trace(tracker, tmp_path):
    """sc.run, sc.trace and scenario() refuse the upstream option keywords instead of recording them."""
    log = tmp_path / "calls.txt"
    with use_tracker(tracker):
        with pytest.raises(consist.UpstreamOptionError):
            consist.scenario("s", execution_options={"load_inputs": True})
        with consist.scenario("s2") as sc:
            with pytest.raises(consist.UpstreamOptionError):
                sc.run(_counting_step(log), output_policy={"output_missing": "warn"})
            with pytest.raises(consist.UpstreamOptionError, match="flat keywords"):
                with sc.trace("t", cache_options={"cache_mode": "reuse"}):
                    pass
    assert not log.exists()


def test_a_misspelt_run_option_is_a_type_error_with_a_suggestion(tracker, tmp_path):
    """run(load_input=True) names load_inputs= rather than a bare 'unexpected keyword'."""
    with pytest.raises(TypeError, match="load_inputs="):
        tracker.run(_counting_step(tmp_path / "calls.txt"), load_input=True)


def test_direction_input_is_refused_and_output_is_honoured(tracker):
    """log_dataframe(direction='input') is refused (inputs are declared up front); 'output' is what it does."""

    def as_input() -> None:
        consist.log_dataframe(pl.DataFrame({"a": [1]}), "t", direction="input")

    def as_output() -> None:
        consist.log_dataframe(pl.DataFrame({"a": [1]}), "t", direction="output")

    with pytest.raises(consist.UpstreamOptionError, match="inputs="):
        tracker.run(as_input, outputs=["t"])
    result = tracker.run(as_output, outputs=["t"])
    assert "direction" not in result.outputs["t"].meta
    assert tracker.get_run(result.run_id).output_map["t"].key == "t"


def test_driver_csv_writes_csv(tracker):
    """log_dataframe(driver='csv') writes a CSV file, and the artifact's driver says so."""

    def step() -> None:
        consist.log_dataframe(pl.DataFrame({"a": [1, 2]}), "t", driver="csv")

    artifact = tracker.run(step, outputs=["t"]).outputs["t"]
    assert artifact.driver == "csv" and artifact.path.suffix == ".csv"
    assert artifact.path.read_text().splitlines() == ["a", "1", "2"]
    assert "driver" not in artifact.meta
    assert consist.load(artifact)["a"].to_list() == [1, 2]


def test_driver_contradicting_a_file_name_is_refused(tracker, tmp_path):
    """log_artifact(path.parquet, driver='csv') is refused: the driver comes from the file name."""
    table = tmp_path / "t.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(table)

    def step() -> None:
        consist.log_artifact(table, key="t", driver="csv")

    with pytest.raises(consist.ConfigError, match="driver comes from the file name"):
        tracker.run(step, outputs=["t"])

    def same() -> None:
        consist.log_artifact(table, key="t", driver="parquet")

    assert "driver" not in tracker.run(same, outputs=["t"]).outputs["t"].meta


def test_log_artifacts_refuses_direction_input_before_logging_anything(tracker, tmp_path):
    """sc.log_artifacts(..., direction='input') logs none of the files and names inputs=."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x\n1\n")
    b.write_text("x\n2\n")
    with use_tracker(tracker), consist.scenario("s") as sc:
        with pytest.raises(consist.UpstreamOptionError, match="inputs="):
            sc.log_artifacts({"a": a, "b": b}, direction="input")
        with pytest.raises(consist.ConfigError, match="driver comes from the file name"):
            sc.log_artifacts({"a": a}, driver="parquet")
        assert sc.coupler.keys() == []
        logged = sc.log_artifacts({"a": a}, driver="csv", direction="output", role="primary")
    assert logged["a"].meta == {"role": "primary"}
