"""A step run by writer processes in the journal tests: each execution appends its config to a log file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def step(i: int) -> dict[str, int]:
    with open(os.environ["JOURNAL_LOG"], "a") as fh:
        fh.write(f"{i}\n")
    return {"i": i}


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file every execution of :func:`step` appends its config to (imported by the test modules as a fixture)."""
    path = tmp_path / "executions.txt"
    monkeypatch.setenv("JOURNAL_LOG", str(path))
    return path


def executions(log: Path) -> list[int]:
    """The configs executed so far, in order."""
    return [int(line) for line in log.read_text().split()] if log.exists() else []
