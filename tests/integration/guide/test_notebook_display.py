"""Results, scenarios, lineage and progress as they render in an executed notebook."""

from __future__ import annotations

from pathlib import Path

import pytest


NOTEBOOK = [
    """import os, time
import consist
import polars as pl
from pathlib import Path
tracker = consist.Tracker(run_dir="./runs", db_path="./provenance.duckdb")
calls = []
Path("raw.csv").write_text("a\\n1\\n2\\n")
def clean(raw: pl.DataFrame, k: int) -> pl.DataFrame:
    calls.append("clean")
    return raw.with_columns(b=pl.col("a") * k)
def slow(data: pl.DataFrame, i: int) -> pl.DataFrame:
    calls.append("slow")
    time.sleep(0.25)
    return data.with_columns(i=pl.lit(i))""",
    """result = tracker.run(fn=clean, inputs={"raw": Path("raw.csv")}, config={"k": 2}, outputs=["cleaned"])
result""",
    "result.run",
    'result.outputs["cleaned"]',
    """with consist.scenario("s<1>", tracker=tracker) as sc:
    for i in range(10):
        sc.run(f"slow{i}", fn=slow, inputs={"data": result.outputs["cleaned"]}, config={"i": i}, outputs=["x"])
sc""",
    """os.environ["CONSIST_PROGRESS"] = "0"
with consist.scenario("quiet", tracker=tracker) as quiet:
    for i in range(10):
        quiet.run(f"slow{i}", fn=slow, inputs={"data": result.outputs["cleaned"]}, config={"i": i + 10}, outputs=["x"])
quiet""",
    'tracker.lineage(sc.coupler.require("x"))',
    'tracker.get_artifacts_for_run(consist.find_run(tracker=tracker, name="slow9", parent_id="s<1>"))',
    'consist.run_query("SELECT name, status FROM runs ORDER BY ended_at", tracker=tracker)',
    'consist.find_runs(tracker=tracker, parent_id="s<1>", index_by="name")',
    "print(len(calls))",
]


@pytest.mark.slow
def test_results_scenarios_lineage_and_progress_render_in_a_real_notebook(tmp_path: Path):
    """In an executed notebook, runs, artifacts, results, scenarios, lineage, run artifacts and find_runs render as HTML; the step bar is escaped and full at the end, and CONSIST_PROGRESS=0 silences it."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK])
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    cells = notebook.cells

    def html(i: int, kind: str = "execute_result") -> list[str]:
        return [o["data"]["text/html"] for o in cells[i].outputs if o.output_type == kind and "text/html" in o["data"]]

    assert "RunResult" in html(1)[0] and "executed" in html(1)[0]
    assert "Run clean-" in html(2)[0] and "Config" in html(2)[0]
    assert "Artifact cleaned" in html(3)[0]
    assert "Scenario s&lt;1&gt;" in html(4)[0] and "slow9" in html(4)[0]
    bars = html(4, "display_data")
    assert len(bars) == 1 and "scenario s&lt;1&gt; 10 steps" in bars[0] and "value='1'" in bars[0]
    assert html(5, "display_data") == [] and "Scenario quiet" in html(5)[0]
    assert "<svg" in html(6)[0] and "slow9" in html(6)[0]
    assert "Outputs" in html(7)[0] and "x.parquet" in html(7)[0]
    assert "<table" in html(8)[0]
    assert "10 run(s)" in html(9)[0] and "slow9" in html(9)[0] and "<th>key</th>" in html(9)[0]
    assert cells[10].outputs[0]["text"].strip() == "21"
