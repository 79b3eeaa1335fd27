"""A pandas step run in fresh Python processes that logs each execution, for hydration tests.

``python(tmp_path, code)`` runs ``code`` after the step's definition in a new interpreter
and returns the JSON its last printed line holds; ``executions(tmp_path)`` counts the
step's executions across those processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STEP = """
import json, sys
from pathlib import Path
import consist, pandas as pd
from consist import Tracker, use_tracker

def clean(raw: pd.DataFrame) -> pd.DataFrame:
    with open("executions.log", "a") as log:
        log.write("clean\\n")
    return raw[raw["value"] > 1]

tracker = Tracker(run_dir="runs", db_path="provenance.duckdb")
"""


def python(tmp_path: Path, code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", STEP + textwrap.dedent(code)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def executions(tmp_path: Path) -> int:
    log = tmp_path / "executions.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "raw.csv"
    path.write_text("value\n1\n2\n3\n")
    return path
