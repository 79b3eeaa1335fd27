"""What counts in a step's config identity: structured keys that must hash and must not collide."""

from __future__ import annotations

import pandas as pd
import pytest

import consist
from consist import use_tracker


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
