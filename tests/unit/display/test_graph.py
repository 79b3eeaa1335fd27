"""Lineage graphs: an artifact's producers and inputs drawn as SVG, Mermaid and a text tree."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import LineageGraph, use_tracker


@pytest.fixture
def diamond(tracker, tmp_path: Path):
    """Two raw files feed two steps whose outputs a third step joins."""
    (tmp_path / "a.csv").write_text("k,v\n1,2\n")
    (tmp_path / "b.csv").write_text("k,w\n1,3\n")

    def left(a: pl.DataFrame) -> pl.DataFrame:
        return a

    def right(b: pl.DataFrame) -> pl.DataFrame:
        return b

    def join(x: pl.DataFrame, y: pl.DataFrame) -> pl.DataFrame:
        return x.join(y, on="k")

    x = tracker.run(fn=left, inputs={"a": tmp_path / "a.csv"}, outputs=["x"])
    y = tracker.run(fn=right, inputs={"b": tmp_path / "b.csv"}, outputs=["y"])
    z = tracker.run(fn=join, name="<join>", inputs={"x": x.outputs["x"], "y": y.outputs["y"]}, outputs=["z"])
    return z


def test_graph_has_every_run_and_artifact_once(tracker, diamond):
    """The graph of a join holds its three runs and five artifacts, edges pointing downstream."""
    graph = consist.lineage_graph(diamond.outputs["z"], tracker=tracker)
    kinds = sorted(n.kind for n in graph.nodes)
    assert kinds == ["artifact", "artifact", "artifact", "raw", "raw", "run", "run", "run"]
    assert len(graph.edges) == 7
    assert repr(graph) == "LineageGraph('z', 3 runs, 5 artifacts)"


def test_svg_draws_inputs_left_of_outputs_and_escapes_labels(tracker, diamond):
    """In the SVG raw inputs sit left of the artifact, and markup in names is escaped."""
    html = consist.lineage_graph(diamond.outputs["z"], tracker=tracker)._repr_html_()
    assert "<svg" in html and "&lt;join&gt;" in html and "<join>" not in html
    xs = {m.group(2): float(m.group(1)) for m in re.finditer(r'<rect x="(\d+)"[^>]*/><text[^>]*>([^<]+)</text>', html)}
    assert xs["a"] < xs["x"] < xs["&lt;join&gt;"] < xs["z"]


def test_mermaid_and_text(tracker, diamond):
    """Mermaid text is a left-to-right flowchart; the text tree ends in the raw inputs."""
    graph = consist.lineage_graph(diamond.outputs["z"], tracker=tracker)
    mermaid = graph.mermaid()
    assert mermaid.startswith("flowchart LR") and mermaid.count("-->") == 7 and "&lt;join&gt;" in mermaid
    assert graph._repr_markdown_().startswith("```mermaid\nflowchart LR")
    text = str(graph)
    assert text.splitlines()[0].startswith("z ") and "made by <join>" in text
    assert text.count("(raw input)") == 2


def test_graph_from_a_lineage_or_the_current_tracker(tracker, diamond):
    """lineage_graph takes a Lineage as it is, or finds the current tracker for an artifact."""
    lineage = tracker.lineage(diamond.outputs["z"])
    assert isinstance(consist.lineage_graph(lineage), LineageGraph)
    with use_tracker(tracker):
        graph = consist.lineage_graph(diamond.outputs["z"].id, max_depth=1)
    # One hop: the producers of z's inputs are named, their own inputs are not followed.
    assert sorted(n.kind for n in graph.nodes) == ["artifact", "artifact", "artifact", "run", "run", "run"]
