"""Collecting old runs' files: what is deleted, what is protected, and that records stay."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import consist
from consist.cache.cleanup import collect
from consist.errors import ConfigError


def make() -> pl.DataFrame:
    return pl.DataFrame({"x": [1, 2, 3]})


def double(made: pl.DataFrame) -> pl.DataFrame:
    return made.with_columns(pl.col("x") * 2)


def test_a_kept_runs_inputs_are_protected(tracker):
    """Collecting an upstream run keeps the output a kept downstream run read."""
    up = tracker.run(fn=make, outputs=["made"])
    down = tracker.run(fn=double, inputs={"made": up.outputs["made"]}, outputs=["doubled"])
    report = collect(tracker, keep=[down.run.id])
    assert up.outputs["made"].path.exists() and report.protected > 0 and report.runs == []
    report = collect(tracker, older_than=float("inf"))
    assert not up.outputs["made"].path.exists() and not down.outputs["doubled"].path.exists()
    assert report.freed > 0 and tracker.get_run(up.run.id).outputs[0].key == "made"


def test_files_outside_the_run_folder_are_left_alone(tracker, tmp_path: Path):
    """An output logged from outside the run folder is counted but never deleted."""
    outside = tmp_path / "mine.txt"
    outside.write_text("keep me")

    def log_it(_consist_ctx) -> None:
        _consist_ctx.log_output(outside, key="mine")

    tracker.run(fn=log_it, inject_context=True)
    report = collect(tracker, older_than=float("inf"))
    assert outside.exists() and report.outside == 1


def test_keep_scenarios_and_dry_runs(tracker):
    """Runs of a kept scenario survive; a dry run reports sizes and deletes nothing."""
    with consist.scenario("precious", tracker=tracker) as sc:
        kept = sc.run(fn=make, outputs=["made"])
    loose = tracker.run(fn=make, name="loose", config={"variant": 2}, outputs=["made"])
    dry = collect(tracker, keep_scenarios=["precious"], dry_run=True)
    assert [r.run_id for r in dry.runs] == [loose.run.id] and dry.freed > 0
    assert loose.outputs["made"].path.exists()
    real = collect(tracker, keep_scenarios=["precious"])
    assert real.freed == dry.freed and not loose.outputs["made"].path.exists()
    assert kept.outputs["made"].path.exists()
    assert "freed" in str(real) and "records are kept" in str(real)


def test_collect_needs_a_selection(tracker):
    """Without an age or a keep-list nothing is selected and the call is refused."""
    with pytest.raises(ConfigError, match="say which runs"):
        collect(tracker)
