"""A cache entry a process read before is read again whenever its file changed.

A tracker keeps the entries it decoded per entry file, with the file's inode, size,
mtime and ctime (see ``consist.catalog.index``); a hit stats the file instead of
reading it. Another process replacing the entry, the index being deleted, or bytes
written over the file in place with its mtime put back must all be seen. Executions
are counted in a file each execution appends to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from consist import Tracker
from tests.helpers.journal_steps import executions, log, step  # noqa: F401 - log is a fixture

ROOT = Path(__file__).resolve().parents[3]


def entry_file(tracker: Tracker) -> Path:
    (path,) = [p for p in tracker.layout.index.rglob("*") if p.is_file()]
    return path


def overwrite_elsewhere(run_dir: Path) -> None:
    """Run the step again in another process with cache_mode="overwrite": a new run replaces the entry."""
    code = textwrap.dedent(f"""
        from consist import Tracker
        from tests.helpers.journal_steps import step
        Tracker(run_dir={str(run_dir)!r}).run(step, name="step", config={{"i": 1}}, outputs=["o"], cache_mode="overwrite")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)


def hit(tracker: Tracker):
    result = tracker.run(step, name="step", config={"i": 1}, outputs=["o"])
    assert result.cache_hit
    return result


def test_an_entry_replaced_by_another_process_is_served_as_replaced(tmp_path, log):
    tracker = Tracker(run_dir=tmp_path / "runs")
    first = tracker.run(step, name="step", config={"i": 1}, outputs=["o"])
    assert hit(tracker).run.reused_run_id == first.run.id
    overwrite_elsewhere(tmp_path / "runs")
    newer = hit(tracker)
    assert newer.run.reused_run_id != first.run.id
    assert newer.outputs["o"].run_id == newer.run.reused_run_id
    assert executions(log) == [1, 1]


def test_a_deleted_index_is_a_miss(tmp_path, log):
    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.run(step, name="step", config={"i": 1}, outputs=["o"])
    hit(tracker)
    shutil.rmtree(tracker.layout.index)
    assert not tracker.run(step, name="step", config={"i": 1}, outputs=["o"]).cache_hit
    assert executions(log) == [1, 1]
    hit(tracker)


def test_bytes_written_over_an_entry_with_its_mtime_put_back_are_read(tmp_path, log):
    """Same inode, and the old mtime restored (as ``cp -p`` of a backup does): the ctime tells."""
    tracker = Tracker(run_dir=tmp_path / "runs")
    first = tracker.run(step, name="step", config={"i": 1}, outputs=["o"])
    old_bytes = entry_file(tracker).read_bytes()
    overwrite_elsewhere(tmp_path / "runs")
    path = entry_file(tracker)
    second = hit(tracker).run.reused_run_id
    assert second != first.run.id
    before = path.stat()
    with path.open("r+b") as fh:
        fh.write(old_bytes)
        fh.truncate()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_ino == before.st_ino
    assert hit(tracker).run.reused_run_id == first.run.id  # what the file says now
    assert executions(log) == [1, 1]
