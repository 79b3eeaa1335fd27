"""A coupler key replaced by another step warns once per pair of steps, not once per year of a loop."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl

import consist
from consist import Tracker, use_tracker


def test_alternating_steps_on_one_key_warn_once_per_pair(tmp_path: Path):
    """Six years of steps a and b both writing 'state' give one warning; a third step c gives one more."""
    calls = []

    def a(year: int) -> pl.DataFrame:
        calls.append(("a", year))
        return pl.DataFrame({"y": [year]})

    def b(year: int) -> pl.DataFrame:
        calls.append(("b", year))
        return pl.DataFrame({"y": [year * 2]})

    def c() -> pl.DataFrame:
        calls.append("c")
        return pl.DataFrame({"y": [0]})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with use_tracker(Tracker(run_dir=tmp_path / "runs")), consist.scenario("demo") as sc:
            for year in range(2020, 2026):
                sc.run(name="a", fn=a, config={"year": year}, outputs=["state"])
                sc.run(name="b", fn=b, config={"year": year}, outputs=["state"])
            sc.run(name="c", fn=c, outputs=["state"])
    messages = [str(w.message) for w in caught if issubclass(w.category, consist.CouplerWarning)]
    assert len(messages) == 2 and "(step 'c')" in messages[1]
    assert len(calls) == 13 and len(sc.coupler.replaced["state"]) == 13
