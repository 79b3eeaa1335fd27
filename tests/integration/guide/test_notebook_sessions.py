"""How researchers use consist in Jupyter, in a real kernel: re-run cells, edit them, restart, interrupt."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

SETUP = """
import json, time
import consist, pandas as pd
from pathlib import Path
from consist import Tracker, use_tracker
Path("raw.csv").write_text("value,category\\n0.2,a\\n0.7,b\\n0.9,a\\n")
tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
calls, hits = [], []
THRESHOLD = 0.5
"""
DEFINE = """
# the cell that defines the step
def clean(raw: pd.DataFrame) -> pd.DataFrame:
    calls.append("clean")
    return raw[raw["value"] > THRESHOLD]
"""
RUN = """
with consist.use_tracker(tracker):
    result = consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
hits.append(result.cache_hit)
"""
REPORT = 'print(json.dumps({"calls": len(calls), "hits": hits, "reason": result.run.miss_reason}))'


def _execute(tmp_path: Path, cells: list[str]):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    return notebook.cells


def _report(cell) -> dict:
    return json.loads("".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout"))


def _html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def test_rerun_edit_comment_and_global_cells(tmp_path: Path):
    """Re-running a cell hits, editing the body or a global constant misses, a comment outside it hits; results render."""
    edited = DEFINE.replace('calls.append("clean")', 'calls.append("clean")  # v2\n    raw = raw.copy()')
    commented = edited.replace("# the cell that defines the step", "# a new comment, outside the function")
    cells = _execute(
        tmp_path,
        [SETUP, DEFINE, RUN, RUN, edited, RUN, commented, RUN, "THRESHOLD = 0.8", RUN, REPORT,
         "result", "tracker.find_runs(name='clean')", "tracker.lineage(result.outputs['cleaned'])"],
    )
    report = _report(cells[10])
    assert report["hits"] == [False, True, False, True, False] and report["calls"] == 3
    assert "global THRESHOLD 0.5 -> 0.8" in report["reason"]
    assert "RunResult" in _html(cells[11]) and "clean" in _html(cells[12]) and "raw" in _html(cells[13])
    assert not [o for c in cells for o in c.outputs if o.get("name") == "stderr"]


def test_restarted_kernel_hits_every_step(tmp_path: Path):
    """The same cells run again in a new kernel process execute nothing."""
    _execute(tmp_path, [SETUP, DEFINE, RUN])
    cells = _execute(tmp_path, [SETUP, DEFINE, RUN, REPORT])
    assert _report(cells[3]) == {"calls": 0, "hits": [True], "reason": None}


def test_scenario_cells_render_and_progress_updates_one_output(tmp_path: Path):
    """A scenario of sc.run and sc.trace steps renders as HTML; its progress bar is one output updated in place."""
    scenario = """
def simulate(cleaned: pd.DataFrame, year: int) -> pd.DataFrame:
    calls.append(year)
    time.sleep(0.25)
    return cleaned.assign(year=year)

with use_tracker(tracker), consist.scenario("demo") as sc:
    sc.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
    for year in range(2020, 2030):
        hits.append(sc.run(name="simulate", fn=simulate, inputs=["cleaned"], load_inputs=True,
                           config={"year": year}, year=year, outputs=["sim"]).cache_hit)
    with sc.trace(name="report", inputs=["sim"]):
        Path("report.txt").write_text("ok")
        consist.log_artifact(Path("report.txt"), key="report")
"""
    cells = _execute(tmp_path, [SETUP, DEFINE, scenario, "sc", scenario, "sc", "print(len(calls), hits)"])
    assert "".join(cells[6].outputs[0]["text"]).strip() == f"11 {[False] * 10 + [True] * 10}"
    assert "Scenario demo" in _html(cells[3]) and "simulate" in _html(cells[5])
    bars = [o for o in cells[2].outputs if "<progress" in o.get("data", {}).get("text/html", "")]
    assert len(bars) == 1 and "steps" in _html(cells[2])
    assert not [o for c in cells for o in c.outputs if o.get("name") == "stderr"]


def test_interrupted_step_leaves_no_cache_entry(tmp_path: Path):
    """Interrupting the kernel during a long step records a failed run, and the next run executes it again."""
    manager_module = pytest.importorskip("jupyter_client.manager")
    manager, client = manager_module.start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:

        def execute(code: str, interrupt_after: float | None = None) -> str:
            msg_id = client.execute(code)
            if interrupt_after is not None:
                time.sleep(interrupt_after)
                manager.interrupt_kernel()
            out = []
            while True:
                msg = client.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    out.append(msg["content"]["ename"])
                elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    return "".join(out)

        execute(SETUP + DEFINE.replace('calls.append("clean")', 'calls.append("clean"); time.sleep(float(Path("wait").read_text()))'))
        (tmp_path / "wait").write_text("30")
        assert "KeyboardInterrupt" in execute(RUN, interrupt_after=2.0)
        (tmp_path / "wait").write_text("0")
        execute(RUN)
        out = execute("print([r.status for r in tracker.find_runs(name='clean', status=None)], len(calls), hits)")
        assert out.strip() == "['failed', 'completed'] 2 [False]"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
