"""Code identity describes the code that runs, not whatever text its file holds now.

Each scenario runs in separate Python processes sharing one tracker; every execution of
the step appends a line to a log file, so a cache hit is proven by counting executions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

STEP = """\
from pathlib import Path

def step(x):
    with open(Path(__file__).parent / "executions.log", "a") as log:
        log.write("ran\\n")
    return [x {op}]
"""

RUN = """
import json, sys, warnings
from pathlib import Path
import consist
from consist import Tracker
warnings.simplefilter("always")
tracker = Tracker(run_dir="runs", db_path="provenance.duckdb")
def report(result):
    value = json.loads(result.outputs["t"].path.read_text()) if result.outputs["t"].path.suffix == ".json" else consist.load(result.outputs["t"])
    print(json.dumps({"hit": result.cache_hit, "value": list(value)}))
"""


def _python(tmp_path: Path, code: str) -> tuple[dict, str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", RUN + textwrap.dedent(code)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def _executions(tmp_path: Path) -> int:
    log = tmp_path / "executions.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.parametrize("recipe", ["callable_source", "callable_module"])
def test_module_edited_after_import_is_identified_by_the_imported_code(tmp_path: Path, recipe: str):
    """A process holding the old module runs the old body; a fresh process with the new file misses."""
    (tmp_path / "mstep.py").write_text(STEP.format(op="+ 1"))
    stale, warned = _python(
        tmp_path,
        f"""
        import mstep
        Path = __import__("pathlib").Path
        Path("mstep.py").write_text(Path("mstep.py").read_text().replace("x + 1", "x * 100"))
        report(tracker.run(fn=mstep.step, config={{"x": 1}}, outputs=["t"], code_identity={recipe!r}))
        """,
    )
    assert stale == {"hit": False, "value": [2]} and _executions(tmp_path) == 1
    assert "`mstep.step`" in warned and "`mstep.py` changed on disk since it was imported" in warned

    fresh, warned = _python(
        tmp_path,
        f"""
        import mstep
        report(tracker.run(fn=mstep.step, config={{"x": 1}}, outputs=["t"], code_identity={recipe!r}))
        why = tracker.explain(fn=mstep.step, config={{"x": 2}}, outputs=["t"], code_identity={recipe!r})
        """,
    )
    assert fresh == {"hit": False, "value": [100]} and _executions(tmp_path) == 2
    assert "changed on disk" not in warned

    again, _ = _python(
        tmp_path,
        f"""
        import mstep
        report(tracker.run(fn=mstep.step, config={{"x": 1}}, outputs=["t"], code_identity={recipe!r}))
        """,
    )
    assert again == {"hit": True, "value": [100]} and _executions(tmp_path) == 2


def test_explain_shows_that_no_source_matched_the_stale_run(tmp_path: Path):
    """The snapshot kept for the stale run says no source text matches, rather than showing the new text."""
    (tmp_path / "mstep.py").write_text(STEP.format(op="+ 1"))
    _python(
        tmp_path,
        """
        import mstep
        Path = __import__("pathlib").Path
        Path("mstep.py").write_text(Path("mstep.py").read_text().replace("x + 1", "x * 100"))
        report(tracker.run(fn=mstep.step, config={"x": 1}, outputs=["t"]))
        """,
    )
    _, _ = _python(
        tmp_path,
        """
        import mstep
        why = tracker.explain(fn=mstep.step, config={"x": 1}, outputs=["t"])
        print(json.dumps(why.code.diff), file=sys.stderr)
        assert not why.would_hit and why.code is not None, why
        assert "No source text matches the code that ran" in why.code.diff, why.code.diff
        assert "-    return [x * 100]" not in why.code.diff, why.code.diff
        print(json.dumps({"hit": False, "value": []}))
        """,
    )


def test_code_compiled_under_another_files_name_is_not_confused(tmp_path: Path):
    """Two different bodies compiled under the name of an existing, unrelated file get different identities."""
    # Its step sits on the same line as the compiled one's: getsource finds a plausible function.
    (tmp_path / "other_file.py").write_text("import os\n\ndef step(x):\n    return ['unrelated']\n")
    compiled = """
        body = Path("body.py").read_text()
        namespace = {{"__name__": "__main__"}}
        exec(compile(body, {name!r}, "exec"), namespace)
        report(tracker.run(fn=namespace["step"], config={{"x": 1}}, outputs=["t"]))
        """.format(name=str(tmp_path / "other_file.py"))
    (tmp_path / "body.py").write_text(STEP.format(op="+ 1").replace("Path(__file__).parent / ", ""))
    first, warned = _python(tmp_path, compiled)
    assert first == {"hit": False, "value": [2]} and _executions(tmp_path) == 1
    assert "`__main__.step`" in warned and "other_file.py" in warned

    (tmp_path / "body.py").write_text(STEP.format(op="* 100").replace("Path(__file__).parent / ", ""))
    second, _ = _python(tmp_path, compiled)
    assert second == {"hit": False, "value": [100]} and _executions(tmp_path) == 2

    third, _ = _python(tmp_path, compiled)
    assert third == {"hit": True, "value": [100]} and _executions(tmp_path) == 2


def test_notebook_kernel_holding_an_edited_module(tmp_path: Path):
    """A Jupyter kernel that imported a module before it was saved anew runs and records the old code."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    (tmp_path / "mstep.py").write_text(STEP.format(op="+ 1"))
    cells = [
        f"import sys, importlib\nsys.path[:0] = [{str(ROOT)!r}, {str(tmp_path)!r}]\n" + RUN + "import mstep",
        'Path("mstep.py").write_text(Path("mstep.py").read_text().replace("x + 1", "x * 100"))',
        'report(tracker.run(fn=mstep.step, config={"x": 1}, outputs=["t"]))',
        'importlib.reload(mstep)\nreport(tracker.run(fn=mstep.step, config={"x": 1}, outputs=["t"]))',
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    def stdout(cell) -> dict:
        return json.loads("".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout"))

    def stderr(cell) -> str:
        return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")

    assert stdout(notebook.cells[2]) == {"hit": False, "value": [2]}
    assert "`mstep.step`: the source of `mstep.py` changed on disk since it was imported" in stderr(notebook.cells[2])
    assert stdout(notebook.cells[3]) == {"hit": False, "value": [100]} and _executions(tmp_path) == 2
    assert "changed on disk" not in stderr(notebook.cells[3])

    fresh, _ = _python(tmp_path, """
        import mstep
        report(tracker.run(fn=mstep.step, config={"x": 1}, outputs=["t"]))
        """)
    assert fresh == {"hit": True, "value": [100]} and _executions(tmp_path) == 2


def test_module_constant_edited_after_import_is_not_lent_to_the_old_module(tmp_path: Path):
    """Under callable_module, a helper's constant edited on disk after import does not give the old code the new hash."""
    (tmp_path / "mstep.py").write_text(
        STEP.format(op="+ helper()").replace("from pathlib import Path\n", "from pathlib import Path\n\nOFFSET = 1\n")
        + "\n\ndef helper():\n    return OFFSET\n"
    )
    run = """
        import mstep
        {edit}
        report(tracker.run(fn=mstep.step, config={{"x": 1}}, outputs=["t"], code_identity="callable_module"))
        """
    edit = 'Path = __import__("pathlib").Path\n        Path("mstep.py").write_text(Path("mstep.py").read_text().replace("OFFSET = 1", "OFFSET = 99"))'
    stale, warned = _python(tmp_path, run.format(edit=edit))
    assert stale == {"hit": False, "value": [2]} and "`mstep.py` changed on disk since it was imported" in warned
    fresh, _ = _python(tmp_path, run.format(edit=""))
    assert fresh == {"hit": False, "value": [100]} and _executions(tmp_path) == 2
