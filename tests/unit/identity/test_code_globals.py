"""Module-level constants a step reads count toward its identity, as a notebook cell edits them."""

from __future__ import annotations

from pathlib import Path

import consist
from consist import Tracker, use_tracker

CELL = '''
def step(raw: Path) -> None:
    global RUNS
    RUNS += 1  # the function's own state: it changes by running, so it never counts
    calls.append(helper(RATE))
'''


def _namespace(rate: float) -> dict:
    ns: dict = {"Path": Path, "calls": [], "RATE": rate, "RUNS": 0, "helper": lambda r: r}
    exec(CELL, ns)  # a notebook cell: the function's globals are the user namespace
    return ns


def _run(tracker: Tracker, ns: dict, raw: Path):
    with use_tracker(tracker):
        return consist.run(fn=ns["step"], inputs={"raw": raw})


def test_changing_a_global_constant_is_a_miss_named_in_the_reason(tmp_path: Path):
    """Re-running after `RATE = 0.2` in another cell executes again and says which global changed; restoring it hits."""
    raw = tmp_path / "raw.csv"
    raw.write_text("a\n1\n")
    tracker = Tracker(run_dir=tmp_path / "runs")
    ns = _namespace(0.1)
    assert not _run(tracker, ns, raw).cache_hit
    assert _run(tracker, ns, raw).cache_hit
    ns["RATE"] = 0.2
    missed = _run(tracker, ns, raw)
    assert not missed.cache_hit and "global RATE 0.1 -> 0.2" in (missed.run.miss_reason or "")
    ns["RATE"] = 0.1
    assert _run(tracker, ns, raw).cache_hit
    assert ns["calls"] == [0.1, 0.2]


def test_mutable_globals_helpers_and_assigned_globals_do_not_count(tmp_path: Path):
    """A list the step appends to, a helper it calls and a global it assigns leave its identity alone."""
    raw = tmp_path / "raw.csv"
    raw.write_text("a\n1\n")
    tracker = Tracker(run_dir=tmp_path / "runs")
    ns = _namespace(0.1)
    _run(tracker, ns, raw)
    ns["calls"].extend([1, 2, 3])
    ns["helper"] = lambda r: r * 2
    assert _run(tracker, ns, raw).cache_hit
    assert ns["RUNS"] == 1


def test_a_fresh_namespace_with_the_same_constants_hits(tmp_path: Path):
    """The same cell run in a new kernel (a new namespace, equal constants) is served from the cache."""
    raw = tmp_path / "raw.csv"
    raw.write_text("a\n1\n")
    tracker = Tracker(run_dir=tmp_path / "runs")
    first, second = _namespace(0.5), _namespace(0.5)
    _run(tracker, first, raw)
    assert _run(tracker, second, raw).cache_hit and second["calls"] == []


def test_a_long_global_is_recorded_by_digest(tmp_path: Path):
    """A long global string still counts, but the run record keeps a short digest of it, not the text."""
    raw = tmp_path / "raw.csv"
    raw.write_text("a\n1\n")
    tracker = Tracker(run_dir=tmp_path / "runs")
    ns = _namespace(0.1)
    ns["RATE"] = "x" * 5000
    first = _run(tracker, ns, raw)
    assert len(str(first.run.code.globals["RATE"])) < 40
    ns["RATE"] = "y" * 5000
    assert not _run(tracker, ns, raw).cache_hit


def test_a_global_path_does_not_count(tmp_path: Path):
    """A module-level Path the step reads (different on every machine) is not part of its identity: still a hit."""
    raw = tmp_path / "raw.csv"
    raw.write_text("a\n1\n")
    tracker = Tracker(run_dir=tmp_path / "runs")
    ns = _namespace(0.1)
    ns["DATA"] = Path("/home/alice/project/data")
    exec("def located(raw: Path) -> None:\n    calls.append(str(DATA))\n", ns)  # noqa: S102 - a notebook cell
    with use_tracker(tracker):
        consist.run(fn=ns["located"], inputs={"raw": raw})
        ns["DATA"] = Path("/scratch/bob/project/data")
        assert consist.run(fn=ns["located"], inputs={"raw": raw}).cache_hit
    assert ns["calls"] == ["/home/alice/project/data"]
