"""Configs that differ never share a cache entry; equal ones always do (recipe consist.config/2).

Each case runs a step twice and counts executions in a file the step appends to, so a
hit is proven by the step not running, in this process and in fresh ones.
"""

from __future__ import annotations

import datetime as dt
import enum
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import consist
from consist import Tracker, use_tracker


class Mode(enum.Enum):
    FAST = "fast"


def _executions(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _step(config: dict, log: Path) -> dict:
    with open(log, "a") as fh:
        fh.write(f"{config!r}\n")
    return {"n": 1}


def _run(tracker: Tracker, config, log: Path):
    with use_tracker(tracker):
        return consist.run(fn=_step, name="step", config=config, runtime_kwargs={"log": log}, outputs=["out"])


DIFFERENT = [
    ({"x": float("nan")}, {"x": "NaN"}),
    ({"x": float("inf")}, {"x": "Infinity"}),
    ({"x": float("-inf")}, {"x": "-Infinity"}),
    ({1: "a"}, {"1": "a"}),
    ({"k": {True: 1}}, {"k": {"true": 1}}),
    ({"d": dt.date(2030, 1, 1)}, {"d": "2030-01-01"}),
    ({"t": dt.datetime(2030, 1, 1, 12)}, {"t": "2030-01-01T12:00:00"}),
    ({"n": 10.0}, {"n": 10}),
    ({"s": {1, 2}}, {"s": [1, 2]}),
    ({"s": {dt.date(2030, 1, 1), "2030-01-02"}}, {"s": {"2030-01-01", dt.date(2030, 1, 2)}}),
    ({"m": Mode.FAST}, {"m": "fast"}),
    ({"nested": [{"x": float("nan")}]}, {"nested": [{"x": "NaN"}]}),
]


@pytest.mark.parametrize(("first", "second"), DIFFERENT, ids=[repr(a) for a, _ in DIFFERENT])
def test_configs_that_differ_in_type_each_execute(tmp_path, first, second):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    assert not _run(tracker, first, log).cache_hit
    assert not _run(tracker, second, log).cache_hit
    assert _executions(log) == 2
    # and each still hits its own entry
    assert _run(tracker, first, log).cache_hit and _run(tracker, second, log).cache_hit
    assert _executions(log) == 2


SAME = [
    ({"a": 1, "b": {"x": float("nan"), "y": 2}}, {"b": {"y": 2, "x": float("nan")}, "a": 1}),  # key order
    ({"p": Path("data/zones.csv")}, {"p": "data/zones.csv"}),  # a path and its POSIX string
    ({"t": (1, 2, 3)}, {"t": [1, 2, 3]}),  # a tuple and a list
    ({"s": {3, 1, 2}}, {"s": {2, 3, 1}}),  # a set, whatever its iteration order
]


@pytest.mark.parametrize(("first", "second"), SAME, ids=["key order", "path and str", "tuple and list", "set order"])
def test_equal_configs_hit(tmp_path, first, second):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    _run(tracker, first, log)
    assert _run(tracker, second, log).cache_hit
    assert _executions(log) == 1


SCRIPT = textwrap.dedent(
    """
    import datetime as dt, sys
    from pathlib import Path
    import consist
    from consist import Tracker, use_tracker

    def step(config: dict, log: Path) -> dict:
        with open(log, "a") as fh:
            fh.write("ran\\n")
        return {"n": 1}

    run_dir, log, order = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    items = [("n", 1), ("x", float("nan")), ("w", 10.0), ("d", dt.date(2030, 1, 1)), ("k", {2: "b", 1: "a"})]
    config = dict(items if order == "forward" else items[::-1])
    with use_tracker(Tracker(run_dir=run_dir)):
        result = consist.run(fn=step, name="step", config=config, runtime_kwargs={"log": log}, outputs=["out"])
    print(result.cache_hit)
    """
)


def test_equal_configs_hit_across_processes_and_hash_seeds(tmp_path):
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    log = tmp_path / "log.txt"
    outs = []
    for order, seed in (("forward", "1"), ("backward", "2"), ("forward", "3")):
        env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin", **_pythonpath()}
        done = subprocess.run([sys.executable, str(script), str(tmp_path / "runs"), str(log), order],
                              capture_output=True, text=True, env=env, cwd=tmp_path, check=True)  # fmt: skip
        outs.append(done.stdout.strip())
    assert outs == ["False", "True", "True"]
    assert _executions(log) == 1


def _pythonpath() -> dict[str, str]:
    import os

    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


def test_whole_floats_stay_floats_in_records_facets_and_pivots(tmp_path):
    """10.0 is recorded, decoded, shown and pivoted as 10.0 (a float), 10 as 10."""
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    result = _run(tracker, {"rate": 10.0, "count": 10}, log)
    for run in (result.run, Tracker(run_dir=tmp_path / "runs").get_run(result.run.id)):
        assert run.config == {"rate": 10.0, "count": 10}
        assert type(run.config["rate"]) is float and type(run.config["count"]) is int
        assert type(run.facets["rate"]) is float and type(run.facets["count"]) is int
    table = consist.run_query(consist.pivot_facets("step", keys=["rate"]), tracker=tracker)
    assert table["rate"].to_list() == [10.0] and table["rate"].dtype.is_float()


@pytest.mark.parametrize(("first", "second", "said"), [
    ({"n": 10}, {"n": 10.0}, "config n changed (10 -> 10.0)"),
    ({"x": "NaN"}, {"x": float("nan")}, "config changed in the type of a value"),
])  # fmt: skip
def test_miss_reason_names_a_change_of_type(tmp_path, first, second, said):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    _run(tracker, first, log)
    assert said in _run(tracker, second, log).run.miss_reason
