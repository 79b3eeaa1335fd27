"""The portable file locks, with OS locks and with filelock's lock-file fallback (SoftFileLock).

Each test runs twice: once as on Unix or Windows (an OS lock), once with
``CONSIST_SOFT_LOCKS=1`` (the lock-file path used where OS locks do not work). Other
processes inherit the choice through the environment.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import consist
from consist import Tracker, use_tracker
from consist.catalog import compaction
from consist.file_lock import SOFT_ENV

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from consist import Tracker
    from consist.catalog import compaction
    tracker = Tracker(run_dir=sys.argv[1], db_path=sys.argv[2])
    with compaction.compaction_lock(tracker.layout, blocking=True) as held:
        assert held
        Path(sys.argv[3]).write_text("held")
        while not Path(sys.argv[4]).exists():
            time.sleep(0.02)
    """
)

INGEST = textwrap.dedent(
    """
    import sys
    import consist
    from consist import Tracker
    tracker = Tracker(run_dir=sys.argv[1], db_path=sys.argv[2])
    run = tracker.find_run(year=int(sys.argv[3]))
    consist.ingest(tracker.get_artifacts_for_run(run.id).outputs["trips"], tracker=tracker)
    """
)


@pytest.fixture(params=["os", "soft"])
def lock_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "soft":
        monkeypatch.setenv(SOFT_ENV, "1")
    else:
        monkeypatch.delenv(SOFT_ENV, raising=False)
    return request.param


def _env(tmp_path: Path) -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(Path(consist.__file__).parent.parent)}


def test_compaction_skips_while_another_process_holds_the_lock(tmp_path: Path, lock_kind: str):
    """Automatic compaction returns at once while another process compacts, and folds afterwards."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    tracker.run(lambda: None, name="step", config={"i": 1})
    ready, release = tmp_path / "ready", tmp_path / "release"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tracker.run_dir), str(tracker.db_path), str(ready), str(release)],
        env=_env(tmp_path),
    )
    try:
        for _ in range(1500):
            if ready.exists() or child.poll() is not None:
                break
            subprocess.run(["sleep", "0.02"])
        assert ready.exists(), "the child never took the lock"
        assert compaction.compact(tracker.layout, blocking=False).skipped
    finally:
        release.write_text("go")
        assert child.wait(60) == 0
    assert tracker.compact().folded == 1


def trips(n: int) -> pd.DataFrame:
    return pd.DataFrame({"trip_id": range(n), "minutes": [float(i) for i in range(n)]})


def test_two_processes_ingest_at_once(tmp_path: Path, lock_kind: str):
    """Two processes ingesting into one hot database both succeed; every row arrives once."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    with use_tracker(tracker):
        for year, n in ((2001, 30), (2002, 40)):
            consist.run(fn=trips, config={"n": n}, outputs=["trips"], year=year)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", INGEST, str(tracker.run_dir), str(tracker.db_path), str(year)], env=_env(tmp_path)
        )
        for year in (2001, 2002)
    ]
    assert [c.wait(120) for c in children] == [0, 0]
    import duckdb

    with duckdb.connect(str(tracker.run_dir / ".consist" / "hot" / "hot.duckdb"), read_only=True) as con:
        assert con.execute('SELECT count(*) FROM "trips"').fetchone()[0] == 70


def test_a_lock_held_too_long_is_one_clear_error_naming_the_file(tmp_path: Path, lock_kind: str):
    """Waiting past the timeout raises a CatalogError that names the lock file."""
    from consist.errors import CatalogError
    from consist.file_lock import held

    path = tmp_path / "hot" / ".lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(
            """
            import sys, time
            from pathlib import Path
            from consist.file_lock import held
            with held(Path(sys.argv[1])):
                Path(sys.argv[2]).write_text("held")
                time.sleep(30)
            """
        ), str(path), str(tmp_path / "ready")],
        env=_env(tmp_path),
    )  # fmt: skip
    try:
        for _ in range(1500):
            if (tmp_path / "ready").exists():
                break
            subprocess.run(["sleep", "0.02"])
        with pytest.raises(CatalogError, match=r"waited 0.2 s for the lock .*\.lock"):
            with held(path, timeout=0.2):
                pass
    finally:
        holder.kill()
        holder.wait()
