"""A hydration destination whose file name says another format than the output's bytes is refused.

Copying a Parquet output to ``table.csv`` would leave a file every CSV reader fails on (or
misreads). The refusal comes before anything is copied; on a miss the run is recorded as
failed and leaves no cache entry, so the corrected call executes once more and is cached.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import consist
from tests.helpers.hydration_steps import executions as _executions
from tests.helpers.hydration_steps import python as _python
from tests.helpers.hydration_steps import raw  # noqa: F401  (a fixture)


def test_output_paths_naming_another_format_is_refused_and_caches_nothing(tmp_path: Path, raw: Path):
    refused = _python(tmp_path, """
        try:
            with use_tracker(tracker):
                consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"],
                            output_paths={"cleaned": "out/cleaned.csv"})
        except consist.ConfigError as exc:
            print(json.dumps({"error": str(exc)}))
        """)
    assert "output_paths['cleaned'] is 'cleaned.csv', a csv file name" in refused["error"]
    assert "stored as parquet" in refused["error"] and "'.parquet'" in refused["error"]
    assert not (tmp_path / "out" / "cleaned.csv").exists()

    fixed = _python(tmp_path, """
        with use_tracker(tracker):
            r = consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"],
                            output_paths={"cleaned": "out/cleaned.parquet"})
        print(json.dumps({"hit": r.cache_hit}))
        """)
    assert fixed == {"hit": False} and _executions(tmp_path) == 2  # the refused run was not cached
    assert pd.read_parquet(tmp_path / "out/cleaned.parquet")["value"].tolist() == [2, 3]


def test_a_hit_hydrated_to_another_format_is_refused_and_copies_nothing(tmp_path: Path, raw: Path):
    _python(tmp_path, """
        with use_tracker(tracker):
            consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
        print(json.dumps({}))
        """)
    refused = _python(tmp_path, """
        try:
            with use_tracker(tracker):
                consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"],
                            cache_hydration="outputs-requested", output_paths={"cleaned": "out/cleaned.json"})
        except consist.ConfigError as exc:
            print(json.dumps({"error": str(exc)}))
        """)
    assert "a json file name, but output 'cleaned' is stored as parquet" in refused["error"]
    assert not (tmp_path / "out").exists() and _executions(tmp_path) == 1

    folder = _python(tmp_path, """
        with use_tracker(tracker):
            r = consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"],
                            cache_hydration="outputs-requested", output_paths={"cleaned": "out/"})
        print(json.dumps({"hit": r.cache_hit, "path": str(r.outputs["cleaned"].path)}))
        """)
    assert folder["hit"] and folder["path"].endswith("out/cleaned.parquet") and _executions(tmp_path) == 1
