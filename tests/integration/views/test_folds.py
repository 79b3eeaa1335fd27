"""Folds: small artifacts of a key read from one Parquet file, with the same answers as their files.

A view or scan over many small Parquet artifacts copies their rows (with provenance) into
a fold under ``.consist/folds``; these tests check that every answer stays the one the
artifact files give, whatever happens to the files or to the folds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import polars as pl
import pytest
from sqlmodel import func, select

import consist
from consist import Tracker, use_tracker
from consist.views import fold_files
from consist.views import folds as view_folds
from tests.helpers.views import Person, make_tracker

RUNS = view_folds.FOLD_MIN + 6


def simulate(seed: int) -> pl.DataFrame:
    return pl.DataFrame({"person_id": [0, 1], "age": [seed, 40], "number_of_trips": [seed % 7, 1]})


def fill(tracker: Tracker, runs: int = RUNS, start: int = 0) -> None:
    with use_tracker(tracker):
        for seed in range(start, start + runs):
            consist.run(fn=simulate, name="simulate", config={"seed": seed}, outputs=["persons"],
                        parent_id=f"s{seed % 3}", year=2020 + seed % 4)  # fmt: skip


def expected(seeds: range) -> pl.DataFrame:
    rows = [(f"s{s % 3}", 2020 + s % 4, t) for s in seeds for t in (s % 7, 1)]
    frame = pl.DataFrame(rows, schema=["consist_scenario_id", "consist_year", "trips"], orient="row")
    return totals_of(frame.rename({"trips": "number_of_trips"}))


def totals_of(frame: pl.DataFrame) -> pl.DataFrame:
    return (frame.group_by("consist_scenario_id", "consist_year")
            .agg(pl.col("number_of_trips").sum().cast(pl.Int64).alias("trips"), pl.len().cast(pl.Int64).alias("rows"))
            .sort("consist_scenario_id", "consist_year"))  # fmt: skip


def totals(tracker: Tracker) -> pl.DataFrame:
    V = tracker.views.Person
    stmt = (select(V.consist_scenario_id, V.consist_year, func.sum(V.number_of_trips).label("trips"),
                   func.count().label("rows"))
            .group_by(V.consist_scenario_id, V.consist_year).order_by(V.consist_scenario_id, V.consist_year))  # fmt: skip
    return consist.run_query(stmt, tracker=tracker).with_columns(pl.col("trips").cast(pl.Int64), pl.col("rows").cast(pl.Int64))


def folds(tracker: Tracker) -> list[Path]:
    return sorted((tracker.layout.root / "folds").glob("*/fold-*.parquet"))


def files_read(tracker: Tracker, where: str) -> int:
    import re

    with tracker.views.querying():
        plan = tracker.catalog.connection().execute(
            f"EXPLAIN ANALYZE SELECT sum(number_of_trips) FROM person_vt WHERE {where}").fetchall()[0][1]  # fmt: skip
    return sum(int(n) for n in re.findall(r"Total Files Read: (\d+)", plan))


@pytest.fixture()
def folded(tmp_path):
    tracker = make_tracker(tmp_path, Person)
    fill(tracker)
    assert totals(tracker).equals(expected(range(RUNS)))
    assert len(folds(tracker)) == 1
    return tmp_path, tracker


def test_a_folded_view_answers_like_the_files_and_opens_one_file(folded):
    tmp_path, tracker = folded
    fresh = make_tracker(tmp_path, Person)  # a new session reads the fold, not the files
    assert totals(fresh).equals(expected(range(RUNS)))
    assert files_read(fresh, "consist_scenario_id = 's1' AND consist_year = 2021") == 1
    assert files_read(fresh, "true") == 1
    scanned = fresh.scan("persons", scenario="s1", year=2021).collect()
    assert sorted(scanned["age"].to_list()) == sorted(
        [s for s in range(RUNS) if s % 3 == 1 and s % 4 == 1] + [40] * len([s for s in range(RUNS) if s % 3 == 1 and s % 4 == 1])
    )
    assert totals_of(fresh.scan("persons").collect()).equals(expected(range(RUNS)))


def test_new_runs_are_read_from_their_files_until_there_are_enough_to_fold(folded):
    tmp_path, tracker = folded
    fill(tracker, runs=3, start=RUNS)
    assert totals(make_tracker(tmp_path, Person)).equals(expected(range(RUNS + 3)))
    assert len(folds(tracker)) == 1


def test_deleted_or_rewritten_artifacts_are_not_served_from_the_fold(folded):
    tmp_path, tracker = folded
    outputs = sorted(tracker.run_dir.glob("simulate-*/persons.parquet"))
    gone, changed = outputs[0], outputs[1]
    gone_seed = pl.read_parquet(gone)["age"][0]
    changed_seed = pl.read_parquet(changed)["age"][0]
    gone.unlink()
    pl.DataFrame({"person_id": [0], "age": [changed_seed], "number_of_trips": [1000]}).write_parquet(changed)
    fresh = make_tracker(tmp_path, Person)
    with pytest.warns(UserWarning, match="is missing"):
        got = totals(fresh)
    rows = [(f"s{s % 3}", 2020 + s % 4, t) for s in range(RUNS) if s != gone_seed for t in (
        [1000] if s == changed_seed else [s % 7, 1])]  # fmt: skip
    want = totals_of(pl.DataFrame(rows, schema=["consist_scenario_id", "consist_year", "number_of_trips"], orient="row"))
    assert got.equals(want)
    with pytest.warns(UserWarning, match="is missing"):
        scanned = fresh.scan("persons").collect()
    assert totals_of(scanned).equals(want)


@pytest.mark.parametrize("damage", ["truncate", "flip", "list"])
def test_a_damaged_fold_is_set_aside_and_the_files_read(folded, damage):
    tmp_path, tracker = folded
    fold = folds(tracker)[0]
    if damage == "truncate":
        with open(fold, "r+b") as f:
            f.truncate(fold.stat().st_size // 2)
    elif damage == "flip":
        data = bytearray(fold.read_bytes())
        data[len(data) // 2] ^= 0xFF
        fold.write_bytes(bytes(data))
    else:
        Path(fold_files.sources_path(str(fold))).write_text("{not json")
    fresh = make_tracker(tmp_path, Person)
    assert totals(fresh).equals(expected(range(RUNS)))
    assert (fold.parent / "damaged" / fold.name).exists()
    assert len(folds(fresh)) == 1  # folded again from the files


def test_a_source_in_two_folds_counts_once(folded):
    """Two processes folding the same files at once (or a copied fold) never double a row."""
    tmp_path, tracker = folded
    fold = folds(tracker)[0]
    twin = fold.with_name(fold.name.replace("fold-", "fold-9"))
    shutil.copy(fold_files.sources_path(str(fold)), fold_files.sources_path(str(twin)))
    shutil.copy(fold, twin)
    fresh = make_tracker(tmp_path, Person)
    assert totals(fresh).equals(expected(range(RUNS)))
    assert totals_of(fresh.scan("persons").collect()).equals(expected(range(RUNS)))


def test_merged_folds_replace_theirs_even_when_the_merge_was_cut_short(tmp_path, monkeypatch):
    monkeypatch.setattr(view_folds, "FOLD_MIN", 2)
    tracker = make_tracker(tmp_path, Person)
    seeds = 0
    for _ in range(view_folds.MAX_FOLDS + 1):
        fill(tracker, runs=2, start=seeds)
        seeds += 2
        assert totals(tracker).equals(expected(range(seeds)))
    merged = folds(tracker)
    assert len(merged) == 1  # nine folds merged into one
    # A merge killed before deleting what it replaced leaves them beside it: they stay unread.
    replaced = fold_files._decoder.decode(Path(fold_files.sources_path(str(merged[0]))).read_bytes()).info.replaces
    assert len(replaced) == view_folds.MAX_FOLDS + 1
    copy = merged[0].with_name(replaced[0])
    shutil.copy(merged[0], copy)
    shutil.copy(fold_files.sources_path(str(merged[0])), fold_files.sources_path(str(copy)))
    assert totals(make_tracker(tmp_path, Person)).equals(expected(range(seeds)))


def test_a_fold_killed_before_it_was_published_leaves_nothing_to_read(tmp_path):
    """A process killed while writing a fold (SIGKILL mid-copy) leaves at most unpublished files."""
    tracker = make_tracker(tmp_path, Person)
    fill(tracker)
    folder = tracker.layout.root / "folds" / "persons"
    folder.mkdir(parents=True)
    (folder / ".fold.parquet.123.abcd.tmp").write_bytes(b"PAR1 half a file")
    (folder / "fold-00000000000000000001-dead.sources.json").write_text("{}")  # list written, Parquet never renamed
    assert totals(tracker).equals(expected(range(RUNS)))
    assert totals(make_tracker(tmp_path, Person)).equals(expected(range(RUNS)))


def test_the_catalog_file_reads_the_fold_too(folded):
    tmp_path, tracker = folded
    tracker.views.flush()
    con = duckdb.connect(str(tmp_path / "provenance.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*), sum(number_of_trips) FROM person_vt").fetchone() == (
            2 * RUNS, sum(s % 7 + 1 for s in range(RUNS)))  # fmt: skip
    finally:
        con.close()


def test_a_burst_killed_mid_fold_never_doubles_rows(tmp_path):
    """Processes killed at random points while folding leave answers equal to the files'."""
    tracker = make_tracker(tmp_path, Person)
    fill(tracker)
    script = tmp_path / "query.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
        from tests.helpers.views import Person, make_tracker
        from tests.integration.views.test_folds import totals
        from pathlib import Path
        totals(make_tracker(Path({str(tmp_path)!r}), Person))
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for delay in (0.3, 0.6, 0.9, 1.2):
        proc = subprocess.Popen([sys.executable, str(script)], env=env)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert totals(make_tracker(tmp_path, Person)).equals(expected(range(RUNS)))


def test_a_moved_run_folder_is_folded_again_once(folded):
    """After the whole run folder moved, old folds name old paths: the files are folded again, once."""
    tmp_path, tracker = folded
    shutil.copytree(tmp_path / "runs", tmp_path / "moved" / "runs", symlinks=True)
    moved = Tracker(run_dir=tmp_path / "moved" / "runs", db_path=tmp_path / "moved" / "p.duckdb", schemas=[Person])
    assert totals(moved).equals(expected(range(RUNS)))
    assert len(folds(moved)) == 2  # the copied fold (paths of the old folder) and one of the moved files
    again = Tracker(run_dir=tmp_path / "moved" / "runs", db_path=tmp_path / "moved" / "p.duckdb", schemas=[Person])
    assert totals(again).equals(expected(range(RUNS)))
    assert totals_of(again.scan("persons").collect()).equals(expected(range(RUNS)))
    assert len(folds(again)) == 2


def test_folds_under_a_run_folder_named_like_a_pattern(tmp_path):
    """A run folder named ``runs[1]`` is read literally, folds included."""
    tracker = Tracker(run_dir=tmp_path / "runs[1]", db_path=tmp_path / "p.duckdb", schemas=[Person])
    fill(tracker)
    assert totals(tracker).equals(expected(range(RUNS)))
    assert len(folds(tracker)) == 1
    fresh = Tracker(run_dir=tmp_path / "runs[1]", db_path=tmp_path / "p.duckdb", schemas=[Person])
    assert totals(fresh).equals(expected(range(RUNS)))
    assert totals_of(fresh.scan("persons").collect()).equals(expected(range(RUNS)))


def test_an_artifact_rewritten_with_its_size_and_mtime_put_back_is_read_from_its_file(folded):
    """Bytes of another run copied over an artifact in place (``cp -p``): only the ctime moved."""
    tmp_path, tracker = folded
    outputs = sorted(tracker.run_dir.glob("simulate-*/persons.parquet"))
    by_size: dict[int, list[Path]] = {}
    for path in outputs:
        by_size.setdefault(path.stat().st_size, []).append(path)
    pair = next(paths for paths in by_size.values()
                if len(paths) > 1 and paths[0].read_bytes() != paths[1].read_bytes())  # fmt: skip
    changed, source = pair[0], pair[1]
    changed_seed, source_seed = pl.read_parquet(changed)["age"][0], pl.read_parquet(source)["age"][0]
    before = changed.stat()
    with changed.open("r+b") as fh:
        fh.write(source.read_bytes())
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (changed.stat().st_ino, changed.stat().st_size, changed.stat().st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns)  # fmt: skip
    rows = [(f"s{s % 3}", 2020 + s % 4, t) for s in range(RUNS)
            for t in ([source_seed % 7, 1] if s == changed_seed else [s % 7, 1])]  # fmt: skip
    want = totals_of(pl.DataFrame(rows, schema=["consist_scenario_id", "consist_year", "number_of_trips"], orient="row"))
    fresh = make_tracker(tmp_path, Person)
    assert totals(fresh).equals(want)
    assert totals_of(fresh.scan("persons").collect()).equals(want)


def test_a_fold_listed_before_ctimes_were_kept_still_serves(folded):
    import json

    tmp_path, tracker = folded
    (fold,) = folds(tracker)
    listing = Path(fold_files.sources_path(str(fold)))
    manifest = json.loads(listing.read_bytes())
    assert len(manifest.pop("ctimes")) == RUNS
    listing.write_text(json.dumps(manifest))
    fresh = make_tracker(tmp_path, Person)
    assert totals(fresh).equals(expected(range(RUNS)))
    assert files_read(fresh, "true") == 1
