"""The quickstart notebook, "Restart & Run All" twice in the same folder, in a real kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "quickstart.ipynb"


def run_all(folder: Path):
    """One "Restart & Run All": a new kernel, every cell from the top; raises naming a failing cell."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return [c for c in notebook.cells if c.cell_type == "code"]


def html(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", []))


@pytest.mark.slow
def test_quickstart_runs_twice_in_one_folder_and_the_second_pass_is_all_hits(tmp_path: Path):
    """The second pass runs without error, its first step is a cache hit, and it writes only under quickstart-work/."""
    first = run_all(tmp_path)
    first_step = next(c for c in first if "result = consist.run(" in c.source)
    assert "executed" in html(first_step)
    second = run_all(tmp_path)
    again = next(c for c in second if "result = consist.run(" in c.source)
    assert "cache hit" in html(again) and "executed" not in html(again)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quickstart-work"]
    # The same runs were reused: one executed run folder per step, not two.
    runs = tmp_path / "quickstart-work" / "runs"
    assert len([p for p in runs.iterdir() if p.name.startswith("clean_data")]) == 1
