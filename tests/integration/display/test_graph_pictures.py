"""Lineage and scenario pictures as a browser draws them (headless Chromium).

Each picture is put in a notebook-cell-wide page; a script in the page measures the
drawn SVG (its size and scale) and walks every edge's path, point by point, checking
that it never crosses a box other than the two it joins and that it ends on its box.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import Tracker, use_tracker
from consist.display.graph_layout import CELL_WIDTH, MIN_SCALE

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (.ci/run installs it with apt-get)")
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pipeline.py"

CHECK = """
<script>
window.addEventListener('load', () => {
  const svg = document.querySelector('svg');
  const box = svg.getBoundingClientRect();
  const scale = box.width / svg.viewBox.baseVal.width;
  const rects = [...svg.querySelectorAll('rect[data-node]')].map(e => ({
    id: e.dataset.node, x: +e.getAttribute('x'), y: +e.getAttribute('y'),
    w: +e.getAttribute('width'), h: +e.getAttribute('height')}));
  const byId = Object.fromEntries(rects.map(r => [r.id, r]));
  const inside = (p, r, m) => p.x > r.x - m && p.x < r.x + r.w + m && p.y > r.y - m && p.y < r.y + r.h + m;
  const crossings = [], loose = [], mids = [];
  let edges = 0;
  for (const path of svg.querySelectorAll('path[data-edge]')) {
    edges += 1;
    const [src, dst] = path.dataset.edge.split('|');
    const length = path.getTotalLength();
    for (let s = 0; s <= length; s += 1.5) {
      const p = path.getPointAtLength(s);
      for (const r of rects) {
        if (r.id !== src && r.id !== dst && inside(p, r, 2)) crossings.push(`${src} -> ${dst} crosses ${r.id}`);
      }
    }
    const start = path.getPointAtLength(0), end = path.getPointAtLength(length);
    if (!inside(start, byId[src], 1) || !inside(end, byId[dst], 1)) loose.push(`${src} -> ${dst}`);
    const mid = path.getPointAtLength(length / 2);
    mids.push([Math.round(mid.x), Math.round(mid.y)].join(','));
  }
  const wrapper = svg.parentElement;
  const result = {width: box.width, height: box.height, scale, edges, boxes: rects.length,
                  crossings: [...new Set(crossings)], loose, distinct: new Set(mids).size,
                  scrolls: wrapper.scrollWidth > wrapper.clientWidth + 1};
  document.body.insertAdjacentHTML('beforeend', '<pre id="consist-result">' + JSON.stringify(result) + '</pre>');
});
</script>
"""


def measure(block: str, folder: Path) -> dict:
    """Draw ``block`` (a graph's notebook HTML) in a cell-wide page and return the page's measurements."""
    page = folder / "picture.html"
    page.write_text(
        f"<!doctype html><html><body style='margin:0'><div style='width:{CELL_WIDTH}px'>{block}</div>{CHECK}</body></html>",
        encoding="utf-8",
    )
    out = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    found = re.findall(r'<pre id="consist-result">(\{.*?)</pre>', out, re.S)
    assert found, out[-2000:]
    return json.loads(html.unescape(found[-1]))


def assert_trustworthy(picture: dict, edges: int) -> None:
    assert picture["edges"] == edges and picture["distinct"] == edges  # every edge drawn, each its own line
    assert picture["crossings"] == [] and picture["loose"] == []
    # Fits the cell, or keeps readable text and scrolls sideways.
    if picture["scrolls"]:
        assert picture["scale"] == pytest.approx(1.0)
    else:
        assert picture["width"] <= CELL_WIDTH + 0.5 and picture["scale"] >= MIN_SCALE - 1e-6


def step(*frames: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(frames, how="horizontal") if len(frames) > 1 else frames[0]


def test_a_diamond_with_a_long_edge_draws_every_edge_clear_of_the_boxes(tmp_path: Path):
    """raw feeds the first and the last step: that edge crosses two ranks and must go around their boxes."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    raw = tmp_path / "raw.csv"
    raw.write_text("k,v\n1,2\n")

    def left(raw: pl.DataFrame) -> pl.DataFrame:
        return raw.rename({"v": "l"})

    def right(raw: pl.DataFrame) -> pl.DataFrame:
        return raw.rename({"v": "r"})

    def join(x: pl.DataFrame, y: pl.DataFrame) -> pl.DataFrame:
        return x.join(y, on="k")

    def report(joined: pl.DataFrame, raw: pl.DataFrame) -> pl.DataFrame:
        return joined.join(raw, on="k")

    with use_tracker(tracker), consist.scenario("diamond") as sc:
        sc.run(fn=left, inputs={"raw": raw}, outputs=["x"])
        sc.run(fn=right, inputs={"raw": raw}, outputs=["y"])
        sc.run(fn=join, inputs=["x", "y"], load_inputs=True, outputs=["joined"])
        out = sc.run(fn=report, inputs={"joined": sc.coupler.require("joined"), "raw": raw}, outputs=["report"])
    lineage = consist.lineage_graph(out.outputs["report"], tracker=tracker)
    assert_trustworthy(measure(lineage._repr_html_(), tmp_path), len(lineage.edges))
    whole = sc.graph()
    assert len(whole.edges) == 10 and {n.title for n in whole.nodes} >= {"left", "right", "join", "report", "raw"}
    assert_trustworthy(measure(whole._repr_html_(), tmp_path), len(whole.edges))


def test_a_seven_step_chain_stays_readable_in_a_cell(tmp_path: Path):
    """A long chain (15 boxes) is laid out to fit the cell at a readable scale, not shrunk to a sliver."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")

    def first() -> pl.DataFrame:
        return pl.DataFrame({"a": [1]})

    def more(previous: pl.DataFrame) -> pl.DataFrame:
        return previous.with_columns(pl.col("a") + 1)

    result = tracker.run(first, outputs=["s0"])
    for i in range(1, 7):
        result = tracker.run(more, name=f"step_{i}", inputs={"previous": result.outputs[f"s{i - 1}"]}, outputs=[f"s{i}"])
    graph = consist.lineage_graph(result.outputs["s6"], tracker=tracker)
    picture = measure(graph._repr_html_(), tmp_path)
    assert picture["boxes"] == 14 and not picture["scrolls"]
    assert_trustworthy(picture, len(graph.edges))


def test_the_example_pipelines_whole_scenario(tmp_path: Path):
    """Every step and artifact of one scenario of the example pipeline, drawn without a hidden edge."""
    subprocess.run([sys.executable, str(EXAMPLE), "--work", str(tmp_path / "demo")], check=True, capture_output=True)
    tracker = Tracker(run_dir=tmp_path / "demo" / "runs", db_path=tmp_path / "demo" / "provenance.duckdb")
    graph = consist.scenario_graph("growth_0.02", tracker=tracker)
    assert len(graph.runs) == 7 and repr(graph) == "ScenarioGraph('growth_0.02', 7 runs, 8 artifacts)"
    assert graph.mermaid().startswith("flowchart LR") and graph.mermaid().count("-->") == len(graph.edges)
    assert "trip_generation 2040" in graph.text()
    assert_trustworthy(measure(graph._repr_html_(), tmp_path), len(graph.edges))


def test_the_check_notices_an_edge_hidden_under_a_box(tmp_path: Path):
    """The measuring script itself: a straight edge drawn under a middle box is reported."""
    drawn = (
        "<div><svg xmlns='http://www.w3.org/2000/svg' width='400' height='60' viewBox='0 0 400 60'>"
        "<rect x='0' y='10' width='80' height='40' data-node='a'/><rect x='160' y='10' width='80' height='40' data-node='b'/>"
        "<rect x='320' y='10' width='80' height='40' data-node='c'/>"
        "<path data-edge='a|c' d='M80,30 L320,30' stroke='#666'/></svg></div>"
    )
    picture = measure(drawn, tmp_path)
    assert picture["crossings"] == ["a -> c crosses b"] and picture["edges"] == 1
