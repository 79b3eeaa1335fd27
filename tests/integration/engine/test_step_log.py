"""The logging trail: one record per step on the `consist` loggers, silent unless logging is set up.

Run as a batch job would be: a separate process whose stderr goes to a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import consist

JOB = textwrap.dedent(
    """
    import logging, sys
    from pathlib import Path
    import consist
    if sys.argv[2] == "configured":
        logging.basicConfig(level=logging.INFO, format="%(name)s|%(levelname)s|%(consist_outcome)s|%(message)s")
    tracker = consist.Tracker(run_dir=Path(sys.argv[1]) / "runs", db_path=Path(sys.argv[1]) / "c.duckdb")
    executions = Path(sys.argv[1]) / "executions.txt"

    def step(threshold):
        with executions.open("a") as f:
            f.write("ran\\n")

    tracker.run(step, config={"threshold": 1})
    tracker.run(step, config={"threshold": 1})
    tracker.run(step, config={"threshold": 2})
    try:
        tracker.run(lambda: 1 / 0, name="broken")
    except ZeroDivisionError:
        pass
    """
)


def job(folder: Path, mode: str) -> str:
    log = folder / "job.log"
    env = {**os.environ, "PYTHONPATH": str(Path(consist.__file__).parent.parent), "CONSIST_PROGRESS": "0"}
    with log.open("w") as err:
        subprocess.run([sys.executable, "-c", JOB, str(folder), mode], stderr=err, stdout=err, check=True, env=env)
    return log.read_text()


def test_each_step_leaves_one_record_naming_hit_miss_reason_and_duration(tmp_path: Path):
    """Executed steps say why they ran, the hit names the run it reused, the failure its error; all with a duration."""
    lines = job(tmp_path, "configured").splitlines()
    assert (tmp_path / "executions.txt").read_text().count("ran") == 2
    assert len(lines) == 4, lines
    assert all(line.startswith("consist.workflow.steps|INFO|") for line in lines)
    first, hit, changed, failed = (line.split("|", 3)[2:] for line in lines)
    assert first[0] == "executed" and "no earlier run of step 'step'" in first[1] and " s;" in first[1]
    first_id = first[1].split("executed as run ")[1].split()[0]
    assert hit[0] == "hit" and f"reused run {first_id}" in hit[1] and hit[1].endswith(" s)")
    assert changed[0] == "executed" and "config threshold changed (1 -> 2)" in changed[1]
    assert failed[0] == "failed" and "ZeroDivisionError: division by zero" in failed[1] and "after " in failed[1]


def test_silent_without_logging_configuration(tmp_path: Path):
    """A job that sets up no logging writes nothing to stderr or stdout."""
    assert job(tmp_path, "plain") == ""
    assert (tmp_path / "executions.txt").read_text().count("ran") == 2
