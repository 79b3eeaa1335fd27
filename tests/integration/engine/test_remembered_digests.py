"""Digests a process remembers never merge configs that identity tells apart.

A flat config's digest is remembered by each leaf's exact type and value, and the
input-set digest and step signature by the digests they are made of (see
``consist.identity.digests``). Python calls ``1``, ``1.0`` and ``True`` equal, and
``0.0`` and ``-0.0``; identity does not, so none of them may be served another's
outputs. Each test counts executions with a file the step appends to.
"""

from __future__ import annotations

from pathlib import Path

from consist import Tracker

# Pairs Python calls equal (and hashes alike) whose identities differ.
LOOK_ALIKE = [0, 0.0, -0.0, False, 1, 1.0, True, "1", None, 2**62, 2.0**62]


def _counting(log: Path):
    def step(config: dict) -> dict:
        with log.open("a") as fh:
            fh.write(f"{config['x']!r}\n")
        return {"x": repr(config["x"])}

    return step


def test_values_python_calls_equal_are_separate_steps(tmp_path):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "calls.txt"
    step = _counting(log)
    first = [tracker.run(step, config={"x": value}, outputs=["o"]) for value in LOOK_ALIKE]
    assert not any(r.cache_hit for r in first)
    assert log.read_text().split() == [repr(v) for v in LOOK_ALIKE]
    again = [tracker.run(step, config={"x": value}, outputs=["o"]) for value in LOOK_ALIKE]
    assert all(r.cache_hit for r in again)
    assert [r.run.reused_run_id for r in again] == [r.run.id for r in first]
    assert len(log.read_text().split()) == len(LOOK_ALIKE)
    assert len({r.run.config_hash for r in first}) == len(LOOK_ALIKE)


def test_remembered_digests_match_a_fresh_process(tmp_path):
    """The same configs in a new tracker (and key order) hit what the first computed."""
    log = tmp_path / "calls.txt"
    step = _counting(log)
    first = Tracker(run_dir=tmp_path / "runs")
    for value in LOOK_ALIKE:
        first.run(step, config={"x": value, "y": "a"}, outputs=["o"])
    second = Tracker(run_dir=tmp_path / "runs")
    for value in LOOK_ALIKE:
        assert second.run(step, config={"y": "a", "x": value}, outputs=["o"]).cache_hit
    assert len(log.read_text().split()) == len(LOOK_ALIKE)


def test_a_nested_or_changed_config_is_digested_again(tmp_path):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "calls.txt"
    step = _counting(log)
    config = {"x": 1, "inner": {"a": 1}}
    tracker.run(step, config=config, outputs=["o"])
    config["inner"]["a"] = 2  # a nested leaf changed in place
    assert not tracker.run(step, config=config, outputs=["o"]).cache_hit
    flat = {"x": 3}
    tracker.run(step, config=flat, outputs=["o"])
    flat["x"] = 4
    assert not tracker.run(step, config=flat, outputs=["o"]).cache_hit
    assert tracker.run(step, config={"x": 3}, outputs=["o"]).cache_hit
    assert len(log.read_text().split()) == 4
