"""A scenario's ``step_cache_hydration`` applies to every step made inside it.

``consist.run(...)`` inside ``with consist.scenario(...)`` is a step of that scenario (its
parent, its config), so the scenario's hydration is its default too; an explicit
``cache_hydration=`` on the call wins. The hits run in a fresh process and executions
are counted from a log file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.helpers.hydration_steps import executions as _executions
from tests.helpers.hydration_steps import python as _python
from tests.helpers.hydration_steps import raw  # noqa: F401  (a fixture)


def test_a_plain_run_inside_a_scenario_takes_its_step_cache_hydration(tmp_path: Path, raw: Path):  # noqa: F811
    _python(tmp_path, """
        with use_tracker(tracker):
            consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
        print("{}")
        """)
    hits = _python(tmp_path, """
        out = {}
        with use_tracker(tracker):
            with consist.scenario("baseline", step_cache_hydration="outputs-all") as sc:
                r = consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
                out["inherited"] = [r.cache_hit, r.run.id, str(r.outputs["cleaned"].path)]
                r = consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"],
                                cache_hydration="metadata")
                out["explicit"] = [r.cache_hit, r.run.id, str(r.outputs["cleaned"].path)]
        print(json.dumps(out))
        """)
    assert _executions(tmp_path) == 1
    hit, run_id, path = hits["inherited"]
    assert hit and Path(path) == tmp_path / "runs" / run_id / "cleaned.parquet"
    assert pd.read_parquet(path)["value"].tolist() == [2, 3]
    hit, run_id, path = hits["explicit"]
    assert hit and not Path(path).is_relative_to(tmp_path / "runs" / run_id), "metadata copies nothing"
