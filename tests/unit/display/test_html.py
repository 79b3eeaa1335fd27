"""Notebook display: runs, artifacts and results render as escaped HTML tables."""

from __future__ import annotations

import polars as pl

import consist
from consist.display.html import human_size


def test_result_run_and_artifact_render_html(tracker):
    """A RunResult, its Run and its Artifact each render a table naming what they hold."""

    def make_table() -> pl.DataFrame:
        return pl.DataFrame({"a": [1, 2, 3]})

    result = tracker.run(fn=make_table, outputs=["persons"], config={"alpha": 0.5})
    html_result = result._repr_html_()
    assert "persons" in html_result and "executed" in html_result
    html_run = result.run._repr_html_()
    assert result.run.id in html_run and "alpha" in html_run and "Outputs" in html_run
    html_art = result.outputs["persons"]._repr_html_()
    assert result.outputs["persons"].hash in html_art and "parquet" in html_art


def test_values_are_escaped(tracker):
    """Metadata that looks like markup is escaped, never injected."""

    def step(_consist_ctx) -> None:
        out = _consist_ctx.run_dir / "a.txt"
        out.write_text("x")
        consist.log_artifact(out, key="a", note="<script>alert(1)</script>")

    result = tracker.run(fn=step, inject_context=True)
    html = result.outputs["a"]._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_human_sizes():
    """Sizes read in binary units."""
    assert human_size(512) == "512 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(3 * 2**30) == "3.0 GiB"
