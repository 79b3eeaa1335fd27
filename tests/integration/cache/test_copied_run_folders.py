"""A run folder copied (the original kept), then an output deleted in the copy.

The copy's records still name the original's absolute paths. The copy must use its own
run folders: a file missing there is missing (for `consist verify` and for a cache hit),
never silently served from the original project, whose files are someone else's to
change or delete. Executions are counted in a file each execution appends to, in a
fresh process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl

import consist
from consist import Tracker


def make(i: int) -> pl.DataFrame:
    with open(os.environ["COPY_LOG"], "a") as fh:
        fh.write(f"{i}\n")
    return pl.DataFrame({"i": [i]})


def test_an_output_deleted_in_a_copy_is_missing_there_though_the_original_still_has_it(tmp_path, monkeypatch):
    """verify names the copy's missing file; the step runs again in the copy and writes inside it."""
    log = tmp_path / "executions.txt"
    monkeypatch.setenv("COPY_LOG", str(log))
    original = Tracker(run_dir=tmp_path / "a" / "runs", db_path=tmp_path / "a" / "provenance.duckdb")
    first = original.run(make, config={"i": 1}, outputs=["t"])
    original.run(make, config={"i": 2}, outputs=["t"])
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    copied_output = tmp_path / "b" / "runs" / first.run.id / "t.parquet"
    copied_output.unlink()

    code = textwrap.dedent(
        f"""
        import json
        import polars as pl
        from consist import Tracker
        from {__name__} import make
        t = Tracker(run_dir={str(tmp_path / "b" / "runs")!r}, db_path={str(tmp_path / "b" / "provenance.duckdb")!r})
        problems = [(p.problem, p.path) for p in t.verify()]
        results = [t.run(make, config={{"i": i}}, outputs=["t"]) for i in (1, 2)]
        print(json.dumps({{
            "problems": problems,
            "hits": [r.cache_hit for r in results],
            "paths": [str(r.outputs["t"].path) for r in results],
            "values": [pl.read_parquet(r.outputs["t"].path)["i"][0] for r in results],
        }}))
        """
    )
    tests_root = Path(__file__).resolve().parents[3]
    path = os.pathsep.join([str(Path(consist.__file__).parent.parent), str(tests_root)])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tests_root,
                          env={**os.environ, "PYTHONPATH": path})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["problems"] == [["missing", str(copied_output)]]
    assert out["hits"] == [False, True] and log.read_text().split() == ["1", "2", "1"]
    assert out["values"] == [1, 2]
    assert all(p.startswith(str(tmp_path / "b")) for p in out["paths"])
