"""Injected faults (full disk, damaged metadata, long names): one clear error, no cache entry, a clean retry."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import polars as pl
import pytest

from consist import Tracker
from consist.errors import ConfigError, UnsafeKeyError


def _entries(tracker: Tracker) -> list[Path]:
    return [p for p in tracker.layout.index.rglob("*") if p.is_file()]


def _statuses(tracker: Tracker) -> dict[str, str]:
    """The status of every fresh record, as another process reads them."""
    return {run.id: run.status for run in Tracker(run_dir=tracker.run_dir).records.iter_fresh()}


def _temps(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.tmp")]


def _disk_full_at(monkeypatch: pytest.MonkeyPatch, call: str, nth: int) -> None:
    """Make the ``nth`` call of ``os.<call>`` (and every later one) fail with ENOSPC."""
    real = getattr(os, call)
    count = [0]

    def full(*args, **kwargs):
        count[0] += 1
        if count[0] >= nth:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(os, call, full)


@pytest.mark.parametrize("call", ["write", "replace"])
def test_full_disk_at_any_write_leaves_no_cache_entry_and_a_clean_retry(tmp_path, monkeypatch, call):
    """A disk that fills at any write of a run fails it with a path-naming error, leaves no entry or temp file, and the retry runs once then hits."""
    calls: list[int] = []

    def step(x: int):
        calls.append(x)
        return {"df": pl.DataFrame({"a": [x]}), "summary": {"x": x}}

    probe = Tracker(run_dir=tmp_path / "probe")
    with monkeypatch.context() as m:  # count the writes of one successful run
        counter = [0]
        real = getattr(os, call)
        m.setattr(os, call, lambda *a, **k: (counter.__setitem__(0, counter[0] + 1), real(*a, **k))[1])
        probe.run(step, config={"x": 0}, outputs=["df", "summary"])
    # Every write of a run, or every rename (the run record is appended to a journal: no rename).
    assert counter[0] >= (4 if call == "write" else 2)

    for nth in range(1, counter[0] + 1):
        tracker = Tracker(run_dir=tmp_path / f"{call}{nth}")
        calls.clear()
        with monkeypatch.context() as m:
            _disk_full_at(m, call, nth)
            with pytest.raises(OSError, match="No space left on device") as info:
                tracker.run(step, config={"x": 1}, outputs=["df", "summary"])
        assert info.value.filename, f"the error names no file (fault at {call} #{nth})"
        assert _entries(tracker) == [], f"a cache entry survived a failed run (fault at {call} #{nth})"
        assert "completed" not in _statuses(tracker).values()
        assert _temps(tmp_path / f"{call}{nth}") == []
        first = tracker.run(step, config={"x": 1}, outputs=["df", "summary"])
        again = tracker.run(step, config={"x": 1}, outputs=["df", "summary"])
        assert (first.cache_hit, again.cache_hit, len(calls)) == (False, True, 2)


def test_failed_run_record_that_cannot_be_written_does_not_hide_the_step_error(tmp_path, monkeypatch):
    """When the disk is full the step's own error still propagates, with a note that its failure was not recorded."""
    tracker = Tracker(run_dir=tmp_path / "runs")

    def step():
        _disk_full_at(monkeypatch, "write", 1)
        raise ValueError("model diverged")

    with pytest.raises(ValueError, match="model diverged") as info:
        tracker.run(step)
    monkeypatch.undo()
    assert any("could not record the failed run" in note for note in getattr(info.value, "__notes__", []))
    assert _entries(tracker) == []


def test_unicode_output_key_is_limited_in_bytes_before_the_step_runs(tracker):
    """An output key too long for a file name in UTF-8 is refused by byte length before the step runs."""
    calls: list[int] = []

    def step():
        calls.append(1)
        return pl.DataFrame({"a": [1]})

    with pytest.raises(UnsafeKeyError, match="300 bytes long in UTF-8"):
        tracker.run(step, outputs=["数" * 100])
    assert calls == []
    ok = tracker.run(step, outputs=["数" * 66])
    assert tracker.run(step, outputs=["数" * 66]).cache_hit and not ok.cache_hit and len(calls) == 1


def test_long_unicode_step_name_still_runs_and_hits(tracker):
    """A step named with 200 CJK characters gets a run folder and a default output key that fit in file names."""
    calls: list[int] = []

    def step():
        calls.append(1)
        return pl.DataFrame({"a": [1]})

    first = tracker.run(step, name="模" * 200)
    second = tracker.run(step, name="模" * 200)
    assert (first.cache_hit, second.cache_hit, len(calls)) == (False, True, 1)
    (key,) = first.outputs
    assert len(key.encode()) <= 200 and first.outputs[key].path.exists()


def test_run_dir_that_is_a_file_is_refused_by_name(tmp_path):
    """A run_dir pointing at an existing file is refused with a message naming it, not a bare FileExistsError."""
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(ConfigError, match="notes.txt is a file; give a folder"):
        Tracker(run_dir=target)
    assert target.read_text() == "mine"
