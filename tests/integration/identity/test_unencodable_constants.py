"""Constants a step reads that a run record cannot hold still give the step an identity.

A module-level file name read in another encoding (a string with lone surrogates) or an
int beyond 64 bits, read by name or bound as a default, made the code digest fail with a
raw UnicodeEncodeError/OverflowError before the step could run. Such a value now counts
by its repr: the step runs, a second call hits, and a changed value misses.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from consist import Tracker

NAME = os.fsdecode(b"caf\xe9")
BIG = 2**70


def _uses_global(log: Path) -> pd.DataFrame:
    with open(log, "a") as fh:
        fh.write("ran\n")
    return pd.DataFrame({"n": [len(NAME), BIG % 7]})


def _uses_default(log: Path, big: int = 2**80) -> pd.DataFrame:
    with open(log, "a") as fh:
        fh.write("ran\n")
    return pd.DataFrame({"n": [big % 7]})


def test_unencodable_constants_count_by_value(tmp_path: Path, monkeypatch):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    for fn in (_uses_global, _uses_default):
        assert not tracker.run(fn=fn, outputs=["t"], runtime_kwargs={"log": log}).cache_hit
        assert tracker.run(fn=fn, outputs=["t"], runtime_kwargs={"log": log}).cache_hit
    assert len(log.read_text().splitlines()) == 2
    monkeypatch.setitem(_uses_global.__globals__, "BIG", 2**71)
    assert not tracker.run(fn=_uses_global, outputs=["t"], runtime_kwargs={"log": log}).cache_hit
    assert len(log.read_text().splitlines()) == 3
    assert len(tracker.find_runs()) == 5, "every record (hits are recorded too) decodes"
