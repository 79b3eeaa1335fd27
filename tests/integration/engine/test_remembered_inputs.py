"""What a step remembers between calls never serves a stale identity.

A raw input's artifact is remembered per path, inode and input name while the hasher's
stat memo says its bytes are unchanged (see ``consist.artifacts.files.raw_artifact``);
configs are digested by exact value (see test_remembered_digests.py); code
identity follows the function that runs. Each test counts executions with a file the step appends to.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from blake3 import blake3

from consist import Tracker
from tests.helpers.files import age, settled


def _counting(log: Path):
    def step(raw: Path, config: dict | None = None) -> dict:
        with log.open("a") as fh:
            fh.write("x\n")
        return {"size": raw.stat().st_size}

    return step


def _executions(log: Path) -> int:
    return log.read_text().count("x") if log.exists() else 0


def _run(tracker: Tracker, step, raw, *, name: str = "raw", config: dict | None = None):
    return tracker.run(step, inputs={name: raw}, config=config, outputs=["summary"])


def test_an_input_rewritten_in_place_with_its_size_kept_is_a_miss(tracker, tmp_path):
    """Same inode, same size, an older mtime than before: the new bytes count."""
    raw, log = tmp_path / "raw.csv", tmp_path / "calls.txt"
    raw.write_text("a\n1\n")
    age(raw, 30)
    step = _counting(log)
    first = _run(tracker, step, raw)
    assert _run(tracker, step, raw).cache_hit and _executions(log) == 1
    inode = raw.stat().st_ino
    with raw.open("r+") as fh:
        fh.write("a\n2\n")
    age(raw, 20)
    assert raw.stat().st_ino == inode
    second = _run(tracker, step, raw)
    assert not second.cache_hit and _executions(log) == 2
    assert second.inputs["raw"].hash == blake3(b"a\n2\n").hexdigest() != first.inputs["raw"].hash


def test_an_input_replaced_by_another_file_with_the_same_size_and_mtime_is_a_miss(tracker, tmp_path):
    """A new file renamed over the input, its mtime set to the old one's: a new inode, so re-hashed."""
    raw, log = tmp_path / "raw.csv", tmp_path / "calls.txt"
    raw.write_text("a\n1\n")
    age(raw, 30)
    step = _counting(log)
    _run(tracker, step, raw)
    before = raw.stat()
    other = tmp_path / "other.csv"
    other.write_text("a\n9\n")
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(other, raw)
    assert (raw.stat().st_size, raw.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    result = _run(tracker, step, raw)
    assert not result.cache_hit and _executions(log) == 2
    assert result.inputs["raw"].hash == blake3(b"a\n9\n").hexdigest()


def test_one_file_under_two_input_names_gets_each_name(tracker, tmp_path):
    """The remembered artifact is per input name: the second name is not served the first one's key."""
    raw = tmp_path / "raw.csv"
    raw.write_text("a\n1\n")
    age(raw)

    def both(first: Path, second: Path) -> int:
        return 1

    one = tracker.run(both, inputs={"first": raw, "second": raw}, outputs=["n"])
    two = tracker.run(both, inputs={"first": raw, "second": raw}, outputs=["n"])
    assert two.cache_hit
    for result in (one, two):
        assert {k: a.key for k, a in result.inputs.items()} == {"first": "first", "second": "second"}


def test_a_copy_of_an_input_is_a_hit_recorded_at_the_copy(tracker, tmp_path):
    """Inputs count by content; the record names the file this call read."""
    raw, log = tmp_path / "raw.csv", tmp_path / "calls.txt"
    raw.write_text("a\n1\n")
    age(raw)
    step = _counting(log)
    _run(tracker, step, raw)
    copy = tmp_path / "elsewhere" / "raw.csv"
    copy.parent.mkdir()
    shutil.copy2(raw, copy)
    result = _run(tracker, step, copy)
    assert result.cache_hit and _executions(log) == 1
    assert result.inputs["raw"].uri == str(copy)
    assert tracker.get_run(result.run_id).input_map["raw"].uri == str(copy)


def test_a_relative_input_path_follows_the_current_folder(tracker, tmp_path, monkeypatch):
    """The same relative name in two folders is two files: the second is hashed and recorded where it is."""
    log = tmp_path / "calls.txt"
    step = _counting(log)
    for folder, text in (("a", "v\n1\n"), ("b", "v\n2\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "raw.csv").write_text(text)
        age(tmp_path / folder / "raw.csv")
    monkeypatch.chdir(tmp_path / "a")
    _run(tracker, step, "raw.csv")
    monkeypatch.chdir(tmp_path / "b")
    result = _run(tracker, step, "raw.csv")
    assert not result.cache_hit and _executions(log) == 2
    assert result.inputs["raw"].uri == str((tmp_path / "b" / "raw.csv").resolve())


def test_two_trackers_name_one_file_through_their_own_mounts(tmp_path):
    """One file seen by a tracker without mounts and one with: each records it its own way."""
    data = tmp_path / "data"
    data.mkdir()
    raw = data / "raw.csv"
    raw.write_text("a\n1\n")
    age(raw)
    step = _counting(tmp_path / "calls.txt")
    plain = Tracker(run_dir=tmp_path / "plain")
    mounted = Tracker(run_dir=tmp_path / "mounted", mounts={"inputs": data})
    for _ in range(2):
        assert _run(plain, step, raw).inputs["raw"].uri == str(raw.resolve())
        assert _run(mounted, step, raw).inputs["raw"].uri == "inputs://raw.csv"


def test_a_config_changed_in_place_between_two_runs_is_a_miss(tracker, tmp_path):
    """The same dict object, mutated: its digest is taken again on every call."""
    raw, log = tmp_path / "raw.csv", tmp_path / "calls.txt"
    raw.write_text("a\n1\n")
    age(raw)
    step = _counting(log)
    config = {"threshold": 0.5, "zones": [1, 2]}
    _run(tracker, step, raw, config=config)
    assert _run(tracker, step, raw, config=config).cache_hit
    config["threshold"] = 0.6
    assert not _run(tracker, step, raw, config=config).cache_hit
    config["zones"].append(3)
    assert not _run(tracker, step, raw, config=config).cache_hit
    assert _executions(log) == 3


def _logged(log: Path, body):
    @functools.wraps(body)
    def wrapper(raw: Path) -> dict:
        with log.open("a") as fh:
            fh.write("x\n")
        return body(raw)

    return wrapper


def test_decorated_steps_are_identified_by_the_function_they_wrap(tracker, tmp_path):
    """Two functools.wraps wrappers share one code object: the wrapped functions tell them apart."""
    raw, log = tmp_path / "raw.csv", tmp_path / "calls.txt"
    raw.write_text("a\n1\n")
    age(raw)

    def summary(raw: Path) -> dict:
        return {"n": 1}

    first = _logged(log, summary)

    def summary(raw: Path) -> dict:  # noqa: F811  (redefined, as a notebook cell re-run would)
        return {"n": 2}

    second = _logged(log, summary)
    assert first.__code__ is second.__code__
    _run(tracker, first, raw)
    assert _run(tracker, first, raw).cache_hit
    assert not _run(tracker, second, raw).cache_hit
    assert _executions(log) == 2


def test_a_redefined_function_under_the_same_name_is_a_miss(tracker, tmp_path):
    """A step redefined with another body (same name, same signature) runs again."""
    raw, log = tmp_path / "raw.csv", tmp_path / "calls.txt"
    raw.write_text("a\n1\n")
    age(raw)
    namespace: dict = {"log": log}
    source = "def step(raw):\n    log.open('a').write('x\\n')\n    return {{'n': {n}}}\n"
    exec(source.format(n=1), namespace)
    _run(tracker, namespace["step"], raw)
    assert _run(tracker, namespace["step"], raw).cache_hit
    exec(source.format(n=2), namespace)
    result = _run(tracker, namespace["step"], raw)
    assert not result.cache_hit and _executions(log) == 2


def test_an_input_rewritten_in_place_with_its_size_and_mtime_put_back_is_a_miss(tracker, tmp_path, monkeypatch):
    """``cp -p`` of another version over the input: same inode, size and mtime; only the ctime moves."""
    raw, log = tmp_path / "raw.csv", tmp_path / "calls.txt"
    raw.write_text("a\n1\n")
    settled(raw, monkeypatch)  # its hash is memoised, in memory and on disk
    step = _counting(log)
    first = _run(tracker, step, raw)
    assert _run(tracker, step, raw).cache_hit and _executions(log) == 1
    before = raw.stat()
    with raw.open("r+") as fh:
        fh.write("a\n2\n")
    os.utime(raw, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (raw.stat().st_ino, raw.stat().st_size, raw.stat().st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns
    )
    second = _run(tracker, step, raw)
    assert not second.cache_hit and _executions(log) == 2
    assert second.inputs["raw"].hash == blake3(b"a\n2\n").hexdigest() != first.inputs["raw"].hash
    fresh = Tracker(run_dir=tracker.run_dir)  # the on-disk memo: a new process reads it
    assert _run(fresh, step, raw).inputs["raw"].hash == second.inputs["raw"].hash
