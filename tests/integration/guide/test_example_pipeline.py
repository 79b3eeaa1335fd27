"""The README's first command: the example pipeline runs end to end and its second pass is all cache hits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "pipeline.py"


def test_example_pipeline_second_run_executes_nothing(tmp_path):
    """Running the example executes every step once, then serves all of them from the cache."""
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--work", str(tmp_path / "demo"), "--fresh"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith("first run: 14 steps, 12 executed")
    assert lines[1].startswith("second run: 14 steps, 0 executed, 14 cache hits")
    assert "growth_0.02" in out and (tmp_path / "demo" / "provenance.duckdb").exists()
