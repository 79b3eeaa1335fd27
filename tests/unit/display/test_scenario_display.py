"""Scenarios in notebooks and terminals: an HTML table of their steps, and a step bar for long ones."""

from __future__ import annotations

import io

import polars as pl

import consist
from consist.display.progress import StepProgress
from consist.workflow.scenario import expected_steps


def make() -> pl.DataFrame:
    return pl.DataFrame({"x": [1, 2]})


def double(made: pl.DataFrame) -> pl.DataFrame:
    return made.with_columns(pl.col("x") * 2)


def test_scenario_renders_its_steps_and_coupler(tracker):
    """A scenario's HTML names it, lists each step with its outcome, and the coupler's artifacts."""
    with consist.scenario("base", tracker=tracker) as sc:
        sc.run(fn=make, outputs=["made"])
        sc.run(fn=double, inputs=["made"], load_inputs=True, outputs=["doubled"])
        during = sc._repr_html_()
    html = sc._repr_html_()
    assert "Scenario base" in during and "running" in during
    assert "completed" in html and html.count("<tr>") >= 2 + 2 + 3
    assert "make" in html and "double" in html and "doubled" in html and "Coupler" in html


def test_step_bar_appears_only_after_the_delay(tracker):
    """A scenario shorter than the delay prints nothing; a long one shows steps done and a rate."""
    quiet = io.StringIO()
    bar = StepProgress("base", expected=lambda: expected_steps(tracker.records, "base"), delay=60.0, stream=quiet)
    bar.enabled = True
    bar.step()
    bar.close()
    assert quiet.getvalue() == ""
    shown = io.StringIO()
    bar = StepProgress("base", expected=lambda: expected_steps(tracker.records, "base"), delay=0.0, stream=shown)
    bar.enabled = True
    for _ in range(3):
        bar.step()
    bar.close()
    text = shown.getvalue()
    assert "scenario base" in text and "3 steps" in text and "steps/s" in text and text.endswith("\n")


def test_step_bar_total_comes_from_the_scenarios_first_run(tracker):
    """A re-run scenario's bar counts against the number of steps its first run had."""
    with consist.scenario("base", tracker=tracker) as sc:
        sc.run(fn=make, outputs=["made"])
        sc.run(fn=double, inputs=["made"], load_inputs=True, outputs=["doubled"])
    out = io.StringIO()
    bar = StepProgress("base", expected=lambda: expected_steps(tracker.records, "base"), delay=0.0, stream=out)
    bar.enabled = True
    bar.step()
    assert "1 / 2 steps" in bar.bar.text()
    bar.step()
    bar.step()  # one more than last time: counted without a total
    assert "3 steps" in bar.bar.text() and "/ 2" not in bar.bar.text()


def test_scenarios_stay_quiet_when_progress_is_off(tracker, capsys):
    """With progress switched off, a scenario prints nothing to the terminal."""
    tracker.progress = False
    with consist.scenario("base", tracker=tracker) as sc:
        sc.run(fn=make, outputs=["made"])
    assert capsys.readouterr().err == ""
