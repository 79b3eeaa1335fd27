"""Workers killed mid-step, for the orphan tests: a real process whose step wrote a partial output and sleeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import consist

ENV = {**os.environ, "PYTHONPATH": str(Path(consist.__file__).parent.parent)}

SLEEPER = textwrap.dedent(
    """
    import sys, time
    import consist.catalog.orphans as orphans
    from consist import Tracker
    if sys.argv[3] == "unmarkable":
        orphans._can_mark = False  # as on a file system without extended attributes
    t = Tracker(run_dir=sys.argv[1])
    def slow(ctx_tag: str, _consist_ctx=None):
        (_consist_ctx.run_dir / "partial.bin").write_bytes(b"x" * 1000)
        print(_consist_ctx.run_dir.name, flush=True)
        time.sleep(600)
    t.run(slow, config={"ctx_tag": sys.argv[2]}, inject_context=True)
    """
)


def start_sleeper(run_dir: Path, tag: str, mode: str = "") -> tuple[subprocess.Popen[str], Path]:
    """A worker whose step wrote a partial output and now sleeps; and its run folder.

    ``mode="unmarkable"`` runs it as on a file system whose folders take no extended attribute.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, str(run_dir), tag, mode], stdout=subprocess.PIPE, text=True, env=ENV
    )
    name = proc.stdout.readline().strip()
    assert name, "the worker never started its step"
    return proc, run_dir / name


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def backdate(folder: Path, days: float = 2) -> None:
    """Set the times of ``folder`` and everything in it ``days`` back: past the orphan grace period."""
    stamp = time.time() - days * 86400
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (stamp, stamp))
    os.utime(folder, (stamp, stamp))


def killed_and_running(run_dir: Path):
    """A tracker with one recorded run, and two sleeping workers in ``run_dir``, the first killed.

    Returns ``(tracker, kept, orphan, running, alive)``: the recorded run's result, the
    killed worker's folder, the live worker's process and its folder.
    """
    from consist import Tracker

    tracker = Tracker(run_dir=run_dir)
    kept = tracker.run(lambda n: n * 2, name="double", config={"n": 1}, outputs=["v"])
    killed, orphan = start_sleeper(run_dir, "killed")
    running, alive = start_sleeper(run_dir, "running")
    kill(killed)
    return tracker, kept, orphan, running, alive
