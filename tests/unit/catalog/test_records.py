"""Run records: append, read back, compaction into segments, and killed-compaction states."""

from __future__ import annotations

import logging
import os
import time

import pytest

from consist import Tracker
from consist.catalog import compaction, segments
from consist.catalog.records import encode_run
from tests.helpers.records import make_run


def ids(tracker: Tracker) -> list[str]:
    return sorted(r.id for r in tracker.find_runs(status=None))


@pytest.fixture
def quiet(tracker: Tracker) -> Tracker:
    """A tracker that compacts only when asked."""
    tracker.records.auto_compact = False
    return tracker


def test_appended_record_reads_back_identically(quiet, monkeypatch):
    """A run appended is read back equal to what was written, before and after compaction."""
    run = make_run(1)
    quiet.records.append(run)
    assert quiet.get_run("run-1") == run
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)  # folded fresh files otherwise stay a while for readers
    quiet.compact()
    assert not list(quiet.layout.fresh.glob("run-*.json"))
    assert quiet.get_run("run-1") == run
    assert quiet.find_run(id="run-1") == run


def test_compaction_folds_fresh_records_and_readers_see_both(quiet):
    """After compaction, compacted and fresh runs are found together, each once."""
    for i in range(5):
        quiet.records.append(make_run(i))
    report = quiet.compact()
    assert report.folded == 5
    for i in range(5, 8):
        quiet.records.append(make_run(i))
    assert ids(quiet) == sorted(f"run-{i}" for i in range(8))
    assert len(segments.list_segment_names(quiet.layout.segments)) == 1


def test_automatic_compaction_past_the_threshold(tracker, monkeypatch):
    """Appending past the threshold compacts (in the background) without being asked."""
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)  # folded fresh files otherwise stay a while for readers
    tracker.records.compact_threshold = 16
    for i in range(40):
        tracker.records.append(make_run(i))
    tracker.records.wait_for_compaction()
    assert len(list(tracker.layout.fresh.glob("run-*.json"))) < 40
    assert segments.list_segment_names(tracker.layout.segments)
    assert len(ids(tracker)) == 40


def test_segments_of_one_level_are_merged(quiet):
    """FANOUT small segments are merged into one, which replaces them for readers."""
    quiet.records.compact_threshold = 2
    for n in range(compaction.FANOUT):
        for i in range(2):
            quiet.records.append(make_run(n * 2 + i))
        quiet.compact()
    quiet.catalog.refresh()
    assert len(quiet.catalog.segments.live) == 1
    assert ids(quiet) == sorted(f"run-{i}" for i in range(2 * compaction.FANOUT))
    assert quiet.get_run("run-3") == make_run(3)


def test_replaced_segments_are_deleted_after_the_grace_period(quiet, monkeypatch):
    """Files of merged-away segments stay for readers a while, then a compaction deletes them."""
    quiet.records.compact_threshold = 1
    for n in range(compaction.FANOUT):
        quiet.records.append(make_run(n))
        quiet.compact()
    assert len(segments.list_segment_names(quiet.layout.segments)) == compaction.FANOUT + 1
    monkeypatch.setattr(compaction, "GRACE_S", 0.0)
    report = quiet.compact()
    assert report.deleted_segments == compaction.FANOUT
    assert len(segments.list_segment_names(quiet.layout.segments)) == 1
    assert len(list(quiet.layout.segments.glob("*" + segments.RECORDS_SUFFIX))) == 1
    assert len(ids(quiet)) == compaction.FANOUT


def test_killed_after_publishing_a_segment_shows_each_run_once(quiet):
    """A segment published before its fresh files were deleted neither duplicates nor loses runs."""
    runs = [make_run(i) for i in range(4)]
    for run in runs:
        quiet.records.append(run)
    # The state a compaction killed between its rename and its deletions leaves behind.
    segments.write_segment(quiet.layout.segments, [(r, encode_run(r)) for r in runs[:3]])
    assert ids(quiet) == [f"run-{i}" for i in range(4)]
    assert len(quiet.run_query("SELECT * FROM facets WHERE key = 'alpha'")) == 4
    report = quiet.compact()
    assert report.folded == 1  # only run-3 was still un-compacted
    assert ids(quiet) == [f"run-{i}" for i in range(4)]


def test_killed_merge_leaves_replaced_segments_invisible(quiet):
    """A merged segment hides the ones it replaces even while their files remain."""
    names = []
    for i in range(3):
        run = make_run(i)
        names.append(segments.write_segment(quiet.layout.segments, [(run, encode_run(run))]).name)
    pairs = [(make_run(i), encode_run(make_run(i))) for i in range(3)]
    segments.write_segment(quiet.layout.segments, pairs, replaces=names)
    assert ids(quiet) == ["run-0", "run-1", "run-2"]
    assert quiet.run_query("SELECT count(*) AS n FROM run_artifacts")["n"][0] == 6


def test_temporary_files_are_never_read_and_are_cleaned_up(quiet):
    """Half-written record and segment files (temporary names) are ignored, then removed."""
    quiet.records.append(make_run(1))
    quiet.layout.fresh.joinpath(".run-2.json.123.abcd.tmp").write_bytes(encode_run(make_run(2))[:40])
    quiet.layout.segments.mkdir(parents=True, exist_ok=True)
    junk = quiet.layout.segments / ".seg-1-x.parquet.99.tmp"
    junk.write_bytes(b"PAR1 truncated")
    assert ids(quiet) == ["run-1"]
    quiet.compact()
    assert not junk.exists()
    assert ids(quiet) == ["run-1"]


def test_corrupt_record_is_reported_by_name_and_skipped(quiet, caplog):
    """A corrupt record file is named in a warning, skipped by queries, then quarantined."""
    quiet.records.append(make_run(1))
    bad = quiet.layout.fresh / "broken-run.json"
    bad.write_bytes(b'{"id": "broken-run", "name": ')
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        assert ids(quiet) == ["run-1"]
    assert "broken-run.json" in caplog.text
    report = quiet.compact()
    assert report.quarantined and report.quarantined[0].endswith("broken-run.json")
    assert not bad.exists()
    assert ids(quiet) == ["run-1"]


def test_unreadable_segment_is_reported_and_skipped(quiet, caplog):
    """A damaged segment file is named in a warning and the other records stay queryable."""
    quiet.records.append(make_run(1))
    quiet.layout.segments.mkdir(parents=True, exist_ok=True)
    (quiet.layout.segments / "seg-0-damaged.parquet").write_bytes(b"not parquet at all")
    with caplog.at_level(logging.WARNING, logger="consist.catalog"):
        assert ids(quiet) == ["run-1"]
    assert "seg-0-damaged.parquet" in caplog.text


def test_compaction_waits_or_skips_when_another_holds_the_lock(quiet):
    """Automatic compaction skips while another process compacts; appends never wait."""
    quiet.records.append(make_run(1))
    with compaction.compaction_lock(quiet.layout, blocking=True) as held:
        assert held
        assert compaction.compact(quiet.layout, blocking=False).skipped
        quiet.records.append(make_run(2))
    assert quiet.compact().folded == 2


def test_facet_values_are_typed():
    """Bools, numbers, strings and other values land in their own facet columns."""
    assert segments.facet_row("a", True)["value_bool"] is True
    assert segments.facet_row("a", 3)["value_num"] == 3.0
    assert segments.facet_row("a", "x")["value_str"] == "x"
    assert segments.facet_row("a", [1, 2])["value_json"] == "[1,2]"
    assert segments.facet_row("a", None)["value_json"] == "null"


def test_merge_levels_grow_by_fanout():
    """Segment levels step up every FANOUT-fold growth in size."""
    f = compaction.FANOUT
    assert compaction.level(1, 256) == 0
    assert compaction.level(256 * f - 1, 256) == 0
    assert compaction.level(256 * f, 256) == 1
    assert compaction.level(256 * f * f, 256) == 2


def test_records_survive_segment_roundtrip_bytes(quiet):
    """The record stored in a segment is the appended JSON, byte for byte."""
    run = make_run(7, tags=["a", "b"], meta={"note": "ü; '\""})
    quiet.records.append(run)
    quiet.compact()
    seg = segments.SegmentCatalog(quiet.layout.segments)
    seg.refresh()
    assert seg.read_record(run.id) == encode_run(run)
    assert quiet.find_runs()[0] == run
    assert quiet.run_query("SELECT meta->>'note' AS n FROM runs")["n"][0] == "ü; '\""


def test_run_written_by_engine_lands_in_catalog(tracker):
    """A step run through the engine is findable by id, with its config as facets."""
    result = tracker.run(lambda alpha: None, name="step", config={"alpha": 0.5, "solver": {"tol": 1e-3}})
    run = tracker.get_run(result.run.id)
    assert run.facets["alpha"] == 0.5 and run.facets["solver.tol"] == 1e-3
    assert time.time() - run.ended_at < 60
    assert os.path.exists(tracker.db_path)
