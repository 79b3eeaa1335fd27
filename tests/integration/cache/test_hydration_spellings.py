"""Cache hydration spelt as the guide spells it: output_paths= for requested outputs, and
outputs-all into the new run's own folder when no hydrate_dir= is given.

Every execution of a step appends a line to a log file, and the second call runs in a
fresh Python process: a hit is proven by the count of executions, not by a flag.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import consist
from consist import Tracker, use_tracker
from tests.helpers.hydration_steps import executions as _executions
from tests.helpers.hydration_steps import python as _python
from tests.helpers.hydration_steps import raw  # noqa: F401  (a fixture)



def test_output_paths_on_a_miss_and_on_a_requested_hit(tmp_path: Path, raw: Path):
    """A miss writes the output to output_paths; a hit in a fresh process copies the cached one there."""
    first = _python(tmp_path, """
        with use_tracker(tracker):
            r = consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"],
                            output_paths={"cleaned": "out/first.parquet"})
        print(json.dumps({"hit": r.cache_hit}))
        """)
    assert first == {"hit": False} and _executions(tmp_path) == 1
    assert pd.read_parquet(tmp_path / "out/first.parquet")["value"].tolist() == [2, 3]

    second = _python(tmp_path, """
        with use_tracker(tracker):
            r = consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"],
                            output_paths={"cleaned": "out/again.parquet"}, cache_hydration="outputs-requested")
        print(json.dumps({"hit": r.cache_hit, "path": str(r.outputs["cleaned"].path)}))
        """)
    target = tmp_path / "out/again.parquet"
    assert second == {"hit": True, "path": str(target)} and _executions(tmp_path) == 1
    assert pd.read_parquet(target)["value"].tolist() == [2, 3]


def test_hydrate_to_stays_a_synonym_and_conflicting_spellings_are_refused(tmp_path: Path, raw: Path):
    """hydrate_to= still works; output_paths= and hydrate_to= naming different places is one clear error."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb")
    calls = []

    def step(raw: pd.DataFrame) -> pd.DataFrame:
        calls.append(1)
        return raw

    with use_tracker(tracker):
        consist.run(fn=step, inputs={"raw": raw}, outputs=["t"])
        hit = consist.run(fn=step, inputs={"raw": raw}, outputs=["t"], cache_hydration="outputs-requested",
                          hydrate_to={"t": tmp_path / "syn.parquet"})
        assert hit.cache_hit and (tmp_path / "syn.parquet").exists() and calls == [1]
        with pytest.raises(consist.ConfigError, match="output_paths= and hydrate_to= name different"):
            consist.run(fn=step, inputs={"raw": raw}, outputs=["t"], cache_hydration="outputs-requested",
                        hydrate_to={"t": tmp_path / "a.parquet"}, output_paths={"t": tmp_path / "b.parquet"})
        with pytest.raises(consist.ConfigError, match="not among outputs"):
            consist.run(fn=step, inputs={"raw": raw}, outputs=["t"], output_paths={"typo": tmp_path / "x.parquet"})
    assert calls == [1] and not (tmp_path / "a.parquet").exists() and not (tmp_path / "b.parquet").exists()


def test_outputs_all_without_a_folder_copies_into_the_new_run_folder(tmp_path: Path, raw: Path):
    """consist.run and a scenario's step_cache_hydration='outputs-all' copy every output into the hit's own folder."""
    _python(tmp_path, """
        with use_tracker(tracker):
            consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
        print("{}")
        """)
    hits = _python(tmp_path, """
        out = {}
        with use_tracker(tracker):
            r = consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"], cache_hydration="outputs-all")
            out["run"] = [r.cache_hit, r.run.id, str(r.outputs["cleaned"].path)]
            with consist.scenario("baseline", step_cache_hydration="outputs-all") as sc:
                s = sc.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
            out["scenario"] = [s.cache_hit, s.run.id, str(s.outputs["cleaned"].path)]
        print(json.dumps(out))
        """)
    assert _executions(tmp_path) == 1
    for hit, run_id, path in hits.values():
        assert hit and Path(path) == tmp_path / "runs" / run_id / "cleaned.parquet"
        assert pd.read_parquet(path)["value"].tolist() == [2, 3]


def test_output_paths_hold_the_outputs_of_the_latest_call(tmp_path: Path, raw: Path):
    """Switching configs back and forth leaves output_paths holding the current call's output, hit or miss."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb")
    calls = []
    target = tmp_path / "out" / "cleaned.parquet"

    def clean(raw: pd.DataFrame, threshold: int) -> pd.DataFrame:
        calls.append(threshold)
        return raw[raw["value"] > threshold]

    with use_tracker(tracker):
        for threshold in (1, 2, 1):
            result = consist.run(fn=clean, inputs={"raw": raw}, config={"threshold": threshold}, outputs=["cleaned"],
                                 output_paths={"cleaned": target}, cache_hydration="outputs-requested")
            assert pd.read_parquet(target)["value"].tolist() == [v for v in (1, 2, 3) if v > threshold]
    assert calls == [1, 2] and result.cache_hit
