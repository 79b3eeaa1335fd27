"""A step's recent runs, kept in an append-only file: damage loses a run, never the history."""

from __future__ import annotations

import multiprocessing

import msgspec

from consist import Tracker
from consist.catalog import step_history
from consist.catalog.step_history import MAX_BYTES, RECENT_RUNS
from consist.identity.reasons import StepComponents
from consist.models import CodeInfo


def _components(run_id: str, **config) -> StepComponents:
    return StepComponents(
        run_id=run_id, signature=run_id, code=CodeInfo(kind="callable_source", hash="c" * 64), config=config, inputs={}
    )


def _ids(tracker: Tracker, name: str = "s") -> list[str]:
    return [c.run_id for c in tracker.index.recent(name)]


def test_runs_are_appended_and_read_newest_first(tracker):
    """Each put adds to the same file (no rewrite): the newest run comes first, each run once."""
    path = tracker.index._last_path("s")
    for i in range(3):
        tracker.index.put_last("s", _components(f"r{i}", i=i))
    inode = path.stat().st_ino
    tracker.index.put_last("s", _components("r1", i=1))  # the same run again (a retried record)
    assert path.stat().st_ino == inode
    assert _ids(tracker) == ["r1", "r2", "r0"]


def test_a_torn_last_frame_is_skipped_and_later_runs_still_count(tracker):
    """A write cut short (a crash, a full disk) loses that run only; runs appended after it are read."""
    tracker.index.put_last("s", _components("r0"))
    tracker.index.put_last("s", _components("r1"))
    path = tracker.index._last_path("s")
    path.write_bytes(path.read_bytes()[:-7])  # r1's frame torn
    assert _ids(tracker) == ["r0"]
    tracker.index.put_last("s", _components("r2"))
    assert _ids(tracker) == ["r2", "r0"]


def test_a_damaged_frame_in_the_middle_costs_one_run(tracker):
    """Flipped bytes inside one frame fail its checksum: the runs before and after it are kept."""
    for i in range(3):
        tracker.index.put_last("s", _components(f"r{i}", note="x" * 40))
    path = tracker.index._last_path("s")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4] = b"\xc1\xc1\xff\x00"
    path.write_bytes(bytes(data))
    assert _ids(tracker) == ["r2", "r0"]


def test_garbage_reads_as_no_history(tracker):
    """A file of random bytes (a bad restore) gives no runs and no error; the next run starts it again."""
    path = tracker.index._last_path("s")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xc1" + bytes(range(256)) * 3)
    assert _ids(tracker) == []
    tracker.index.put_last("s", _components("r0"))
    assert "r0" in _ids(tracker)


def test_a_file_in_the_earlier_format_is_read_and_converted(tracker):
    """A history written as one msgpack list is still read, and the next run rewrites it as frames."""
    path = tracker.index._last_path("old")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.msgpack.encode([_components("b"), _components("a")]))
    assert _ids(tracker, "old") == ["b", "a"]
    tracker.index.put_last("old", _components("c"))
    assert path.read_bytes()[0] == 0xC1
    assert _ids(tracker, "old") == ["c", "b", "a"]


def test_a_long_history_is_cut_to_the_newest_runs(tracker):
    """Past MAX_BYTES the file is rewritten with the newest RECENT_RUNS runs; nothing newer is lost."""
    path = tracker.index._last_path("s")
    count, sizes = 3 * MAX_BYTES // 200, []
    for i in range(count):
        tracker.index.put_last("s", _components(f"r{i}", pad="p" * 200))
        sizes.append(path.stat().st_size)
    assert max(sizes) <= MAX_BYTES
    assert any(after < before for before, after in zip(sizes, sizes[1:]))  # rewritten, not only appended
    assert _ids(tracker) == [f"r{j}" for j in range(count - 1, count - 1 - RECENT_RUNS, -1)]


def _append_many(run_dir: str, prefix: str, count: int) -> None:
    tracker = Tracker(run_dir=run_dir)
    for i in range(count):
        tracker.index.put_last("shared", _components(f"{prefix}{i}"))


def test_two_processes_appending_at_once_lose_no_frame(tmp_path):
    """Appends from two processes interleave whole: every frame reads back intact."""
    run_dir = str(tmp_path / "runs")
    Tracker(run_dir=run_dir)
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(run_dir, p, 40)) for p in ("a", "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    path = str(Tracker(run_dir=run_dir).index._last_path("shared"))
    with open(path, "rb") as fh:
        frames = step_history._frames(fh.read())
    assert sorted(c.run_id for c in frames) == sorted(f"{p}{i}" for p in "ab" for i in range(40))
