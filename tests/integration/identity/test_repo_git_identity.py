"""``repo_git`` identity describes the code that runs, including helper modules of the repository.

A helper module edited on disk after it was imported keeps running its old code, while the
working tree (commit plus diff) already describes the new one. Each scenario runs in
separate processes; every execution of the step appends to a log file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.identity.test_code_follows_running_code import _executions, _python

HELPER = "def helper(x):\n    return x {op}\n"
STEP = """\
from pathlib import Path
from pkg.helpers import helper

def step(x):
    with open(Path(__file__).parent.parent / "executions.log", "a") as log:
        log.write("ran\\n")
    return [helper(x)]
"""
EDIT = """
import importlib
from pkg import steps, helpers
Path = __import__("pathlib").Path
Path("pkg/helpers.py").write_text(Path("pkg/helpers.py").read_text().replace("x + 1", "x * 100"))
"""
CALL = 'report(tracker.run(fn=steps.step, config={"x": 1}, outputs=["t"], code_identity="repo_git"))\n'


def _repo(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "helpers.py").write_text(HELPER.format(op="+ 1"))
    (tmp_path / "pkg" / "steps.py").write_text(STEP)
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "pkg"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=tmp_path, check=True)


def test_helper_module_edited_after_import_is_not_lent_the_working_trees_identity(tmp_path: Path):
    """The stale process runs the old helper; a fresh process with the new file must miss."""
    _repo(tmp_path)
    stale, warned = _python(tmp_path, EDIT + CALL)
    assert stale == {"hit": False, "value": [2]} and _executions(tmp_path) == 1
    assert "`pkg.helpers`: the module file `helpers.py` changed on disk since it was imported" in warned

    fresh, _ = _python(tmp_path, "from pkg import steps\n" + CALL)
    assert fresh == {"hit": False, "value": [100]} and _executions(tmp_path) == 2


def test_the_new_code_first_then_a_stale_process_misses_and_a_reload_hits(tmp_path: Path):
    """Whichever runs first, old code is never served new results, and a reload makes it current."""
    _repo(tmp_path)
    (tmp_path / "pkg" / "helpers.py").write_text(HELPER.format(op="* 100"))
    fresh, _ = _python(tmp_path, "from pkg import steps\n" + CALL)
    assert fresh == {"hit": False, "value": [100]} and _executions(tmp_path) == 1

    (tmp_path / "pkg" / "helpers.py").write_text(HELPER.format(op="+ 1"))
    stale, _ = _python(tmp_path, EDIT + CALL + "importlib.reload(helpers)\n" + CALL)
    assert stale == {"hit": True, "value": [100]}, "after the reload the process runs the file's code"
    assert _executions(tmp_path) == 2
