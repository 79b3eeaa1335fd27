"""Cache control: hydration modes, read-only and epochs, missing files, recovery and verification."""

from __future__ import annotations

import errno
import gc
import os
import shutil
import time
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import Tracker, use_tracker
from consist.errors import (
    HydrationConflictError,
    InputNotFoundError,
    RecoveryError,
    RunNotFoundError,
)
from tests.helpers.chain_steps import CALLS, load, mid
from tests.helpers.chain_steps import chain as _chain


def pair(n: int) -> dict:
    CALLS.append("pair")
    return {"left": pl.DataFrame({"v": list(range(n))}), "right": pl.DataFrame({"w": [n]})}


def stamp(n: int) -> pl.DataFrame:
    CALLS.append("stamp")
    return pl.DataFrame({"n": [n], "at": [time.time_ns()]})


def scaled(a: pl.DataFrame, factor: float, label: str) -> pl.DataFrame:
    CALLS.append("scaled")
    return a.with_columns(z=pl.col("x") * factor, label=pl.lit(label))


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


# -- hydration ---------------------------------------------------------------------------


def test_metadata_hit_copies_nothing(tracker):
    """By default a hit returns artifacts pointing at the producing run's files."""
    first = tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    second = tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    assert CALLS == ["load"] and second.cache_hit
    assert second.outputs["a"].path == first.outputs["a"].path


def test_outputs_requested_copies_only_the_named_outputs(tracker, tmp_path):
    """outputs-requested copies the named outputs to the given paths; the others stay where they were."""
    first = tracker.run(pair, config={"n": 3}, outputs=["left", "right"])
    dest = tmp_path / "work" / "left.parquet"
    hit = tracker.run(
        pair, config={"n": 3}, outputs=["left", "right"],
        cache_hydration="outputs-requested", hydrate_to={"left": dest},
    )
    assert CALLS == ["pair"] and hit.cache_hit
    assert hit.outputs["left"].path == dest and dest.read_bytes() == first.outputs["left"].path.read_bytes()
    assert hit.outputs["left"].hash == first.outputs["left"].hash
    assert hit.outputs["left"].run_id == first.run.id
    assert hit.outputs["right"].path == first.outputs["right"].path
    assert _leftovers(tmp_path / "work") == ["left.parquet"]
    assert consist.load(hit.outputs["left"]).equals(consist.load(first.outputs["left"]))
    assert tracker.records.get(hit.run.id).output_map["left"].uri == str(dest)


def test_outputs_all_copies_every_output_into_a_folder(tracker, tmp_path):
    """outputs-all copies every cached output into the target folder."""
    tracker.run(pair, config={"n": 3}, outputs=["left", "right"])
    hit = tracker.run(pair, config={"n": 3}, outputs=["left", "right"], cache_hydration="outputs-all", hydrate_dir=tmp_path / "all")
    assert CALLS == ["pair"] and hit.cache_hit
    assert _leftovers(tmp_path / "all") == ["left.parquet", "right.parquet"]
    assert {k: a.path.parent for k, a in hit.outputs.items()} == {"left": tmp_path / "all", "right": tmp_path / "all"}


def folder_step(n: int, _consist_ctx) -> None:
    CALLS.append("folder")
    folder = _consist_ctx.run_dir / "tiles"
    (folder / "z1").mkdir(parents=True)
    for i in range(n):
        (folder / "z1" / f"{i}.txt").write_text(str(i))
    _consist_ctx.log_output(folder, key="tiles")


def test_folder_outputs_are_hydrated_whole(tracker, tmp_path):
    """A folder output is copied whole, with its files, and keeps its content hash."""
    first = tracker.run(folder_step, config={"n": 3}, inject_context=True)
    hit = tracker.run(folder_step, config={"n": 3}, inject_context=True, cache_hydration="outputs-all", hydrate_dir=tmp_path / "all")
    assert CALLS == ["folder"] and hit.cache_hit
    assert _leftovers(tmp_path / "all") == ["0.txt", "1.txt", "2.txt", "tiles", "z1"]
    assert tracker.hasher.hash_path(hit.outputs["tiles"].path) == first.outputs["tiles"].hash


def test_identical_destination_is_left_alone(tracker, tmp_path):
    """A destination already holding the cached bytes is not copied again."""
    tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    dest = tmp_path / "a.parquet"
    options = {"config": {"threshold": 0.5}, "outputs": ["a"], "cache_hydration": "outputs-requested", "hydrate_to": {"a": dest}}
    tracker.run(load, **options)
    before = dest.stat().st_ino
    again = tracker.run(load, **options)
    assert again.cache_hit and dest.stat().st_ino == before


def test_differing_destination_is_refused_unless_overwrite(tracker, tmp_path):
    """A destination holding other bytes is refused, naming the file, unless overwrite is asked."""
    first = tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    dest = tmp_path / "a.parquet"
    dest.write_bytes(b"mine")
    options = {"config": {"threshold": 0.5}, "outputs": ["a"], "cache_hydration": "outputs-requested", "hydrate_to": {"a": dest}}
    with pytest.raises(HydrationConflictError, match=str(dest)) as info:
        tracker.run(load, **options)
    assert "hydrate_overwrite=True" in str(info.value)
    assert dest.read_bytes() == b"mine" and CALLS == ["load"]
    hit = tracker.run(load, **options, hydrate_overwrite=True)
    assert hit.cache_hit and dest.read_bytes() == first.outputs["a"].path.read_bytes()


def test_failed_copy_is_a_miss_and_leaves_nothing(tracker, tmp_path):
    """When one requested output cannot be placed, nothing is left at any destination and the step executes."""
    tracker.run(pair, config={"n": 3}, outputs=["left", "right"])
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder is needed")
    good = tmp_path / "out" / "sub" / "left.parquet"
    result = tracker.run(
        pair, config={"n": 3}, outputs=["left", "right"], cache_hydration="outputs-requested",
        hydrate_to={"left": good, "right": blocker / "right.parquet"},
    )
    assert not result.cache_hit and CALLS == ["pair", "pair"]
    assert not (tmp_path / "out").exists()
    assert blocker.read_text() == "a file where a folder is needed"
    assert "could not hydrate" in result.run.miss_reason and "nothing was left" in result.run.miss_reason


def test_disk_full_mid_copy_leaves_no_partial_file(tracker, tmp_path, monkeypatch):
    """A copy failing half-way (disk full) removes its partial file and the copies already made."""
    tracker.run(pair, config={"n": 3}, outputs=["left", "right"])
    real_copy = shutil.copyfile
    done = []

    def copy_then_fill_disk(src, dst, *args, **kwargs):
        if done:
            with open(dst, "wb") as fh:
                fh.write(Path(src).read_bytes()[:10])
            raise OSError(errno.ENOSPC, "No space left on device")
        done.append(dst)
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", copy_then_fill_disk)
    out = tmp_path / "out"
    result = tracker.run(
        pair, config={"n": 3}, outputs=["left", "right"],
        cache_hydration="outputs-all", hydrate_dir=out,
    )
    assert not result.cache_hit and CALLS == ["pair", "pair"]
    assert _leftovers(out) == [] and "No space left" in result.run.miss_reason


def test_source_failing_its_hash_is_never_copied(tmp_path):
    """A cached output whose bytes changed is not copied, even when the cache only checks existence."""
    tracker = Tracker(run_dir=tmp_path / "runs", verify_outputs="exists")
    first = tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    first.outputs["a"].path.write_bytes(b"tampered")
    dest = tmp_path / "a.parquet"
    result = tracker.run(
        load, config={"threshold": 0.5}, outputs=["a"], cache_hydration="outputs-requested", hydrate_to={"a": dest}
    )
    assert not result.cache_hit and CALLS == ["load", "load"] and not dest.exists()
    assert "no longer matches its recorded hash" in result.run.miss_reason


def test_hydration_options_are_checked(tracker, tmp_path):
    """Missing or misplaced hydration options are reported before anything runs."""
    with pytest.raises(consist.ConfigError, match="needs output_paths=.*synonym hydrate_to="):
        tracker.run(load, config={"threshold": 0.5}, cache_hydration="outputs-requested")
    # outputs-all without hydrate_dir= copies into the new run's folder; a non-path is refused.
    with pytest.raises(consist.ConfigError, match="takes hydrate_dir="):
        tracker.run(load, config={"threshold": 0.5}, cache_hydration="outputs-all", hydrate_dir=42)
    with pytest.raises(consist.ConfigError, match="only with cache_hydration='outputs-all'"):
        tracker.run(load, config={"threshold": 0.5}, hydrate_dir=tmp_path)
    with pytest.raises(consist.ConfigError, match="'inputs-missing'"):
        tracker.run(load, config={"threshold": 0.5}, cache_hydration="everything")
    assert CALLS == []


def test_requested_output_the_cache_lacks_is_a_miss(tracker, tmp_path):
    """Asking to hydrate an output the cached run does not have makes it a miss that names the key."""
    tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    result = tracker.run(
        load, config={"threshold": 0.5}, outputs=["a"],
        cache_hydration="outputs-requested", hydrate_to={"nope": tmp_path / "x"},
    )
    assert not result.cache_hit and "no output 'nope' to hydrate" in result.run.miss_reason


def test_explain_reports_a_hydration_that_would_be_refused(tracker, tmp_path):
    """would_hit is False when hydration would refuse a differing destination; nothing is copied."""
    tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    dest = tmp_path / "a.parquet"
    dest.write_bytes(b"mine")
    options = {"config": {"threshold": 0.5}, "outputs": ["a"], "cache_hydration": "outputs-requested", "hydrate_to": {"a": dest}}
    assert tracker.would_hit(load, **options) is False
    assert "refused" in tracker.explain(load, **options).reason and dest.read_bytes() == b"mine"
    fresh = tmp_path / "fresh.parquet"
    options["hydrate_to"] = {"a": fresh}
    assert tracker.would_hit(load, **options) is True and not fresh.exists()


# -- inputs-missing ----------------------------------------------------------------------


def test_inputs_missing_copies_from_the_producing_run(tracker, tmp_path):
    """An absent input that is a hydrated copy is restored from the producing run's file, verified, before executing."""
    tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    copy = tracker.run(
        load, config={"threshold": 0.5}, outputs=["a"],
        cache_hydration="outputs-requested", hydrate_to={"a": tmp_path / "a.parquet"},
    ).outputs["a"]
    copy.path.unlink()
    result = tracker.run(mid, inputs={"a": copy}, outputs=["b"], cache_hydration="inputs-missing")
    assert CALLS == ["load", "mid"] and not result.cache_hit
    assert copy.path.exists() and tracker.hasher.hash_path(copy.path) == copy.hash


def test_inputs_missing_regenerates_when_no_copy_exists(tracker):
    """An absent input with no other copy is regenerated by re-executing its producer, then the step runs."""
    a = tracker.run(load, config={"threshold": 0.5}, outputs=["a"]).outputs["a"]
    a.path.unlink()
    with pytest.raises(InputNotFoundError, match="inputs-missing"):
        tracker.run(mid, inputs={"a": a}, outputs=["b"])
    result = tracker.run(mid, inputs={"a": a}, outputs=["b"], cache_hydration="inputs-missing")
    assert CALLS == ["load", "load", "mid"] and not result.cache_hit and a.path.exists()


def test_inputs_missing_that_cannot_be_restored_names_the_input(tracker):
    """An absent input whose producer cannot be re-imported (and is gone) fails before running, saying why."""

    def produce():
        def local_step() -> pl.DataFrame:
            return pl.DataFrame({"x": [1]})

        return tracker.run(local_step, outputs=["a"]).outputs["a"]

    a = produce()  # local_step is gone once produce returns
    gc.collect()
    a.path.unlink()
    with pytest.raises(InputNotFoundError, match=r"Input 'a' is missing .* could not restore it: .*module level"):
        tracker.run(mid, inputs={"a": a}, outputs=["b"], cache_hydration="inputs-missing")
    assert "mid" not in CALLS


def test_scenario_step_cache_hydration_restores_inputs(tracker):
    """step_cache_hydration='inputs-missing' restores a coupler input before a traced block runs (the guide's example)."""
    population = tracker.run(load, config={"threshold": 0.5}, outputs=["population"]).outputs["population"]
    population.path.unlink()
    with use_tracker(tracker), consist.scenario("baseline", step_cache_hydration="inputs-missing") as sc:
        sc.coupler.set("population", population)
        with sc.trace(name="simulate", inputs=["population"]):
            df_pop = consist.load(sc.coupler.require("population"))
    assert df_pop.height == 3 and CALLS == ["load", "load"]


# -- cache modes and epochs ----------------------------------------------------------------


def test_readonly_serves_hits_but_leaves_no_entry(tracker):
    """cache_mode='readonly' executes a miss without caching it, and serves an existing entry."""
    for _ in range(2):
        tracker.run(load, config={"threshold": 0.5}, outputs=["a"], cache_mode="readonly")
    assert CALLS == ["load", "load"]
    assert [p for p in tracker.layout.index.rglob("*") if p.is_file()] == []
    cached = tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    hit = tracker.run(load, config={"threshold": 0.5}, outputs=["a"], cache_mode="readonly")
    assert CALLS == ["load", "load", "load"] and hit.cache_hit and hit.run.reused_run_id == cached.run.id


def test_readonly_miss_does_not_replace_an_entry(tracker):
    """A read-only execution (forced by a missing output) does not replace the existing entry."""
    first = tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    entry_before = tracker.index.get(first.run.signature)
    tracker.run(load, config={"threshold": 0.5}, outputs=["a"], cache_mode="overwrite")
    replaced = tracker.index.get(first.run.signature)
    tracker.run(load, config={"threshold": 0.5}, outputs=["a"], cache_mode="readonly")
    assert replaced.run_id != entry_before.run_id
    assert tracker.index.get(first.run.signature).run_id == replaced.run_id
    assert CALLS == ["load", "load"]


def test_bumping_the_epoch_invalidates_earlier_entries(tmp_path):
    """A tracker with a higher cache_epoch re-executes what an earlier epoch cached."""
    runs = tmp_path / "runs"
    Tracker(run_dir=runs).run(load, config={"threshold": 0.5}, outputs=["a"])
    Tracker(run_dir=runs).run(load, config={"threshold": 0.5}, outputs=["a"])
    bumped = Tracker(run_dir=runs, cache_epoch=1)
    first = bumped.run(load, config={"threshold": 0.5}, outputs=["a"])
    second = bumped.run(load, config={"threshold": 0.5}, outputs=["a"])
    assert CALLS == ["load", "load"] and not first.cache_hit and second.cache_hit
    assert "cache epoch changed (0 -> 1)" in first.run.miss_reason


# -- missing files, recovery, verification -------------------------------------------------


def test_loading_a_missing_artifact_names_its_run_and_recovery(tracker):
    """consist.load of an artifact whose file is gone names the producing run and tracker.recover."""
    a = tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    a.outputs["a"].path.unlink()
    with pytest.raises(consist.ArtifactNotFoundError, match=rf"produced by run '{a.run.id}'.*tracker\.recover\(artifact\)"):
        consist.load(a.outputs["a"])


def test_recover_reexecutes_only_the_needed_steps_in_order(tracker):
    """Recovering a downstream artifact re-runs only the steps whose outputs are gone, upstream first."""
    _, b, c = _chain(tracker)
    original = c.outputs["c"].path.read_bytes()
    b.outputs["b"].path.unlink()
    c.outputs["c"].path.unlink()
    CALLS.clear()
    recovery = tracker.recover(c.outputs["c"])
    assert CALLS == ["mid", "last"]
    assert [r.name for r in recovery.executed] == ["mid", "last"]
    assert c.outputs["c"].path.read_bytes() == original and b.outputs["b"].path.exists()
    assert consist.load(c.outputs["c"]).item() == 3.0
    assert "re-executed step 'mid'" in str(recovery)
    assert tracker.verify() == []


def test_recover_of_an_intact_artifact_does_nothing(tracker):
    """Recovering an artifact whose file is intact executes and copies nothing."""
    a = tracker.run(load, config={"threshold": 0.5}, outputs=["a"]).outputs["a"]
    recovery = tracker.recover(a)
    assert recovery.executed == () and recovery.copied == () and CALLS == ["load"]


def test_recover_refuses_bytes_that_do_not_match(tracker):
    """A step that does not reproduce its bytes is not put in place, and the error says so."""
    out = tracker.run(stamp, config={"n": 1}, outputs=["s"]).outputs["s"]
    out.path.unlink()
    with pytest.raises(RecoveryError, match="not deterministic"):
        tracker.recover(out)
    assert not out.path.exists()


def test_recover_needs_importable_unchanged_code(tracker, monkeypatch):
    """Recovery refuses a function defined inside another that is gone; the live original of a renamed one re-runs."""

    def produce():
        def local_step() -> pl.DataFrame:
            return pl.DataFrame({"x": [1]})

        return tracker.run(local_step, outputs=["a"]).outputs["a"]

    local = produce()  # local_step is gone once produce returns
    gc.collect()
    local.path.unlink()
    with pytest.raises(RecoveryError, match="define the function at module level"):
        tracker.recover(local)

    a = tracker.run(load, config={"threshold": 0.5}, outputs=["a"]).outputs["a"]
    a.path.unlink()

    def edited(threshold: float) -> pl.DataFrame:
        return pl.DataFrame({"x": [0]})

    monkeypatch.setattr("tests.helpers.chain_steps.load", edited)  # the same name now holds other code
    # ... but this process still holds the original, matched by code identity: it re-runs.
    # (A process holding only the edited code is refused: tests/integration/cache/test_recover_live_functions.py.)
    recovery = tracker.recover(a)
    assert [r.name for r in recovery.executed] == ["load"] and a.path.exists()


def test_recover_asks_for_unrecorded_runtime_kwargs(tracker):
    """Runtime arguments that are not paths must be supplied again; paths are replayed from the record."""
    a = tracker.run(load, config={"threshold": 0.5}, outputs=["a"]).outputs["a"]
    out = tracker.run(
        scaled, inputs={"a": a}, config={"factor": 2.0}, outputs=["z"], runtime_kwargs={"label": "run-1"}
    ).outputs["z"]
    out.path.unlink()
    with pytest.raises(RecoveryError, match=r"runtime_kwargs \['label'\].*runtime_kwargs=\{'scaled'"):
        tracker.recover(out)
    tracker.recover(out, runtime_kwargs={"scaled": {"label": "run-1"}})
    assert consist.load(out)["label"].to_list() == ["run-1"] * 3


def test_recover_a_hydrated_copy_from_its_original(tracker, tmp_path):
    """A deleted hydrated copy is restored from the producing run's file without executing anything."""
    tracker.run(load, config={"threshold": 0.5}, outputs=["a"])
    copy = tracker.run(
        load, config={"threshold": 0.5}, outputs=["a"],
        cache_hydration="outputs-requested", hydrate_to={"a": tmp_path / "copy.parquet"},
    ).outputs["a"]
    copy.path.unlink()
    recovery = tracker.recover(copy)
    assert recovery.executed == () and len(recovery.copied) == 1 and copy.path.exists() and CALLS == ["load"]


def test_recover_a_raw_input_is_refused(tracker, raw_csv):
    """A raw input nobody produced cannot be recovered, and the error says so."""

    def count(raw: pl.DataFrame) -> pl.DataFrame:
        return raw.select(pl.len())

    raw = tracker.run(count, inputs={"raw": raw_csv}, outputs=["n"]).inputs["raw"]
    raw_csv.unlink()
    with pytest.raises(RecoveryError, match="raw input that no tracked run produced"):
        tracker.recover(raw)


def test_verify_finds_missing_and_modified_outputs(tracker):
    """verify() re-hashes outputs and names each missing or modified file and its run."""
    a, b, c = _chain(tracker)
    assert tracker.verify() == []
    b.outputs["b"].path.unlink()
    target = c.outputs["c"].path
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[-20] ^= 0xFF  # same size, mtime restored below: only a re-hash can tell
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    problems = tracker.verify()
    assert [(p.run_id, p.key, p.problem) for p in problems] == sorted(
        [(b.run.id, "b", "missing"), (c.run.id, "c", "modified")]
    )
    assert {p.path for p in problems} == {str(b.outputs["b"].path), str(target)}
    assert all(p.run_id in str(p) and p.path in str(p) for p in problems)
    assert tracker.verify(run_ids=[a.run.id]) == []
    assert [p.key for p in tracker.verify(c.run.id)] == ["c"]
    with pytest.raises(RunNotFoundError, match="no-such-run"):
        tracker.verify(["no-such-run"])
