"""Explaining hits and misses: tracker.explain / would_hit and the recorded miss reasons."""

from __future__ import annotations

import polars as pl
import pytest

from consist import Explanation, Tracker
from consist.catalog.index import RECENT_RUNS
from consist.models import CodeInfo, Run
from consist.identity.reasons import UPSTREAM, StepComponents, closest, differences, full_reason
from tests.helpers.chain_steps import CALLS, last, load, mid
from tests.helpers.files import age


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


def _chain(tracker: Tracker, threshold: float):
    a = tracker.run(load, config={"threshold": threshold}, outputs=["a"])
    b = tracker.run(mid, inputs={"a": a.outputs["a"]}, outputs=["b"])
    c = tracker.run(last, inputs={"b": b.outputs["b"]}, outputs=["c"])
    return a, b, c


def _records(tracker: Tracker) -> int:
    return len(list(tracker.layout.fresh.glob("*.json")))


# -- through the tracker ---------------------------------------------------------------


def test_no_earlier_run(tracker):
    """A step never run before would miss because no earlier run had its name."""
    why = tracker.explain(load, config={"threshold": 0.5}, outputs=["a"])
    assert isinstance(why, Explanation)
    assert not why.would_hit and why.compared_run_id is None
    assert why.reason == "no earlier run of step 'load'"
    assert "would MISS" in str(why) and "no earlier run of step 'load'" in str(why)


def test_explain_never_executes_nor_records(tracker):
    """Explaining runs nothing and writes no run record."""
    tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    before = _records(tracker)
    for threshold in (0.5, 0.7):
        tracker.explain(load, config={"threshold": threshold}, outputs=["a"])
        tracker.would_hit(load, config={"threshold": threshold}, outputs=["a"])
    assert CALLS == ["load"] and _records(tracker) == before


def test_hit_names_the_reused_run(tracker):
    """An unchanged call would hit and names the run whose outputs it would reuse."""
    first = tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    why = tracker.explain(load, config={"threshold": 0.5}, outputs=["a"])
    assert why.would_hit and why.reused_run_id == first.run.id
    assert tracker.would_hit(load, config={"threshold": 0.5}, outputs=["a"]) is True
    assert tracker.would_hit(load, config={"threshold": 0.6}, outputs=["a"]) is False
    assert "would HIT" in str(why)


def test_config_leaf_old_and_new_values(tracker):
    """A changed nested config leaf is named by its dotted key with old -> new values."""

    def solve(config: dict) -> dict:
        return {"ok": True}

    first = tracker.run(solve, config={"solver": {"tol": 0.001, "iters": 10}, "mode": "car"}, outputs=["r"])
    why = tracker.explain(solve, config={"solver": {"tol": 0.0001, "iters": 10}, "mode": "car"}, outputs=["r"])
    assert str(why).splitlines()[0] == (
        f"step 'solve' would MISS (execute): config solver.tol differs from run {first.run.id} "
        "(the closest earlier run of this step)"
    )
    assert not why.would_hit
    assert [(c.key, c.old, c.new) for c in why.config] == [("solver.tol", 0.001, 0.0001)]
    assert why.code is None and why.inputs == ()
    assert "config solver.tol changed (0.001 -> 0.0001)" in why.reason
    assert "config solver.tol: 0.001 -> 0.0001" in str(why)


def test_code_change_names_the_function_and_shows_the_diff(tracker):
    """Editing the step's code is reported as a code change, with a diff of the source."""

    def step_v1(x: int) -> dict:
        return {"y": x + 1}

    def step_v2(x: int) -> dict:
        return {"y": x + 2}

    tracker.run(step_v1, name="step", config={"x": 1}, outputs=["r"])
    why = tracker.explain(step_v2, name="step", config={"x": 1}, outputs=["r"])
    assert not why.would_hit and why.code is not None
    assert why.code.old_hash != why.code.new_hash and "step_v2" in why.code.where
    assert "code of" in why.reason and "changed" in why.reason
    assert '-    return {"y": x + 1}' in why.code.diff and '+    return {"y": x + 2}' in why.code.diff
    assert "x + 2" in str(why)


def test_input_path_and_hash_change(tracker, tmp_path):
    """An input read from another file is reported with both paths and old -> new hashes."""
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text("v\n1\n")
    two.write_text("v\n2\n")
    age(one)
    age(two)

    def count(raw: pl.DataFrame) -> pl.DataFrame:
        return raw.select(pl.len())

    first = tracker.run(count, inputs={"raw": one}, outputs=["n"])
    why = tracker.explain(count, inputs={"raw": two}, outputs=["n"])
    (change,) = why.inputs
    assert change.kind == "changed" and change.name == "raw"
    assert (change.old_path, change.new_path) == (str(one), str(two))
    assert change.old_hash == first.run.input_map["raw"].hash and change.new_hash != change.old_hash
    assert str(one) in why.reason and str(two) in why.reason
    assert f"{change.old_hash[:12]} -> {two} {change.new_hash[:12]}" in str(why)


def test_input_content_change_at_the_same_path(tracker, tmp_path):
    """New bytes at the same path name the path once with old -> new hashes."""
    raw = tmp_path / "raw.csv"
    raw.write_text("v\n1\n")

    def count(raw: pl.DataFrame) -> pl.DataFrame:
        return raw.select(pl.len())

    tracker.run(count, inputs={"raw": raw}, outputs=["n"])
    raw.write_text("v\n1\n2\n")
    why = tracker.explain(count, inputs={"raw": raw}, outputs=["n"])
    assert f"input 'raw' changed: {raw} " in why.reason
    assert why.inputs[0].old_path == why.inputs[0].new_path == str(raw)


def test_compares_with_the_closest_not_the_latest_run(tracker):
    """The earlier run with the fewest differences is the one compared against."""

    def step(config: dict) -> dict:
        return {"ok": 1}

    first = tracker.run(step, config={"a": 1, "b": 1}, outputs=["r"])
    tracker.run(step, config={"a": 2, "b": 2}, outputs=["r"])
    why = tracker.explain(step, config={"a": 1, "b": 3}, outputs=["r"])
    assert why.compared_run_id == first.run.id
    assert [(c.key, c.old, c.new) for c in why.config] == [("b", 1, 3)]


def test_upstream_cause_is_followed_through_the_chain(tracker):
    """A miss caused by a changed input names the upstream run that changed it and why that one ran."""
    _chain(tracker, 0.5)
    a2 = tracker.run(load, config={"threshold": 0.7}, outputs=["a"])
    b2 = tracker.run(mid, inputs={"a": a2.outputs["a"]}, outputs=["b"])
    why = tracker.explain(last, inputs={"b": b2.outputs["b"]}, outputs=["c"])
    assert not why.would_hit and why.inputs[0].name == "b"
    assert [(u.depth, u.input, u.run_id) for u in why.upstream] == [(1, "b", b2.run.id), (2, "a", a2.run.id)]
    assert "input 'a' changed" in why.upstream[0].reason
    assert "config threshold changed (0.5 -> 0.7)" in why.upstream[1].reason
    text = str(why)
    assert f"came from run {a2.run.id} (step 'load')" in text and "threshold changed (0.5 -> 0.7)" in text
    # The record of the executed miss carries the root cause too.
    c2 = tracker.run(last, inputs={"b": b2.outputs["b"]}, outputs=["c"])
    assert c2.run.miss_reason.startswith("vs run ")
    root = c2.run.miss_reason.split(UPSTREAM, 1)[1]
    assert root.startswith(f"step 'load' ran as {a2.run.id}") and "threshold changed (0.5 -> 0.7)" in root


def test_unusable_entry_is_the_reason(tracker):
    """An entry whose output file is gone would miss, saying which output is missing."""
    first = tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    first.outputs["a"].path.unlink()
    why = tracker.explain(load, config={"threshold": 0.5}, outputs=["a"])
    assert not why.would_hit and "missing" in why.reason and why.problem == why.reason


def test_overwrite_mode_never_hits(tracker):
    """cache_mode='overwrite' would always execute."""
    tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    why = tracker.explain(load, config={"threshold": 0.5}, outputs=["a"], cache_mode="overwrite")
    assert not why.would_hit and "overwrite" in why.reason


def test_epoch_change_is_reported(tmp_path):
    """A bumped cache epoch is reported as the cause of the miss."""
    Tracker(run_dir=tmp_path / "runs").run(load, config={"threshold": 0.5}, outputs=["a"])
    why = Tracker(run_dir=tmp_path / "runs", cache_epoch=3).explain(load, config={"threshold": 0.5}, outputs=["a"])
    assert not why.would_hit and why.epoch == (0, 3) and "cache epoch changed (0 -> 3)" in why.reason


def test_readonly_run_left_no_entry(tracker):
    """After a read-only miss, the explanation says that run left no cache entry."""
    first = tracker.run(load, config={"threshold": 0.5}, outputs=["a"], cache_mode="readonly")
    why = tracker.explain(load, config={"threshold": 0.5}, outputs=["a"])
    assert not why.would_hit and f"run {first.run.id}, which ran with cache_mode='readonly'" in why.reason


def test_explain_takes_run_arguments_only(tracker):
    """explain() rejects an argument run() does not take, as run() would."""
    with pytest.raises(TypeError):
        tracker.explain(load, config={"threshold": 0.5}, bogus=1)


# -- the pure pieces ---------------------------------------------------------------------


def _components(run_id: str, **config) -> StepComponents:
    return StepComponents(
        run_id=run_id, signature=run_id, code=CodeInfo(kind="callable_source", hash="c" * 64), config=config, inputs={}
    )


def test_closest_prefers_fewest_differences_then_newest():
    """closest() picks the fewest differing components, the newest on a tie, never the call itself."""
    now = _components("now", a=1, b=1)
    newest, older, oldest = _components("n", a=2, b=1), _components("o", a=3, b=1), _components("x", a=9, b=9)
    assert closest([newest, older, oldest], now) is newest
    assert closest([oldest, now], now) is oldest
    assert closest([], now) is None


def test_input_difference_lines():
    """Input lines name added, removed and changed inputs with paths and short hashes."""
    code = CodeInfo(kind="callable_source", hash="c" * 64)
    old = StepComponents(run_id="r", signature="s1", code=code, config={}, inputs={"a": "1" * 64, "gone": "2" * 64},
                         paths={"a": "/x/a.csv", "gone": "/x/g.csv"})
    new = StepComponents(run_id="q", signature="s2", code=code, config={}, inputs={"a": "3" * 64, "new": "4" * 64},
                         paths={"a": "/y/a.csv", "new": "/y/n.csv"})
    assert differences(old, new) == [
        f"input 'a' changed: /x/a.csv {'1' * 12} -> /y/a.csv {'3' * 12}",
        "input 'gone' removed (was /x/g.csv " + "2" * 12 + ")",
        "input 'new' added: /y/n.csv " + "4" * 12,
    ]


def test_full_reason_carries_the_root_cause_and_stays_short():
    """A reason appends the producer's root cause, not the producer's whole chain."""
    code = CodeInfo(kind="callable_source", hash="c" * 64)
    root = Run(id="p1", name="load", model="load", status="completed", miss_reason="vs run p0: config t changed (1 -> 2)")
    mid_run = Run(id="m1", name="mid", model="mid", status="completed",
                  miss_reason="vs run m0: input 'a' changed (aa -> bb)" + UPSTREAM + "step 'load' ran as p1, vs run p0: config t changed (1 -> 2)")
    runs = {"p1": root, "m1": mid_run}
    old = StepComponents(run_id="l0", signature="s0", code=code, config={}, inputs={"b": "0" * 64})
    new = StepComponents(run_id="l1", signature="s1", code=code, config={}, inputs={"b": "1" * 64}, producers={"b": "m1"})
    text = full_reason("last", old, new, runs.get)
    assert text.count(UPSTREAM) == 1
    assert text.endswith(UPSTREAM + "step 'load' ran as p1, vs run p0: config t changed (1 -> 2)")
    direct = StepComponents(run_id="m2", signature="s2", code=code, config={}, inputs={"b": "1" * 64}, producers={"b": "p1"})
    assert full_reason("mid", old, direct, runs.get).endswith(UPSTREAM + "step 'load' ran as p1, vs run p0: config t changed (1 -> 2)")


def test_recent_runs_are_bounded_newest_first(tracker):
    """The index keeps the newest RECENT_RUNS runs of a step, newest first."""
    for i in range(RECENT_RUNS + 3):
        tracker.index.put_last("s", _components(f"r{i}", i=i))
    recent = tracker.index.recent("s")
    assert len(recent) == RECENT_RUNS
    assert [c.run_id for c in recent[:2]] == [f"r{RECENT_RUNS + 2}", f"r{RECENT_RUNS + 1}"]
    assert tracker.index.last("s").run_id == f"r{RECENT_RUNS + 2}"


def test_recent_reads_the_older_one_run_format(tracker):
    """A step remembered in the earlier single-run format is still read."""
    import msgspec

    path = tracker.index._last_path("old")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.msgpack.encode(_components("r0", a=1)))
    assert [c.run_id for c in tracker.index.recent("old")] == ["r0"]

