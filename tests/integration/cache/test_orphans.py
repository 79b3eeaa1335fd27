"""Run folders left by a worker killed mid-step: `consist gc` removes them, never a running step's.

A worker is a real process running a real step; it is killed with SIGKILL while the
step sleeps, leaving a run folder with a partial output and no record. Another worker
is still running its step when gc runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import consist
from consist import Tracker
from consist.cli import main

WORKER = textwrap.dedent(
    """
    import sys, time
    from consist import Tracker
    t = Tracker(run_dir=sys.argv[1])
    def slow(ctx_tag: str, _consist_ctx=None):
        (_consist_ctx.run_dir / "partial.bin").write_bytes(b"x" * 1000)
        print(_consist_ctx.run_dir.name, flush=True)
        time.sleep(600)
    t.run(slow, config={"ctx_tag": sys.argv[2]}, inject_context=True)
    """
)


def start_worker(run_dir: Path, tag: str) -> tuple[subprocess.Popen[str], Path]:
    env = {**os.environ, "PYTHONPATH": str(Path(consist.__file__).parent.parent)}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(run_dir), tag], stdout=subprocess.PIPE, text=True, env=env)
    name = proc.stdout.readline().strip()
    assert name, "the worker never started its step"
    return proc, run_dir / name


def backdate(folder: Path, days: float = 2) -> None:
    stamp = time.time() - days * 86400
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (stamp, stamp))
    os.utime(folder, (stamp, stamp))


def test_gc_removes_a_killed_workers_folder_but_not_a_running_one(tmp_path, capsys):
    run_dir = tmp_path / "runs"
    tracker = Tracker(run_dir=run_dir)
    kept = tracker.run(lambda n: n * 2, name="double", config={"n": 1}, outputs=["v"])
    killed, orphan = start_worker(run_dir, "killed")
    running, alive = start_worker(run_dir, "running")
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        backdate(orphan)
        backdate(alive)  # a long step that has not written for days is still not an orphan
        assert main(["--run-dir", str(run_dir), "gc", "--older-than", "1h", "--dry-run"]) == 0
        assert orphan.exists() and orphan.name in capsys.readouterr().out
        assert main(["--run-dir", str(run_dir), "gc", "--older-than", "1h"]) == 0
        out = capsys.readouterr().out
        assert not orphan.exists() and "no recorded run" in out
        assert alive.exists() and (alive / "partial.bin").exists()
        assert kept.outputs["v"].path.exists()
    finally:
        running.kill()
        running.wait(timeout=30)
    # Once its worker is gone, the other folder is an orphan too; recorded runs stay.
    assert main(["--run-dir", str(run_dir), "gc", "--older-than", "1h"]) == 0
    assert not alive.exists() and kept.outputs["v"].path.exists()
    assert [r.id for r in Tracker(run_dir=run_dir).find_runs(status=None)] == [kept.run.id]


def test_a_fresh_orphan_waits_out_the_grace_period(tmp_path, capsys):
    run_dir = tmp_path / "runs"
    Tracker(run_dir=run_dir)
    killed, orphan = start_worker(run_dir, "killed")
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert main(["--run-dir", str(run_dir), "gc", "--older-than", "0s"]) == 0
    assert orphan.exists()  # changed a moment ago: a step on another machine may still be writing it
