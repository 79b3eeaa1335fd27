"""Bad input and faults in consist.run: one clear error, nothing cached, nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import Tracker, use_tracker


def _entries(tracker: Tracker) -> list[Path]:
    return [p for p in tracker.layout.index.rglob("*") if p.is_file()]


def test_missing_input_path_fails_before_running(tracker, tmp_path):
    """A missing input names the path and the function never runs."""
    calls = []
    with use_tracker(tracker), pytest.raises(consist.InputNotFoundError, match="nope.csv"):
        consist.run(fn=lambda raw: calls.append(1), inputs={"raw": tmp_path / "nope.csv"})
    assert calls == [] and _entries(tracker) == []


def test_input_of_wrong_kind(tracker, raw_csv):
    """An input that is neither a path nor an artifact says what was expected."""
    with use_tracker(tracker), pytest.raises(consist.InputError, match=r"'zones' is a list\[PosixPath\]; expected a path or an artifact"):
        consist.run(fn=lambda zones: None, inputs={"zones": [raw_csv, raw_csv]})


def test_unhashable_config_value_names_its_place(tracker):
    """An unhashable config value is reported with where it sits, before running."""
    calls = []
    with use_tracker(tracker), pytest.raises(consist.UnhashableInputError, match=r"config\['a'\]\['b'\]"):
        consist.run(fn=lambda: calls.append(1), config={"a": {"b": object()}})
    assert calls == []


def test_declared_output_not_produced(tracker):
    """A declared but missing output fails the run, records it as failed, and caches nothing."""
    calls = []

    def step() -> pl.DataFrame:
        calls.append(1)
        return pl.DataFrame({"a": [1]})

    with use_tracker(tracker):
        with pytest.raises(consist.OutputMissingError, match=r"\['other'\]"):
            consist.run(fn=step, outputs=["main", "other"])
        with pytest.raises(consist.OutputMissingError):
            consist.run(fn=step, outputs=["main", "other"])
    assert len(calls) == 2
    assert _entries(tracker) == []
    failed = [r for r in tracker.records.iter_fresh() if r.status == "failed"]
    assert len(failed) == 2 and "OutputMissingError" in failed[0].error


def test_context_parameter_without_inject_context_says_to_pass_it(tracker):
    """A function taking _consist_ctx called without inject_context=True is told to add it, and never runs."""
    calls = []

    def step(_consist_ctx) -> None:
        calls.append(1)

    with use_tracker(tracker), pytest.raises(consist.ConfigError, match="inject_context=True"):
        consist.run(fn=step)
    assert calls == [] and _entries(tracker) == []


def test_dict_of_frames_under_other_keys_names_the_missing_output(tracker):
    """A dict of frames whose keys differ from the one declared output is reported by key name, and nothing is cached."""
    calls = []

    def step() -> dict:
        calls.append(1)
        return {"x": pl.DataFrame({"a": [1]})}

    with use_tracker(tracker):
        with pytest.raises(consist.OutputMissingError, match=r"\['o'\].*produced: x"):
            consist.run(fn=step, outputs=["o"])
    assert calls == [1] and _entries(tracker) == []


def test_inject_context_without_parameter(tracker):
    """inject_context on a function without _consist_ctx is refused before it runs."""
    calls = []
    with use_tracker(tracker), pytest.raises(consist.ConfigError, match="_consist_ctx"):
        consist.run(fn=lambda: calls.append(1), inject_context=True)
    assert calls == []


@pytest.mark.parametrize("key", ["../x", "a/b", "..", ".hidden", ""])
def test_keys_cannot_escape_the_run_folder(tracker, key):
    """An output key that would escape or hide in the run folder is refused."""
    with use_tracker(tracker), pytest.raises(consist.UnsafeKeyError):
        consist.run(fn=lambda: pl.DataFrame({"a": [1]}), outputs=[key])
    assert list(tracker.run_dir.glob("*/*.parquet")) == []


def test_run_id_cannot_escape(tracker):
    """A run_id with a path separator is refused."""
    with use_tracker(tracker), pytest.raises(consist.UnsafeKeyError):
        consist.run(fn=lambda: pl.DataFrame({"a": [1]}), outputs=["a"], run_id="../evil")


def test_missing_required_parameter_is_explained(tracker):
    """A parameter nothing supplies is named before the function runs."""
    with use_tracker(tracker), pytest.raises(consist.ConfigError, match="'raw'"):
        consist.run(fn=lambda raw: None)


def test_failing_function_is_recorded_and_not_cached(tracker):
    """A raising step propagates its own exception, is recorded failed, and runs again next time."""
    calls = []

    class Boom(Exception):
        pass

    def step() -> pl.DataFrame:
        calls.append(1)
        raise Boom("model diverged")

    with use_tracker(tracker):
        for _ in range(2):
            with pytest.raises(Boom, match="model diverged"):
                consist.run(fn=step, outputs=["o"])
    assert len(calls) == 2
    runs = list(tracker.records.iter_fresh())
    assert [r.status for r in runs] == ["failed", "failed"]
    assert all("model diverged" in r.error for r in runs)
    assert _entries(tracker) == []


def test_deleted_output_reexecutes(tracker):
    """A cached output deleted from disk is noticed and the step runs again."""
    calls = []

    def make() -> pl.DataFrame:
        calls.append(1)
        return pl.DataFrame({"a": [1]})

    with use_tracker(tracker):
        first = consist.run(fn=make, outputs=["o"])
        first.outputs["o"].path.unlink()
        second = consist.run(fn=make, outputs=["o"])
    assert len(calls) == 2 and not second.cache_hit
    assert "missing" in second.run.miss_reason
    assert second.outputs["o"].path.exists()


def test_modified_output_reexecutes_unless_opted_out(tmp_path):
    """A cached output modified on disk is not served; verify_outputs='exists' opts out."""
    calls = []

    def make() -> pl.DataFrame:
        calls.append(1)
        return pl.DataFrame({"a": [1]})

    tracker = Tracker(run_dir=tmp_path / "runs")
    with use_tracker(tracker):
        first = consist.run(fn=make, outputs=["o"])
        pl.DataFrame({"a": [666]}).write_parquet(first.outputs["o"].path)
        second = consist.run(fn=make, outputs=["o"])
    assert len(calls) == 2 and "modified" in second.run.miss_reason
    assert consist.load(second.outputs["o"])["a"].to_list() == [1]

    lenient = Tracker(run_dir=tmp_path / "runs", verify_outputs="exists")
    pl.DataFrame({"a": [777]}).write_parquet(second.outputs["o"].path)
    with use_tracker(lenient):
        assert consist.run(fn=make, outputs=["o"]).cache_hit
    assert len(calls) == 2


def test_killed_process_leaves_no_cache_entry_and_no_partial_record(tmp_path):
    """A step killed with SIGKILL mid-run leaves no cache entry and no half-written record; the next call runs."""
    script = tmp_path / "step.py"
    script.write_text(textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        import polars as pl
        import consist
        from consist import Tracker, use_tracker

        def slow(n: int) -> pl.DataFrame:
            Path({str(tmp_path / 'started')!r}).write_text('1')
            time.sleep(float(sys.argv[1]))
            return pl.DataFrame({{"n": [n]}})

        with use_tracker(Tracker(run_dir={str(tmp_path / 'runs')!r})):
            r = consist.run(fn=slow, config={{"n": 1}}, outputs=["o"])
            print("HIT" if r.cache_hit else "RAN")
        """
    ))
    proc = subprocess.Popen([sys.executable, str(script), "30"])
    deadline = time.time() + 30
    while not (tmp_path / "started").exists():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    tracker = Tracker(run_dir=tmp_path / "runs")
    assert _entries(tracker) == []
    assert list(tracker.records.iter_fresh()) == []
    assert list(tracker.layout.root.rglob("*.tmp")) == []
    out = subprocess.run([sys.executable, str(script), "0"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "RAN"
    out = subprocess.run([sys.executable, str(script), "0"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "HIT"


def test_hash_verification_catches_edits_that_keep_size_and_mtime(tmp_path):
    """verify_outputs='hash' re-hashes cached outputs on every hit, catching edits a stat check cannot see."""
    calls = []

    def make() -> Path:
        calls.append(1)
        out = tmp_path / "out.txt"
        out.write_text("AAAA")
        return out

    tracker = Tracker(run_dir=tmp_path / "runs", verify_outputs="hash")
    with use_tracker(tracker):
        first = consist.run(fn=make, outputs=["o"])
        path = first.outputs["o"].path
        st = path.stat()
        path.write_text("BBBB")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        second = consist.run(fn=make, outputs=["o"])
    assert len(calls) == 2 and "no longer matches" in second.run.miss_reason


def test_unsafe_step_name_still_gives_a_safe_default_output_key(tracker):
    """A step named like a path returns its single undeclared output under a safe key."""
    with use_tracker(tracker):
        result = consist.run(fn=lambda: pl.DataFrame({"a": [1]}), name="../model/a")
    (key,) = result.outputs
    assert "/" not in key and not key.startswith(".")
    assert result.outputs[key].path.parent.parent == tracker.run_dir


def test_zarr_store_refuses_a_frame_kind(tracker, tmp_path):
    """Loading a zarr store as a frame kind is a clear error rather than a silent store."""
    import zarr

    store = tmp_path / "skims.zarr"
    zarr.open(str(store), mode="w", shape=(2, 2), dtype="f8")[:] = 1.0
    with pytest.raises(consist.ConfigError, match="zarr store"):
        consist.load(store, as_="pandas")


def test_keyboard_interrupt_in_a_step_propagates_and_the_next_call_executes(tracker):
    """Ctrl-C inside a step reaches the caller unchanged, is recorded as failed, and leaves no cache entry."""
    calls: list[str] = []
    interrupt = KeyboardInterrupt()

    def slow(k: int) -> dict:
        calls.append("run")
        if len(calls) == 1:
            raise interrupt
        return {"k": k}

    with use_tracker(tracker):
        try:
            consist.run(fn=slow, config={"k": 1}, outputs=["out"])
        except KeyboardInterrupt as exc:
            assert exc is interrupt
        else:
            raise AssertionError("KeyboardInterrupt was swallowed")
        failed = tracker.find_runs(name="slow", status="failed")
        assert [r.error for r in failed] == ["KeyboardInterrupt"]
        assert not consist.run(fn=slow, config={"k": 1}, outputs=["out"]).cache_hit
        assert consist.run(fn=slow, config={"k": 1}, outputs=["out"]).cache_hit
    assert calls == ["run", "run"]
