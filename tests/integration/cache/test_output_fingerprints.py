"""A cached output rewritten in place with its size and mtime put back is not served.

``verify_outputs="stat"`` (the default) trusts an output whose stat matches what was
recorded; the recorded token holds the ctime too, which no program can set back (see
``consist.identity.hashing.stat_fingerprint``). Executions are counted in a file each
execution appends to.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from consist import Tracker
from consist.identity.hashing import has_ctime, stat_fingerprint


def _counting(log: Path):
    def step(n: int) -> pd.DataFrame:
        with log.open("a") as fh:
            fh.write("x\n")
        return pd.DataFrame({"n": [n] * 10})

    return step


def _folder_step(log: Path):
    def step(n: int, _consist_ctx=None) -> None:
        with log.open("a") as fh:
            fh.write("x\n")
        folder = _consist_ctx.run_dir / "tiles"
        folder.mkdir()
        (folder / "a.txt").write_text(f"{n:04d}")
        _consist_ctx.log_artifact(folder, key="tiles")

    return step


def _overwrite_keeping_times(path: Path, data: bytes) -> None:
    before = path.stat()
    assert len(data) == before.st_size
    with path.open("r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_a_frame_output_rewritten_with_its_times_put_back_is_a_miss(tmp_path):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "calls.txt"
    step = _counting(log)
    first = tracker.run(step, config={"n": 1}, outputs=["table"])
    other = tracker.run(step, config={"n": 2}, outputs=["table"])
    assert tracker.run(step, config={"n": 1}, outputs=["table"]).cache_hit
    target, source = first.outputs["table"].path, other.outputs["table"].path
    assert target.stat().st_size == source.stat().st_size  # one value differs: same length
    _overwrite_keeping_times(target, source.read_bytes())
    again = tracker.run(step, config={"n": 1}, outputs=["table"])
    assert not again.cache_hit
    assert log.read_text().count("x") == 3


def test_a_folder_output_with_a_file_rewritten_is_a_miss(tmp_path):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "calls.txt"
    step = _folder_step(log)
    first = tracker.run(step, config={"n": 1}, inject_context=True, outputs=["tiles"])
    assert tracker.run(step, config={"n": 1}, inject_context=True, outputs=["tiles"]).cache_hit
    _overwrite_keeping_times(first.outputs["tiles"].path / "a.txt", b"9999")
    assert not tracker.run(step, config={"n": 1}, inject_context=True, outputs=["tiles"]).cache_hit
    assert log.read_text().count("x") == 2


def test_outputs_record_ctime_tokens_and_old_tokens_are_still_understood(tmp_path):
    tracker = Tracker(run_dir=tmp_path / "runs")
    result = tracker.run(_counting(tmp_path / "calls.txt"), config={"n": 1}, outputs=["table"])
    token = result.outputs["table"].stat
    assert has_ctime(token) and token == stat_fingerprint(result.outputs["table"].path)
    old = stat_fingerprint(result.outputs["table"].path, ctime=False)
    assert not has_ctime(old) and old == ":".join(token.split(":")[:2])
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a").write_text("1")
    assert has_ctime(stat_fingerprint(folder)) and not has_ctime(stat_fingerprint(folder, ctime=False))
