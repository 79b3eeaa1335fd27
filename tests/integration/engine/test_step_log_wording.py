"""The step log's miss line reads as a sentence whichever form the miss reason takes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from consist import Tracker


def step(n: int) -> None:
    return None


def test_a_changed_config_reads_as_a_cache_miss_against_the_earlier_run(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb", progress=False)
    with caplog.at_level(logging.INFO, logger="consist"):
        first = tracker.run(step, config={"n": 3})
        tracker.run(step, config={"n": 4})
    new, changed = (r.getMessage() for r in caplog.records if r.name.startswith("consist"))
    assert new.endswith("; cache miss: no earlier run of step 'step'")
    assert f"; cache miss: vs run {first.run_id}: config n changed (3 -> 4)" in changed
    assert "because vs" not in changed
