"""tracker.recover re-runs a step whose function cannot be imported again (defined inside
another function, or in a notebook cell) while the process still holds that function.

Executions are counted by a file each execution appends to.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import polars as pl
import pytest

from consist import Tracker
from consist.errors import RecoveryError


def _executions(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_nested_function_still_held_is_re_executed(tmp_path: Path):
    """A closure made by a factory and still alive regenerates its deleted output, bytes checked."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb")
    log = tmp_path / "executions.log"

    def make(scale: int):
        def scaled(n: int) -> pl.DataFrame:
            with open(log, "a") as f:
                f.write("ran\n")
            return pl.DataFrame({"x": [n * scale]})

        return scaled

    step = make(3)
    out = tracker.run(step, config={"n": 2}, outputs=["x"]).outputs["x"]
    original = out.path.read_bytes()
    out.path.unlink()
    other = make(5)  # same code, another closure value: a different identity, not used
    tracker.run(other, config={"n": 2}, outputs=["x"])
    assert _executions(log) == 2

    recovery = tracker.recover(out)
    assert _executions(log) == 3 and out.path.read_bytes() == original
    assert [r.name for r in recovery.executed] == ["scaled"]


def test_nested_function_that_is_gone_is_refused_clearly(tmp_path: Path):
    """Once the process no longer holds the function, recovery says why and how to fix it."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "p.duckdb")

    def produce():
        def local_step() -> pl.DataFrame:
            return pl.DataFrame({"x": [1]})

        return tracker.run(local_step, outputs=["a"]).outputs["a"]

    out = produce()
    gc.collect()
    out.path.unlink()
    with pytest.raises(RecoveryError, match="no longer holds it; define the function at module level"):
        tracker.recover(out)
    assert not out.path.exists()


def test_notebook_cell_function_is_recovered_in_its_kernel(tmp_path: Path):
    """In a Jupyter kernel, a step a cell built inside a function regenerates its deleted output."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    root = Path(__file__).resolve().parents[3]
    cells = [
        f"import sys\nsys.path.insert(0, {str(root)!r})\nimport json, polars as pl\nfrom consist import Tracker\n"
        'tracker = Tracker(run_dir="runs", db_path="p.duckdb")',
        "def build(scale: int):\n"
        '    def cell_step(n: int) -> pl.DataFrame:\n        open("executions.log", "a").write("ran\\n")\n'
        '        return pl.DataFrame({"x": [n * scale]})\n'
        "    return cell_step\n\ncell_step = build(2)",
        'out = tracker.run(cell_step, config={"n": 4}, outputs=["x"]).outputs["x"]\n'
        "original = out.path.read_bytes()\nout.path.unlink()",
        "recovery = tracker.recover(out)\n"
        'print(json.dumps({"same": out.path.read_bytes() == original, "executed": len(recovery.executed)}))',
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    printed = "".join(o.get("text", "") for o in notebook.cells[3].outputs if o.get("name") == "stdout")
    assert json.loads(printed) == {"same": True, "executed": 1}
    assert _executions(tmp_path / "executions.log") == 2


def test_process_holding_only_edited_code_is_refused(tmp_path: Path):
    """A fresh process whose module file was edited since the run cannot reproduce it, and says so."""
    import os
    import subprocess
    import sys
    import textwrap

    root = Path(__file__).resolve().parents[3]
    (tmp_path / "steps_mod.py").write_text("import polars as pl\n\ndef make(n: int):\n    return pl.DataFrame({'x': [n]})\n")
    script = textwrap.dedent("""
        import sys
        from consist import Tracker
        from consist.errors import RecoveryError
        import steps_mod
        tracker = Tracker(run_dir="runs", db_path="p.duckdb")
        if sys.argv[1] == "run":
            out = tracker.run(steps_mod.make, config={"n": 1}, outputs=["x"]).outputs["x"]
            out.path.unlink()
        else:
            out = tracker.get_artifacts_for_run(tracker.find_runs(name="make")[0]).outputs["x"]
            try:
                tracker.recover(out)
            except RecoveryError as exc:
                print(exc)
        """)
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{tmp_path}", "PYTHONDONTWRITEBYTECODE": "1"}

    def python(arg: str) -> str:
        done = subprocess.run([sys.executable, "-c", script, arg], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    python("run")
    (tmp_path / "steps_mod.py").write_text((tmp_path / "steps_mod.py").read_text().replace("[n]", "[n * 2]"))
    assert "whose code has changed" in python("recover")
