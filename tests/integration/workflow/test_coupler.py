"""The coupler inside scenarios: coupler keys as inputs, bad values, odd keys, bulk logging mistakes, near-miss keys."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import consist
from consist import ConfigError, CouplerKeyError, Tracker, use_tracker
from consist.workflow.coupler import CouplerWarning
from consist.errors import ScenarioOutputsMissingError


def _make_two() -> dict[str, pd.DataFrame]:
    return {"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"x": [2]})}


def test_update_with_one_bad_value_changes_nothing(tracker: Tracker):
    """coupler.update() with a non-artifact among artifacts raises and leaves the coupler as it was."""
    with use_tracker(tracker), consist.scenario("s") as sc:
        result = consist.run(fn=_make_two, outputs=["a", "b"])
        with pytest.raises(ConfigError, match="'bad' must hold an Artifact; got a str"):
            sc.coupler.update({"a": result.outputs["a"], "bad": "results/bad.parquet"})
        assert sc.coupler.keys() == []
        sc.coupler.update(result.outputs)
        assert sc.coupler.keys() == ["a", "b"]


def test_require_suggestions_for_odd_keys(tracker: Tracker):
    """require() names a case-only typo's key, rejects a non-string key clearly, and suggests nothing silly for ''."""
    with use_tracker(tracker), consist.scenario("s") as sc:
        sc.coupler.update(consist.run(fn=_make_two, outputs=["a", "b"]).outputs)
        with pytest.raises(CouplerKeyError, match="Did you mean 'a'"):
            sc.coupler.require("A")
        with pytest.raises(CouplerKeyError, match="coupler keys are strings; got 3"):
            sc.coupler.require(3)  # type: ignore[arg-type]
        with pytest.raises(CouplerKeyError) as empty:
            sc.coupler.require("")
        assert "Did you mean" not in str(empty.value)


def test_undocumented_key_warning_has_no_nonsense_hint(tracker: Tracker, in_tmp: Path):
    """warn_undocumented on a one-letter key warns without suggesting an unrelated key that merely contains the letter."""
    Path("p.csv").write_text("a\n1\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with use_tracker(tracker), consist.scenario("s") as sc:
            sc.require_outputs("synthetic_population", warn_undocumented=True)
            sc.log_artifacts({"p": "p.csv", "synthetic_population": "p.csv"})
    texts = [str(w.message) for w in caught if issubclass(w.category, CouplerWarning)]
    assert len(texts) == 1 and "'p'" in texts[0] and "did you mean" not in texts[0]


def test_log_artifacts_rejects_frames_and_bad_metadata_before_logging(tracker: Tracker, in_tmp: Path):
    """log_artifacts() with a DataFrame among paths, or a non-mapping metadata_by_key entry, logs nothing and says what to do."""
    Path("jobs.csv").write_text("a\n1\n")
    with use_tracker(tracker), consist.scenario("s") as sc:
        with pytest.raises(ConfigError, match=r"'persons' is a DataFrame, not a path; log a frame with consist.log_dataframe"):
            sc.log_artifacts({"jobs": "jobs.csv", "persons": pd.DataFrame({"a": [1]})})
        with pytest.raises(ConfigError, match=r"'p' is a NoneType, not a path"):
            sc.log_artifacts({"p": None})  # type: ignore[dict-item]
        with pytest.raises(ConfigError, match=r"metadata_by_key\['jobs'\] must be a mapping"):
            sc.log_artifacts({"jobs": "jobs.csv"}, metadata_by_key={"jobs": "employment_proxy"})  # type: ignore[dict-item]
        assert sc.coupler.keys() == []
        logged = sc.log_artifacts({"jobs": "jobs.csv"}, metadata_by_key={"jobs": {"role": "x"}}, year=2030)
        assert logged["jobs"].meta == {"year": 2030, "role": "x"}


def test_missing_required_output_names_the_near_spelt_key_and_stays_cached(tracker: Tracker):
    """A required key produced under a near spelling fails the scenario naming that spelling; the step is a hit on re-run."""
    calls: list[str] = []

    def compile_step() -> dict[str, pd.DataFrame]:
        calls.append("compile")
        return {"zar_skims": pd.DataFrame({"a": [1]})}

    for _ in range(2):
        with use_tracker(tracker), warnings.catch_warnings():
            warnings.simplefilter("ignore", CouplerWarning)
            with pytest.raises(ScenarioOutputsMissingError, match="'zar_skims' is set: was it meant to be 'zarr_skims'"):
                with consist.scenario("workflow") as sc:
                    sc.require_outputs("zarr_skims", warn_undocumented=True)
                    sc.run("compile", fn=compile_step, outputs=["zar_skims"])
    assert calls == ["compile"]
    assert sc.status == "failed"


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
