"""The quickstart notebook runs top to bottom in a real kernel, from an empty folder."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[3] / "notebooks"


def outputs(cell) -> list[dict]:
    return [dict(o) for o in cell.get("outputs", [])]


def html_of(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in outputs(cell))


@pytest.mark.slow
def test_quickstart_executes_and_renders(tmp_path: Path):
    """Every cell runs without error; results, scenarios and lineage render as HTML, and the plot is drawn."""
    source = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    code_cells = [c for c in source.cells if c.cell_type == "code"]
    # Stored clean: no outputs or counts, so a reader (and this test) starts from scratch.
    assert all(not c.outputs and c.execution_count is None for c in code_cells)
    client = nbclient.NotebookClient(
        source, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    cells = {i: c for i, c in enumerate(c for c in source.cells if c.cell_type == "code")}
    by_source = {c.source.split("\n")[0]: c for c in cells.values()}
    first_run = next(c for c in cells.values() if "result = consist.run(" in c.source)
    assert "RunResult" in html_of(first_run) and "executed" in html_of(first_run)
    scenario = next(c for c in cells.values() if 'consist.scenario("my_analysis")' in c.source)
    assert "Scenario my_analysis" in html_of(scenario) and "Coupler" in html_of(scenario)
    lineage = by_source['consist.lineage_graph(sc.coupler.require("analysis"), tracker=tracker)']
    assert "<svg" in html_of(lineage) and "preprocess" in html_of(lineage)
    plot = cells[max(cells)]
    kinds = {k for o in outputs(plot) for k in o.get("data", {})}
    assert "image/png" in kinds or "text/html" in kinds
    work = tmp_path / "quickstart-work"  # where docs/examples.md says the notebook writes
    assert (work / "runs" / ".consist").is_dir() and (work / "raw.csv").exists()
