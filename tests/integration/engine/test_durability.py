"""Durability modes: a process killed mid-burst never leaves a hit served from a missing or torn output.

Each mode is driven through the public API in a child process that is killed with
SIGKILL while it runs a burst of steps; a second process then runs the same burst.
Executions are counted in a file every execution appends to.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from consist import Tracker
from consist.errors import ConfigError

STEPS = 160  # enough that the kill lands mid-burst however fast steps are

BURST = textwrap.dedent(
    """
    import sys
    import polars as pl
    import consist
    from consist import Tracker, use_tracker

    root, log, mode = sys.argv[1], sys.argv[2], sys.argv[3]

    def make(i: int) -> pl.DataFrame:
        with open(log, "a") as f:
            f.write(f"{i}\\n")
        return pl.DataFrame({"i": [i] * 500, "x": list(range(500))})

    with use_tracker(Tracker(run_dir=root, durability=mode)):
        for i in range(int(sys.argv[4])):
            result = consist.run(fn=make, name="burst", config={"i": i}, outputs=["o"])
            frame = consist.load(result.outputs["o"])
            assert frame["i"].to_list() == [i] * 500 and frame["x"].to_list() == list(range(500)), i
            print("HIT" if result.cache_hit else "RAN", i, result.outputs["o"].uri, flush=True)
    """
)


def _executions(log) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


@pytest.mark.parametrize("mode", ["batch", "step", "none"])
def test_killed_burst_never_serves_a_missing_or_torn_output(tmp_path, mode):
    script, log, root = tmp_path / "burst.py", tmp_path / "executions.txt", tmp_path / "runs"
    script.write_text(BURST)
    proc = subprocess.Popen([sys.executable, str(script), str(root), str(log), mode, str(STEPS)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    printed = []
    deadline = time.time() + 120
    while len(printed) < 8:  # eight steps finished (entries written), the burst still going
        assert time.time() < deadline and proc.poll() is None, "the burst ended before it was killed"
        printed.append(proc.stdout.readline().split())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    before = _executions(log)
    assert 8 <= len(before) < STEPS

    # What a power loss can leave behind an entry: an output cut short, and one never renamed into place.
    torn, gone = printed[0][2], printed[1][2]
    with open(torn, "r+b") as f:
        f.truncate(os.path.getsize(torn) // 2)
    os.unlink(gone)

    again = subprocess.run([sys.executable, str(script), str(root), str(log), mode, str(STEPS)],
                           capture_output=True, text=True, check=True)  # fmt: skip
    lines = [line.split() for line in again.stdout.splitlines()]
    assert [int(i) for _, i, _ in lines] == list(range(STEPS))  # every output loaded intact (asserted in the child)
    ran = [int(i) for kind, i, _ in lines if kind == "RAN"]
    hits = [int(i) for kind, i, _ in lines if kind == "HIT"]
    assert 0 in ran and 1 in ran  # the torn and the missing output were not served
    assert set(range(2, 8)) <= set(hits)  # finished steps before the kill are hits
    assert _executions(log)[len(before):] == ran  # a hit executes nothing
    # A killed step may leave its output's temporary file in its own (recordless) run folder;
    # the catalog and the cache index hold nothing half-written.
    assert list((root / ".consist").rglob("*.tmp")) == []


def test_unknown_durability_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"durability='always'.*'batch', 'step', 'none'"):
        Tracker(run_dir=tmp_path / "runs", durability="always")
