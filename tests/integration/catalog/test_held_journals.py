"""Compaction reads a journal it found wholly folded once, not again while it waits out the grace period.

A process that records quickly seals a journal at every compaction of its own; each of
those waits a minute before it may be deleted. These tests check that later compactions
do not read them again (which made a long loop of cache hits cost more per hit the
longer it ran), that every run is still listed exactly once, and that the journals are
deleted once the grace period is over.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from consist import Tracker
from consist.catalog import compaction, journal_index
from tests.helpers.journal_steps import log, step  # noqa: F401 - log is a fixture
from tests.helpers.journals import fresh_ids


@pytest.fixture
def journal_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every journal a compaction reads (the real reader, counted)."""
    seen: list[Path] = []
    real = journal_index.read_journal

    def counted(path, **kwargs):
        seen.append(path)
        return real(path, **kwargs)

    monkeypatch.setattr(compaction.journal_index, "read_journal", counted)
    return seen


def _rounds(tracker: Tracker, rounds: int, journal_reads: list[Path]) -> list[int]:
    """Record 20 runs (half of them hits) and compact, ``rounds`` times; the journals each compaction read."""
    read_per_round = []
    for r in range(rounds):
        for n in range(20):
            tracker.run(step, name="step", config={"i": (r * 20 + n) // 2}, outputs=["o"])
        before = len(journal_reads)
        tracker.compact()
        read_per_round.append(len(journal_reads) - before)
    return read_per_round


def test_journals_waiting_out_the_grace_period_are_read_once(tmp_path, log, journal_reads):
    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.records.auto_compact = False
    reads = _rounds(tracker, 8, journal_reads)
    assert max(reads) <= 2, reads  # the journal sealed by this compaction (and none of the waiting ones)
    ids = Counter(r.id for r in Tracker(run_dir=tmp_path / "runs").find_runs(status=None))
    assert sum(ids.values()) == 160 and max(ids.values()) == 1
    assert len(log.read_text().split()) == 80  # every second run was a hit


def test_waiting_journals_are_deleted_once_the_grace_period_is_over(tmp_path, log, journal_reads, monkeypatch):
    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.records.auto_compact = False
    _rounds(tracker, 4, journal_reads)
    assert len(fresh_ids(tracker.layout.fresh)) >= 60  # folded, still waiting
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    tracker.compact()
    assert fresh_ids(tracker.layout.fresh) == []
    ids = Counter(r.id for r in Tracker(run_dir=tmp_path / "runs").find_runs(status=None))
    assert sum(ids.values()) == 80 and max(ids.values()) == 1
    again = tracker.run(step, name="step", config={"i": 3}, outputs=["o"])
    assert again.cache_hit and len(log.read_text().split()) == 40


def test_a_waiting_journal_whose_segment_is_gone_is_folded_again(tmp_path, log, journal_reads):
    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.records.auto_compact = False
    _rounds(tracker, 2, journal_reads)
    expected = Counter(r.id for r in tracker.find_runs(status=None))
    segments = tracker.layout.segments
    for path in segments.iterdir():  # every segment lost (a bad restore): the journals still hold the runs
        path.unlink()
    tracker.compact()
    tracker.compact()
    assert Counter(r.id for r in Tracker(run_dir=tmp_path / "runs").find_runs(status=None)) == expected
