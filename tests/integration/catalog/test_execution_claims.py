"""Claims on the run ids of executions, seen from outside.

An execution with a generated id claims it by creating its run folder. Across real
processes that must keep ids and folders unique, leave a killed worker's folder for
`collect` to find (once it is old), hide a running step's folder from it, and never
offer a folder consist did not make for this catalog. Catalogs whose executions
claimed their ids with files (earlier versions) keep working.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from consist import Tracker
from consist.cache.cleanup import collect
from tests.helpers.sleeping_steps import ENV, backdate, kill, killed_and_running, start_sleeper

# Draws the random part of generated ids from 64 values, so that ids drawn in the same
# second by the two processes (and by one) collide often.
CROWDED = textwrap.dedent(
    """
    import os, random, sys, time, types
    from pathlib import Path
    import consist.engine.run_ids as run_ids
    from consist import Tracker
    run_dir, log, tag, go, steps = sys.argv[1:6]
    rng = random.Random(os.getpid())
    run_ids.secrets = types.SimpleNamespace(token_hex=lambda n=None: f"{rng.randrange(64):08x}")
    tracker = Tracker(run_dir=run_dir)
    def work(tag: str, i: int, _consist_ctx=None):
        (_consist_ctx.run_dir / "mine.txt").write_text(f"{tag}-{i}")
        with open(log, "a") as f:
            f.write(f"{tag} {i} {_consist_ctx.run_dir.name}\\n")
        return i
    Path(f"{go}.{tag}").touch()  # ready
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(int(steps)):
        tracker.run(work, name="work", config={"tag": tag, "i": i}, inject_context=True, outputs=["v"])
    """
)

def found(tracker: Tracker) -> list[str]:
    """The folders `collect` would delete as orphans (a dry run; one hour old is old enough)."""
    report = collect(tracker, older_than=time.time() - 3600, dry_run=True)
    return sorted(r.run_id for r in report.runs)


def claim_files(tracker: Tracker) -> list[str]:
    return sorted(p.name for p in tracker.layout.ids.glob("*/*"))


def test_two_processes_never_share_an_id_or_a_folder(tmp_path):
    run_dir, log, go = tmp_path / "runs", tmp_path / "executions.log", tmp_path / "go"
    Tracker(run_dir=run_dir)
    steps = 30
    workers = [
        subprocess.Popen([sys.executable, "-c", CROWDED, str(run_dir), str(log), tag, str(go), str(steps)], env=ENV)
        for tag in ("a", "b")
    ]
    deadline = time.time() + 60
    while not all(Path(f"{go}.{tag}").exists() for tag in ("a", "b")) and time.time() < deadline:
        time.sleep(0.01)
    go.touch()  # both imported consist: they start together
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    lines = [line.split() for line in log.read_text().splitlines()]
    assert len(lines) == 2 * steps  # every step executed once
    assert len({name for _, _, name in lines}) == 2 * steps
    for tag, i, name in lines:  # no execution wrote into another's folder
        assert (run_dir / name / "mine.txt").read_text() == f"{tag}-{i}"
    runs = Tracker(run_dir=run_dir).find_runs(status=None)
    assert sorted(r.id for r in runs) == sorted(name for _, _, name in lines)
    assert {(r.config["tag"], r.config["i"]) for r in runs} == {(t, int(i)) for t, i, _ in lines}


def test_a_killed_workers_folder_is_found_a_running_ones_is_not(tmp_path):
    run_dir = tmp_path / "runs"
    tracker, kept, orphan, running, alive = killed_and_running(run_dir)
    try:
        assert found(tracker) == []  # changed a moment ago: a step elsewhere may still write it
        backdate(orphan)
        backdate(alive)  # a long step that has not written for days is still running
        assert found(tracker) == [orphan.name]
        assert claim_files(tracker) == []  # the folders were the claims
    finally:
        kill(running)
    assert found(tracker) == sorted([orphan.name, alive.name])
    collect(tracker, older_than=time.time() - 3600)
    assert not orphan.exists() and not alive.exists() and kept.outputs["v"].path.exists()
    assert [r.id for r in Tracker(run_dir=run_dir).find_runs(status=None)] == [kept.run.id]


def test_folders_consist_did_not_make_for_this_catalog_are_never_found(tmp_path):
    run_dir, elsewhere = tmp_path / "runs", tmp_path / "other_runs"
    tracker = Tracker(run_dir=run_dir)
    killed, orphan = start_sleeper(run_dir, "killed")
    kill(killed)
    renamed_proc, renamed = start_sleeper(run_dir, "renamed")
    kill(renamed_proc)
    renamed = renamed.rename(run_dir / "my-results")  # a user kept a killed run's files
    other_proc, other = start_sleeper(elsewhere, "other")
    kill(other_proc)
    copied = Path(shutil.copytree(other, run_dir / other.name))  # extended attributes copied too
    users = [run_dir / "inputs", run_dir / "model-20260101-120000-deadbeef"]  # the second has a run id's shape
    for folder in users:
        folder.mkdir()
        (folder / "data.csv").write_text("a,b\n1,2\n")
    for folder in [orphan, renamed, copied, *users]:
        backdate(folder)
    assert found(tracker) == [orphan.name]
    collect(tracker, older_than=time.time() - 3600)
    assert not orphan.exists()
    assert all((f / "partial.bin").exists() for f in (renamed, copied))
    assert all((f / "data.csv").exists() for f in users)
    # Without its .consist folder a catalog forgets what it made: a new one finds nothing.
    forgotten_proc, forgotten = start_sleeper(run_dir, "forgotten")
    kill(forgotten_proc)
    backdate(forgotten)
    assert found(tracker) == [forgotten.name]
    shutil.rmtree(run_dir / ".consist")
    assert found(Tracker(run_dir=run_dir)) == [] and (forgotten / "partial.bin").exists()


def test_where_folders_take_no_mark_the_claim_file_does_the_same(tmp_path):
    run_dir = tmp_path / "runs"
    tracker = Tracker(run_dir=run_dir)
    killed, orphan = start_sleeper(run_dir, "killed", "unmarkable")
    running, alive = start_sleeper(run_dir, "running", "unmarkable")
    try:
        kill(killed)
        backdate(orphan)
        backdate(alive)
        assert claim_files(tracker) == sorted([orphan.name, alive.name])
        assert found(tracker) == [orphan.name]
    finally:
        kill(running)
    assert found(tracker) == sorted([orphan.name, alive.name])


def test_a_catalog_with_claim_files_keeps_working(tmp_path):
    """Earlier versions claimed every execution's id with a file under ids/ and locked it while running."""
    run_dir = tmp_path / "runs"
    tracker = Tracker(run_dir=run_dir)
    old_killed = "step-20260101-120000-0123abcd"
    old_running = "step-20260101-120000-4567cdef"
    for name in (old_killed, old_running, "calibrate"):
        claim = tracker.layout.id_claim_path(name)
        claim.parent.mkdir(parents=True, exist_ok=True)
        claim.touch()
        (run_dir / name).mkdir()
        (run_dir / name / "partial.bin").write_bytes(b"x")
        backdate(run_dir / name)
    held = os.open(tracker.layout.id_claim_path(old_running), os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as an earlier version's running step holds it
        assert found(tracker) == sorted(["calibrate", old_killed])
    finally:
        os.close(held)
    again = Tracker(run_dir=run_dir)
    chosen = again.run(lambda n: n, name="calibrate", config={"n": 1}, outputs=["v"], run_id="calibrate")
    assert chosen.run.id.startswith("calibrate~")  # an id claimed before is not handed out again
    generated = again.run(lambda n: n, name="step", config={"n": 2}, outputs=["v"])
    assert not generated.cache_hit and generated.outputs["v"].path.parent == run_dir / generated.run.id
    assert found(again) == sorted(["calibrate", old_killed, old_running])
