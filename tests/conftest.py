"""Shared fixtures: a fresh tracker in a temporary folder, and a small raw CSV."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from consist import Tracker


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    return Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb")


@pytest.fixture
def raw_csv(tmp_path: Path) -> Path:
    path = tmp_path / "raw.csv"
    path.write_text("value,category\n0.1,a\n0.7,b\n0.9,a\n0.6,b\n0.95,c\n")
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test with the temporary folder as working directory (as the guide's relative paths expect)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def age(path: Path, seconds: float = 10.0) -> None:
    """Backdate a file's mtime so its hash may be memoised."""
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))
