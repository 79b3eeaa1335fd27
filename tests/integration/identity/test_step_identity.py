"""What counts in a step's code identity: notebook cells, bound methods, callable objects, lambdas, shared functions."""

from __future__ import annotations

import linecache

import pandas as pd
import polars as pl

import consist
from consist import Tracker, use_tracker


def _cell(namespace: dict, source: str, number: int) -> None:
    """Run ``source`` the way a Jupyter kernel runs a cell (its text registered in linecache)."""
    filename = f"/tmp/ipykernel_0/qa2_cell_{number}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - a notebook cell, as a kernel runs it


def test_notebook_cell_edit_that_only_changes_an_annotation_is_a_miss(tracker, raw_csv):
    """Re-running a cell whose step now annotates its input as pandas instead of Polars executes again."""
    calls: list[str] = []
    ns = {"calls": calls, "pl": pl, "pd": pd, "__name__": "__main__"}
    body = "    calls.append(type(raw).__module__.split('.')[0])\n    return raw\n"
    with use_tracker(tracker):
        _cell(ns, "def step(raw: pl.DataFrame):\n" + body, 1)
        consist.run(fn=ns["step"], inputs={"raw": raw_csv}, outputs=["out"])
        _cell(ns, "def step(raw: pl.DataFrame):\n" + body, 2)  # the same cell again: a hit
        consist.run(fn=ns["step"], inputs={"raw": raw_csv}, outputs=["out"])
        _cell(ns, "def step(raw: pd.DataFrame):\n" + body, 3)
        result = consist.run(fn=ns["step"], inputs={"raw": raw_csv}, outputs=["out"])
    assert calls == ["polars", "pandas"]
    assert isinstance(consist.load(result.outputs["out"]), pd.DataFrame)


def test_bound_methods_of_instances_with_different_state_do_not_share_a_cache_entry(tracker):
    """``Model(2).run`` and ``Model(3).run`` each execute; a second ``Model(2).run`` hits."""
    calls: list[int] = []

    class Model:
        def __init__(self, factor: int) -> None:
            self.factor = factor
            self.log: list[str] = []  # mutable state counts by type only: it must not defeat hits

        def run(self, x: int) -> dict:
            calls.append(self.factor)
            self.log.append("ran")
            return {"value": x * self.factor}

    with use_tracker(tracker):
        first = consist.run(fn=Model(2).run, name="scale", config={"x": 5}, outputs=["out"])
        other = consist.run(fn=Model(3).run, name="scale", config={"x": 5}, outputs=["out"])
        again = consist.run(fn=Model(2).run, name="scale", config={"x": 5}, outputs=["out"])
    assert calls == [2, 3]
    assert consist.load(first.outputs["out"]) == {"value": 10}
    assert consist.load(other.outputs["out"]) == {"value": 15}
    assert again.cache_hit and again.run.reused_run_id == first.run.id


def test_callable_instances_with_different_state_do_not_share_a_cache_entry(tracker):
    """A callable object's attributes are part of its identity, like a closure's values."""
    calls: list[float] = []

    class Scaler:
        __slots__ = ("factor",)

        def __init__(self, factor: float) -> None:
            self.factor = factor

        def __call__(self, x: float) -> dict:
            calls.append(self.factor)
            return {"value": x * self.factor}

    with use_tracker(tracker):
        for factor in (0.5, 2.0, 0.5):
            consist.run(fn=Scaler(factor), name="scaler", config={"x": 4}, outputs=["out"])
    assert calls == [0.5, 2.0]


def test_running_a_step_does_not_keep_its_function_or_instance_alive(tracker):
    """Closures and bound instances passed to consist.run are freed afterwards (no memo holds them)."""
    import gc
    import weakref

    class Holder:
        def __init__(self, rows: int) -> None:
            self.rows = rows
            self.frame = pl.DataFrame({"a": list(range(rows))})

        def count(self, x: int) -> dict:
            return {"n": self.frame.height + x}

    def make(holder: Holder):
        def step(x: int) -> dict:
            return {"n": holder.frame.height - x}

        return step

    refs = []
    with use_tracker(tracker):
        for rows in (3, 4):
            holder, other = Holder(rows), Holder(rows)
            refs += [weakref.ref(holder), weakref.ref(other)]
            consist.run(fn=holder.count, name="count", config={"x": 1}, outputs=["n"])
            consist.run(fn=make(other), name="closure", config={"x": 1}, outputs=["n"])
            del holder, other
    gc.collect()
    assert [r() for r in refs] == [None] * 4


def test_two_lambdas_on_one_line_are_different_steps(tracker):
    """Lambdas sharing a source line each execute and return their own result."""
    calls: list[str] = []
    steps = {"up": lambda x: calls.append("up") or {"v": x + 1}, "down": lambda x: calls.append("down") or {"v": x - 1}}
    with use_tracker(tracker):
        results = {name: consist.run(fn=fn, name=name, config={"x": 1}, outputs=["o"]) for name, fn in steps.items()}
        again = consist.run(fn=steps["down"], name="down", config={"x": 1}, outputs=["o"])
    assert calls == ["up", "down"] and again.cache_hit
    assert consist.load(results["up"].outputs["o"]) == {"v": 2}
    assert consist.load(results["down"].outputs["o"]) == {"v": 0}


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
