"""A new signature's cache entry is written in place: half written, it is no entry; never a wrong hit.

Executions are counted in a file each execution appends to.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from consist import Tracker
from tests.helpers.journal_steps import executions, log, step  # noqa: F401 - log is a fixture


def entry_files(tracker: Tracker) -> list[Path]:
    return [p for p in tracker.layout.index.rglob("*") if p.is_file()]


def test_a_half_written_entry_is_a_silent_miss_while_new_and_a_reported_one_later(tmp_path, log, caplog):
    """A reader meeting an entry mid-write runs the step; an old torn entry is reported by name; the re-run rewrites it."""
    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.run(step, name="step", config={"i": 1}, outputs=["o"])
    (entry,) = entry_files(tracker)
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2])  # what a reader sees while the writer's one write is under way
    other = Tracker(run_dir=tmp_path / "runs")
    with caplog.at_level(logging.WARNING, logger="consist.cache"):
        assert not other.run(step, name="step", config={"i": 1}, outputs=["o"]).cache_hit
    assert caplog.text == "" and executions(log) == [1, 1]
    assert other.run(step, name="step", config={"i": 1}, outputs=["o"]).cache_hit  # rewritten whole
    entry.write_bytes(whole[: len(whole) // 2])
    past = time.time() - 60
    os.utime(entry, (past, past))  # torn long ago: a writer killed mid-write, not one writing now
    with caplog.at_level(logging.WARNING, logger="consist.cache"):
        assert not Tracker(run_dir=tmp_path / "runs").run(step, name="step", config={"i": 1}, outputs=["o"]).cache_hit
    assert str(entry) in caplog.text and executions(log) == [1, 1, 1]


def test_a_new_signature_creates_its_entry_without_a_temporary_file_or_rename(tmp_path, log, monkeypatch):
    """One create and one write for a new entry; an existing entry is still replaced atomically."""
    renames: list[str] = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b, **k: (renames.append(os.fspath(b)), real(a, b, **k))[1])
    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.run(step, name="step", config={"i": 1}, outputs=["o"])
    (entry,) = entry_files(tracker)
    assert str(entry) not in renames
    tracker.run(step, name="step", config={"i": 1}, outputs=["o"], cache_mode="overwrite")
    assert renames.count(str(entry)) == 1 and executions(log) == [1, 1]
    assert tracker.run(step, name="step", config={"i": 1}, outputs=["o"]).cache_hit
    assert list(tracker.layout.index.rglob("*.tmp")) == []
