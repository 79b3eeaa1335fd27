"""A real catalog damaged the way users damage one: never a wrong hit, never a lost or doubled run.

Each test builds a catalog by running steps, damages its files on disk as a sync tool,
a partial copy or a bad sector would, then checks through the public API. Executions
are counted in a file each execution appends to; readers that could crash on damaged
bytes run in a subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import Tracker
from consist.catalog import compaction, segments
from tests.helpers.journals import fresh_ids, record_line

STEPS = 12


def make(i: int) -> pl.DataFrame:
    with open(os.environ["DAMAGE_LOG"], "a") as fh:
        fh.write(f"{i}\n")
    return pl.DataFrame({"i": [i]})


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "executions.txt"
    monkeypatch.setenv("DAMAGE_LOG", str(path))
    return path


def executions(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def run(tracker: Tracker, i: int, **kwargs):
    return tracker.run(make, config={"i": i}, outputs=["t"], **kwargs)


def value(result) -> int:
    return pl.read_parquet(result.outputs["t"].path)["i"][0] if result.outputs["t"].driver == "parquet" else -1


def compacted(tracker: Tracker, monkeypatch: pytest.MonkeyPatch, n: int = STEPS) -> list[str]:
    """``n`` runs folded into one segment, their fresh files gone; their ids."""
    tracker.records.auto_compact = False
    ids = [run(tracker, i).run.id for i in range(n)]
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    tracker.compact()
    tracker.compact()  # the second settles the folded fresh files
    assert not [n for n in os.listdir(tracker.layout.fresh) if not n.startswith(".")]
    return ids


def only_segment(tracker: Tracker) -> Path:
    names = segments.list_segment_names(tracker.layout.segments)
    assert len(names) == 1
    return tracker.layout.segments / names[0]


def reader_in_subprocess(tracker: Tracker) -> tuple[int, str, str]:
    """find_runs and get_run of every run in a fresh process (a SIGSEGV must not take the test down)."""
    code = textwrap.dedent(
        f"""
        import json
        from consist import Tracker
        t = Tracker(run_dir={str(tracker.run_dir)!r}, db_path={str(tracker.db_path)!r})
        runs = t.find_runs(status=None)
        got = []
        for r in runs:
            got.append(t.get_run(r.id).id)
        print(json.dumps(sorted(got)))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(consist.__file__).parent.parent)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def query_in_subprocess(tracker: Tracker, sql: str) -> tuple[list[list], str]:
    """Rows of ``sql`` through run_query in a fresh process (damaged Parquet must not take the test down), and its stderr."""
    code = textwrap.dedent(
        f"""
        import json, logging
        logging.basicConfig(level=logging.WARNING)
        from consist import Tracker
        t = Tracker(run_dir={str(tracker.run_dir)!r}, db_path={str(tracker.db_path)!r})
        print(json.dumps([list(r) for r in t.run_query({sql!r}).rows()]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(consist.__file__).parent.parent)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def all_ids(tracker: Tracker) -> list[str]:
    tracker.catalog.refresh()
    return sorted(r.id for r in tracker.find_runs(status=None))


# -- wrong results ---------------------------------------------------------------------


def test_an_index_file_holding_another_signatures_entry_is_a_miss(tracker, log, caplog):
    """index/<aa>/<sig> overwritten with another config's entry: the step runs, never serves i=2 for i=1."""
    one, two = run(tracker, 1), run(tracker, 2)
    shutil.copyfile(tracker.layout.index_path(two.run.signature), tracker.layout.index_path(one.run.signature))
    with caplog.at_level(logging.WARNING, logger="consist.cache"):
        again = run(tracker, 1)
    assert not again.cache_hit and value(again) == 1
    assert executions(log) == [1, 2, 1]
    assert str(tracker.layout.index_path(one.run.signature)) in caplog.text
    assert run(tracker, 1).cache_hit and executions(log) == [1, 2, 1]  # rewritten by the re-run
    assert value(run(tracker, 2)) == 2 and executions(log) == [1, 2, 1]


def test_damaged_arrow_offsets_never_crash_and_rebuild_recovers(tracker, log, monkeypatch):
    """Offsets of a segment's records file damaged: readers skip it by name; rebuild restores every run."""
    ids = compacted(tracker, monkeypatch)
    records = segments.records_path(only_segment(tracker))
    data = bytearray(records.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    records.write_bytes(bytes(data))
    code, out, err = reader_in_subprocess(tracker)
    assert code == 0, err
    assert records.name in err and "consist rebuild" in err
    report = tracker.rebuild_catalog()
    assert report.damaged and report.recovered == STEPS and report.lost == []
    assert all_ids(tracker) == sorted(ids)
    code, out, err = reader_in_subprocess(tracker)
    assert code == 0 and out.strip() == str(sorted(ids)).replace("'", '"')
    assert all(run(tracker, i).cache_hit for i in range(STEPS)) and len(executions(log)) == STEPS


def test_one_changed_byte_in_a_stored_record_is_never_returned(tracker, log, monkeypatch, caplog):
    """A digit changed inside one record of the records file: reported by name, never read back as the record."""
    ids = compacted(tracker, monkeypatch)
    originals = {i: tracker.get_run(i) for i in ids}
    records = segments.records_path(only_segment(tracker))
    data = records.read_bytes()
    needle = f'"id":"{ids[5]}"'.encode()
    at = data.index(needle) + len(needle) - 3  # inside the id's random hex: still valid JSON
    changed = bytes([data[at] ^ 0x01])
    records.write_bytes(data[:at] + changed + data[at + 1 :])
    other = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        found = other.find_runs(status=None)
    assert all(originals.get(r.id) == r for r in found)  # every run shown is an intact record
    assert records.name in caplog.text and "digest" in caplog.text
    with pytest.raises(consist.RunNotFoundError):
        other.get_run(ids[5])  # never the changed bytes
    report = other.rebuild_catalog()
    assert report.recovered == STEPS and report.lost == []
    assert all_ids(other) == sorted(ids)
    assert all(other.get_run(i).config == originals[i].config for i in ids)


def test_random_bytes_in_a_parquet_segment_never_give_wrong_rows(tracker, log, monkeypatch):
    """Bytes in the middle of a Parquet segment overwritten: no wrong artifact ids; rebuild from the records twin."""
    ids = compacted(tracker, monkeypatch)
    before = tracker.run_query("SELECT run_id, artifact_id, key FROM run_artifacts ORDER BY ALL").rows()
    seg = only_segment(tracker)
    data = bytearray(seg.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 200] = os.urandom(200)
    seg.write_bytes(bytes(data))
    rows, err = query_in_subprocess(tracker, "SELECT run_id, artifact_id, key FROM run_artifacts ORDER BY ALL")
    assert {tuple(r) for r in rows} <= set(before) and seg.name in err
    other = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    report = other.rebuild_catalog()
    assert report.recovered == STEPS and report.lost == []
    assert other.run_query("SELECT run_id, artifact_id, key FROM run_artifacts ORDER BY ALL").rows() == before
    assert all_ids(other) == sorted(ids)
    assert [value(run(other, i)) for i in range(STEPS)] == list(range(STEPS)) and len(executions(log)) == STEPS


def test_a_truncated_segment_is_rebuilt_from_its_records_twin(tracker, log, monkeypatch, capsys):
    """A truncated Parquet segment hides nothing after `consist rebuild`, which names it and restores every run."""
    from consist.cli import main

    ids = compacted(tracker, monkeypatch)
    seg = only_segment(tracker)
    seg.write_bytes(seg.read_bytes()[: seg.stat().st_size // 2])
    assert main(["--run-dir", str(tracker.run_dir), "--db-path", str(tracker.db_path), "rebuild"]) == 0
    out = capsys.readouterr().out
    assert seg.name in out and f"({STEPS} runs)" in out
    assert all_ids(Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)) == sorted(ids)


def test_a_records_file_deleted_under_its_segment_is_a_catalog_error_then_rebuilt(tracker, log, monkeypatch):
    """The records twin of a live segment vanishes: a CatalogError naming it and `consist rebuild`; rebuild restores."""
    ids = compacted(tracker, monkeypatch)
    seg = only_segment(tracker)
    other = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    other.run_query("SELECT count(*) FROM runs")  # planned: the segment is listed, its records not yet read
    segments.records_path(seg).unlink()
    with pytest.raises(consist.CatalogError, match=r"records\.arrow.*consist rebuild"):
        other.find_runs(status=None)
    with pytest.raises(consist.CatalogError, match=r"records\.arrow.*consist rebuild"):
        other.get_run(ids[0])
    report = other.rebuild_catalog()
    assert report.recovered == STEPS
    assert all_ids(other) == sorted(ids)
    assert other.get_run(ids[3]).outputs[0].key == "t"


@pytest.mark.parametrize("damage", ["deleted", "truncated", "another segment's", "random bytes"])
def test_a_damaged_id_index_never_gives_another_runs_record(tracker, log, monkeypatch, damage):
    """The id index beside a segment (a hint for lookups by id) damaged: get_run still returns each run's own record."""
    tracker.records.auto_compact = False
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    first = [run(tracker, i).run for i in range(6)]
    tracker.compact()
    second = [run(tracker, i).run for i in range(6, 12)]
    tracker.compact()
    tracker.compact()
    index_a, index_b = sorted(tracker.layout.segments.glob("seg-*.ids"))
    if damage == "deleted":
        index_a.unlink()
    elif damage == "truncated":
        index_a.write_bytes(index_a.read_bytes()[:20])
    elif damage == "another segment's":
        shutil.copyfile(index_b, index_a)
    else:
        data = bytearray(index_a.read_bytes())
        data[-30:] = os.urandom(30)
        index_a.write_bytes(bytes(data))
    for expected in first + second:
        fresh_process = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
        assert fresh_process.get_run(expected.id) == expected
    with pytest.raises(consist.RunNotFoundError):
        Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path).get_run("no-such-run")


# -- lost or doubled runs ----------------------------------------------------------------


def test_an_explicit_id_of_a_compacted_run_is_not_handed_out_again(tracker, log, monkeypatch):
    """Without the ids folder (a copied catalog) an id a segment holds is still taken; nothing is lost."""
    tracker.records.auto_compact = False
    first = run(tracker, 1, run_id="calibrate")
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    tracker.compact()
    tracker.compact()
    shutil.rmtree(tracker.layout.ids)
    copy = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    second = run(copy, 2, run_id="calibrate")
    assert second.run.id != "calibrate" and second.run.id.startswith("calibrate~")
    copy.compact()
    copy.compact()
    assert copy.get_run("calibrate") == first.run and copy.get_run(second.run.id) == second.run
    assert all_ids(copy) == sorted([first.run.id, second.run.id]) and executions(log) == [1, 2]


def test_generated_ids_that_collide_are_claimed_exclusively(tracker, log, monkeypatch):
    """Two runs drawing the same generated id (forced here) get distinct records and outputs."""
    import consist.engine.run_ids as engine

    draws = iter(["deadbeef", "deadbeef", "deadbeef", "cafef00d"])
    monkeypatch.setattr(engine.secrets, "token_hex", lambda n=None: next(draws, None) or os.urandom(4).hex())
    monkeypatch.setattr(engine.time, "strftime", lambda fmt, *a: "20260101-000000")
    one, two = run(tracker, 1), run(tracker, 2)
    assert one.run.id != two.run.id
    assert value(one) == 1 and value(two) == 2 and executions(log) == [1, 2]
    for result, i in ((one, 1), (two, 2)):
        assert pl.read_parquet(tracker.get_run(result.run.id).output_map["t"].path)["i"][0] == i
    assert all_ids(tracker) == sorted([one.run.id, two.run.id])


def test_a_conflicted_copy_of_a_fresh_record_is_not_a_second_run(tracker, log, monkeypatch, caplog):
    """A sync tool's copy of a record under another name: each run once, before and after compaction."""
    tracker.records.auto_compact = False
    results = [run(tracker, i) for i in range(3)]
    original = Path(tracker.records.journal_path)  # the records' journal
    shutil.copyfile(original, original.with_name(f"{original.stem} (conflicted copy).json"))
    expected = sorted(r.run.id for r in results)
    assert all_ids(tracker) == expected
    assert tracker.run_query("SELECT count(*) AS n FROM runs")["n"][0] == 3
    # A copy that differs (edited on another machine) is reported by name, never a second run.
    different = original.with_name(f"{original.stem} (edited).json")
    _, at, line = record_line(tracker.layout.fresh, results[1].run.id)
    data = original.read_bytes()
    different.write_bytes(data[:at] + line.replace(b'"completed"', b'"failed"') + data[at + len(line) :])
    fresh = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        assert all_ids(fresh) == expected
    assert different.name in caplog.text
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    report = fresh.compact()
    assert report.folded == 3 and len(report.conflicts) == 1
    fresh.compact()
    assert all_ids(fresh) == expected
    assert fresh.run_query("SELECT count(*) AS n FROM runs")["n"][0] == 3
    assert fresh.get_run(results[1].run.id).status == "completed"
    assert all(run(fresh, i).cache_hit for i in range(3)) and executions(log) == [0, 1, 2]


def test_runs_an_older_consist_made_permanent_twice_are_listed_once_and_rebuilt_once(tracker, log, monkeypatch):
    """Segments holding a run twice (an older compaction folded a conflicted copy): find_runs lists it once; rebuild fixes SQL."""
    from consist.catalog.records import encode_run

    ids = compacted(tracker, monkeypatch, 4)
    twice = tracker.get_run(ids[1])
    pair = (twice, encode_run(twice))
    segments.write_segment(tracker.layout.segments, [pair])  # the same run in a second segment
    segments.write_segment(tracker.layout.segments, [pair, pair])  # and twice within a third
    other = Tracker(run_dir=tracker.run_dir, db_path=tracker.db_path)
    assert sorted(r.id for r in other.find_runs(status=None)) == sorted(ids)
    report = other.rebuild_catalog()
    assert report.duplicates == 3
    assert other.run_query("SELECT count(*) AS n, count(DISTINCT id) AS d FROM runs").rows() == [(4, 4)]
    assert all_ids(other) == sorted(ids) and other.get_run(ids[1]) == twice
    assert all(run(other, i).cache_hit for i in range(4)) and len(executions(log)) == 4


def test_compaction_keeps_a_fresh_record_that_differs_from_its_segment(tracker, log, monkeypatch):
    """A fresh record whose id a segment already holds with other bytes is moved aside, never deleted."""
    ids = compacted(tracker, monkeypatch, 3)
    stray = tracker.layout.record_path(ids[0])
    stray.write_bytes(_other_record(tracker, ids[0]))
    report = tracker.compact()
    assert len(report.conflicts) == 1 and Path(report.conflicts[0]).exists()
    assert all_ids(tracker) == sorted(ids)


def _other_record(tracker: Tracker, run_id: str) -> bytes:
    from consist.catalog.records import encode_run

    run = tracker.get_run(run_id)
    return encode_run(type(run)(**{**{f: getattr(run, f) for f in run.__struct_fields__}, "status": "failed"}))


def test_fresh_records_stay_for_outside_readers_during_the_grace_period(tracker, log):
    """Compaction folds fresh records but leaves their files for the grace period (an outside DuckDB reader)."""
    tracker.records.auto_compact = False
    ids = [run(tracker, i).run.id for i in range(4)]
    report = tracker.compact()
    assert report.folded == 4
    assert fresh_ids(tracker.layout.fresh) == sorted(ids)
    import duckdb

    con = duckdb.connect(str(tracker.db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM runs").fetchone() == (4, 4)
    finally:
        con.close()
    assert all_ids(tracker) == sorted(ids)


def test_an_unreadable_record_is_a_catalog_error_naming_it(tracker, log):
    """A record whose reads fail (EIO, a bad sector) is not "not found": CatalogError naming the file."""
    result = run(tracker, 1)
    path = Path(tracker.records.journal_path)  # the journal holding the record
    saved = path.read_bytes()
    path.unlink()
    path.symlink_to("/proc/self/mem")  # every read fails with EIO
    try:
        with pytest.raises(consist.CatalogError, match=re.escape(str(path))):
            Tracker(run_dir=tracker.run_dir).get_run(result.run.id)
    finally:
        path.unlink()
        path.write_bytes(saved)
    assert tracker.get_run(result.run.id) == result.run


def test_queries_over_an_unreadable_record_are_a_catalog_error_naming_it(tracker, log):
    """Listing runs read such a record with a raw OSError; a run must not silently drop out either."""
    result = run(tracker, 1)
    run(tracker, 2)
    path = Path(tracker.records.journal_path)  # the journal holding both records
    saved = path.read_bytes()
    path.unlink()
    path.symlink_to("/proc/self/mem")  # every read fails with EIO
    try:
        fresh = Tracker(run_dir=tracker.run_dir)
        with pytest.raises(consist.CatalogError, match=re.escape(str(path))):
            fresh.find_runs()
        with pytest.raises(consist.CatalogError, match=re.escape(str(path))):
            consist.run_query("select count(*) as n from runs", tracker=Tracker(run_dir=tracker.run_dir))
    finally:
        path.unlink()
        path.write_bytes(saved)
    assert sorted(r.config["i"] for r in Tracker(run_dir=tracker.run_dir).find_runs()) == [1, 2]
