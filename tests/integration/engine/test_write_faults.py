"""Faults while a step writes or checks its files: one ConsistError naming the file and the fix.

A full disk is made real with ``RLIMIT_FSIZE`` in a subprocess (writes past the limit
fail with EFBIG, as a full disk fails with ENOSPC); an unreadable output is a path
whose reads fail with EIO (a bad sector) or, for a non-root user, a file of mode 000.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import Tracker

LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
"""


def limited_run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new process whose files may not grow past 64 KB once it starts."""
    env = {**os.environ, "PYTHONPATH": str(Path(consist.__file__).parent.parent)}
    script = LIMITED + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)


def test_a_full_disk_while_writing_a_frame_names_the_output(tmp_path):
    """A frame the disk will not take: DiskWriteError naming the output file and the fix; nothing cached."""
    proc = limited_run(
        """
        import numpy as np, polars as pl, consist
        from consist import Tracker
        t = Tracker(run_dir=sys.argv[1] + "/runs")
        calls = []
        def big():
            calls.append(1)
            return pl.DataFrame({"a": np.random.rand(200_000)})
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, resource.RLIM_INFINITY))
        try:
            t.run(big, outputs=["table"])
        except consist.ConsistError as exc:
            print(type(exc).__name__, "|", exc, "|", isinstance(exc, OSError))
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        first = t.run(big, outputs=["table"])
        print(first.cache_hit, len(calls))
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    error, after = proc.stdout.strip().splitlines()
    name, message, is_oserror = error.split(" | ")
    assert name == "DiskWriteError" and is_oserror == "True"
    assert "table.parquet" in message and "Free space" in message and "File too large" in message
    assert after == "False 2"  # the failed run left no cache entry: the next one executes


def test_compaction_on_a_full_disk_names_the_segment_and_loses_nothing(tmp_path):
    """Compaction that cannot write its segment: DiskWriteError naming it; every run still readable, once."""
    proc = limited_run(
        """
        import consist
        from consist import Tracker
        t = Tracker(run_dir=sys.argv[1] + "/runs")
        t.records.auto_compact = False
        ids = [t.run(lambda i: i, name="step", config={"i": i}, outputs=["v"]).run.id for i in range(300)]
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, resource.RLIM_INFINITY))
        try:
            t.compact()
        except consist.ConsistError as exc:
            print(type(exc).__name__, "|", exc)
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        t2 = Tracker(run_dir=sys.argv[1] + "/runs")
        print(sorted(r.id for r in t2.find_runs()) == sorted(ids))
        t2.compact()
        print(sorted(r.id for r in Tracker(run_dir=sys.argv[1] + "/runs").find_runs()) == sorted(ids))
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    error, before, after = proc.stdout.strip().splitlines()
    name, message = error.split(" | ")
    assert name == "DiskWriteError" and "seg-" in message and "Nothing was lost" in message
    assert (before, after) == ("True", "True")


def make(i: int) -> pl.DataFrame:
    with open(os.environ["FAULT_LOG"], "a") as fh:
        fh.write(f"{i}\n")
    return pl.DataFrame({"i": [i]})


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The executions of ``make`` so far (read from the file each execution appends to)."""
    path = tmp_path / "executions.txt"
    monkeypatch.setenv("FAULT_LOG", str(path))
    return lambda: [int(x) for x in path.read_text().split()] if path.exists() else []


def test_an_output_that_cannot_be_read_counts_as_damaged_under_hash(tmp_path, calls):
    """verify_outputs='hash' and an output whose reads fail (EIO, a bad sector): a miss that re-runs, no raw OSError."""
    tracker = Tracker(run_dir=tmp_path / "runs", verify_outputs="hash")
    run = lambda i: tracker.run(make, config={"i": i}, outputs=["t"])  # noqa: E731
    first = run(1)
    path = first.outputs["t"].path
    path.unlink()
    path.symlink_to("/proc/self/mem")  # stat works, every read fails with EIO
    again = run(1)
    assert not again.cache_hit and calls() == [1, 1]
    assert "cannot be read" in again.run.miss_reason and str(path) in again.run.miss_reason
    assert pl.read_parquet(again.outputs["t"].path)["i"][0] == 1


def test_an_output_of_mode_000_counts_as_damaged_under_hash(tmp_path, calls):
    """An output the user may not read (mode 000) is damaged under verify_outputs='hash': the step runs again."""
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode (the EIO test covers root)")
    tracker = Tracker(run_dir=tmp_path / "runs", verify_outputs="hash")
    path = tracker.run(make, config={"i": 1}, outputs=["t"]).outputs["t"].path
    path.chmod(0)
    try:
        again = tracker.run(make, config={"i": 1}, outputs=["t"])
    finally:
        path.chmod(0o644)
    assert not again.cache_hit and calls() == [1, 1]


def test_a_nul_byte_in_a_hydration_path_is_refused_by_name(tmp_path, calls):
    """hydrate_to / hydrate_dir holding a NUL byte: ConfigError naming the path, before anything is copied."""
    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.run(make, config={"i": 1}, outputs=["t"])
    with pytest.raises(consist.ConfigError, match=r"out\\x00\.parquet.*NUL byte"):
        tracker.run(make, config={"i": 1}, outputs=["t"], cache_hydration="outputs-requested",
                    hydrate_to={"t": str(tmp_path / "out\x00.parquet")})  # fmt: skip
    with pytest.raises(consist.ConfigError, match=r"NUL byte"):
        tracker.run(make, config={"i": 1}, outputs=["t"], cache_hydration="outputs-all",
                    hydrate_dir=str(tmp_path / "dir\x00"))  # fmt: skip
    assert calls() == [1]
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob("dir*"))
