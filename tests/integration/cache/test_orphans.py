"""Run folders left by a worker killed mid-step: `consist gc` removes them, never a running step's.

A worker is a real process running a real step; it is killed with SIGKILL while the
step sleeps, leaving a run folder with a partial output and no record. Another worker
is still running its step when gc runs.
"""

from __future__ import annotations

from consist import Tracker
from consist.cli import main
from tests.helpers.sleeping_steps import backdate, kill, killed_and_running, start_sleeper


def test_gc_removes_a_killed_workers_folder_but_not_a_running_one(tmp_path, capsys):
    run_dir = tmp_path / "runs"
    _, kept, orphan, running, alive = killed_and_running(run_dir)
    try:
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
    killed, orphan = start_sleeper(run_dir, "killed")
    kill(killed)
    assert main(["--run-dir", str(run_dir), "gc", "--older-than", "0s"]) == 0
    assert orphan.exists()  # changed a moment ago: a step on another machine may still be writing it
