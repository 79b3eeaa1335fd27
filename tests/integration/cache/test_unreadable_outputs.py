"""An output nobody may read (mode 000) under verify_outputs="hash": damaged, so the step runs again.

Root reads files whatever their mode, and this suite often runs as root. The steps
therefore run in a child process that has dropped the two capabilities that let root
ignore file modes (``setpriv``), so mode 000 means what it means for every other user.
Executions are counted in a file each execution appends to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import consist

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    import polars as pl
    import consist
    from consist import Tracker

    root = Path(sys.argv[1])
    calls = root / "calls.txt"

    def make(i: int) -> pl.DataFrame:
        with calls.open("a") as fh:
            fh.write(f"{i}\\n")
        return pl.DataFrame({"i": [i]})

    tracker = Tracker(run_dir=root / "runs", db_path=root / "provenance.duckdb", verify_outputs="hash")
    first = tracker.run(make, config={"i": 1}, outputs=["t"])
    first.outputs["t"].path.chmod(0)
    again = tracker.run(make, config={"i": 1}, outputs=["t"])
    problems = [(p.key, p.problem) for p in tracker.verify(first.run.id)]
    print(json.dumps({
        "hit": again.cache_hit,
        "reason": again.run.miss_reason,
        "value": consist.load(again.outputs["t"])["i"].to_list(),
        "calls": calls.read_text().split(),
        "problems": problems,
        "path": str(first.outputs["t"].path),
    }))
    """
)


def without_root_file_access() -> list[str]:
    """The command prefix that makes a child obey file modes (empty when not root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_a_mode_000_output_is_damaged_under_hash_and_listed_by_verify(tmp_path: Path):
    """Mode 000 output: the hit is refused naming the file, the step runs once more, verify says unreadable."""
    env = {**os.environ, "PYTHONPATH": str(Path(consist.__file__).parent.parent)}
    proc = subprocess.run([*without_root_file_access(), sys.executable, "-c", SCRIPT, str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["hit"] is False and out["calls"] == ["1", "1"]
    assert "cannot be read" in out["reason"] and out["path"] in out["reason"]
    assert out["value"] == [1]
    assert out["problems"] == [["t", "unreadable"]]
