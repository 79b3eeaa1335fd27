"""File names a run record cannot hold: bytes in another encoding (a Latin-1 ``café.csv``).

Python hands such a name over with lone surrogates (``'caf\\udce9.csv'``); a record is
UTF-8 JSON, so the run could never be recorded. Before, hashing the input failed with a
raw UnicodeEncodeError; now an input is refused before the step runs, and a file the
step logs is refused at the call, each naming the file and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from consist import ConfigError, Tracker

LATIN1 = os.fsdecode(b"caf\xe9.csv")


def _read(raw: pd.DataFrame, log: Path) -> pd.DataFrame:
    with open(log, "a") as fh:
        fh.write("ran\n")
    return raw


def _writes(_consist_ctx, log: Path) -> None:
    with open(log, "a") as fh:
        fh.write("ran\n")
    path = _consist_ctx.run_dir / LATIN1
    path.write_text("a\n1\n")
    _consist_ctx.log_output(path, key="o")


@pytest.mark.parametrize("how", ["inputs", "depends_on"])
def test_an_input_named_in_another_encoding_is_refused_before_the_step_runs(tmp_path: Path, how: str):
    try:
        (tmp_path / LATIN1).write_text("a\n1\n")
    except UnicodeEncodeError:
        pytest.skip("this file system takes only UTF-8 names")
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    (tmp_path / "ok.csv").write_text("a\n1\n")
    raw = tmp_path / (LATIN1 if how == "inputs" else "ok.csv")
    depends = [tmp_path / LATIN1] if how == "depends_on" else None
    with pytest.raises(ConfigError, match=r"is not valid UTF-8.*Rename the file"):
        tracker.run(fn=_read, inputs={"raw": raw}, depends_on=depends, outputs=["t"], runtime_kwargs={"log": log})
    assert not log.exists() and tracker.find_runs(status=None) == []


def test_a_logged_file_named_in_another_encoding_fails_the_step_with_a_clear_error(tmp_path: Path):
    tracker, log = Tracker(run_dir=tmp_path / "runs"), tmp_path / "log.txt"
    with pytest.raises(ConfigError, match=r"cannot log 'o'.*is not valid UTF-8"):
        tracker.run(fn=_writes, inject_context=True, runtime_kwargs={"log": log})
    assert [run.status for run in tracker.find_runs(status=None)] == ["failed"]
