"""Making a tracker over a brand-new catalog stays light: it does not import pandas.

pandas is an optional extra and costs 0.4-0.7 s to import; a Polars user who never
touches it should not pay that on the first line of every new project.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_tracker_over_a_new_catalog_does_not_import_pandas(tmp_path: Path):
    code = (
        "import json, sys\n"
        "from consist import Tracker\n"
        "Tracker(run_dir='runs', db_path='provenance.duckdb')\n"
        "print(json.dumps({'pandas': 'pandas' in sys.modules}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"pandas": False}
    assert (tmp_path / "provenance.duckdb").exists()  # the catalog file was built
