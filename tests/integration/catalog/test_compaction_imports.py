"""Compaction never imports pandas into a process that does not use it.

pyarrow imports pandas (when installed) the first time it converts Python lists; in a
Polars pipeline that cost 0.3-0.5 s of the interpreter inside the first background
compaction, stalling the steps running beside it. Checked in a fresh process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import consist

ENV = {**os.environ, "PYTHONPATH": str(Path(consist.__file__).parent.parent)}

SCRIPT = textwrap.dedent(
    """
    import sys
    import polars as pl
    import consist
    from consist import Tracker

    def step(data: pl.DataFrame) -> pl.DataFrame:
        return data.with_columns(pl.col("value") + 1)

    tracker = Tracker(run_dir=sys.argv[1])
    with tracker.scenario("chain") as sc:
        with sc.trace(name="seed"):
            consist.log_dataframe(pl.DataFrame({"value": [1.0, 2.0]}), key="data")
        for i in range(30):
            sc.run(name=f"step_{i}", fn=step, inputs=["data"], outputs=["data"], load_inputs=True,
                   facet={"i": i, "label": f"ü{i}"}, tags=["chain"])
    tracker.compact()
    assert "pandas" not in sys.modules, "compaction imported pandas"
    runs = tracker.run_query("select name from runs where name like 'step_%' order by name")
    assert runs.height == 30, runs
    assert "pandas" not in sys.modules, "the query imported pandas"
    print("ok")
    """
)


def test_compacting_a_polars_pipeline_leaves_pandas_unimported(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "runs")], capture_output=True, text=True, env=ENV, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
