"""Repairing damaged segments: what ``consist rebuild`` does before rebuilding the file.

Every segment file is checked against its checksum (:mod:`consist.catalog.segment_sums`); a
segment with a damaged twin is rewritten from what is still intact, in this order:

1. its records file (the run records byte for byte) when that twin is intact;
2. else the fresh record files still holding its runs (kept a grace period after
   compaction), then its Parquet rows (every field the catalog queries; what only the
   JSON record held, such as output stat tokens, is left at its default);
3. a run neither twin nor a fresh file holds is reported as lost (by id when the
   Parquet rows name it; with both twins damaged its fresh copy, if any, is simply
   folded again).

The rewritten segment replaces the damaged one and every segment whose runs it holds;
the damaged files are moved to ``records/corrupt/``, never deleted. An intact segment
without an id index (written by an older consist) gets one. Fresh records are then
folded as by any compaction.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from consist.artifacts.layout import Layout
from consist.catalog import compaction, segment_ids, segment_records, segment_sums, segments
from consist.catalog.journal_index import JournalIndex
from consist.catalog.records import decode_run, encode_run, fresh_names
from consist.models import Artifact, CodeInfo, Run

log = logging.getLogger("consist.catalog")


@dataclass
class RepairReport:
    """What a repair did: damaged segments moved aside, runs recovered and lost."""

    damaged: list[str] = field(default_factory=list)
    recovered: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: int = 0
    compaction: compaction.CompactionReport | None = None


def repair(layout: Layout) -> RepairReport:
    """Rewrite every damaged segment from its intact parts, then compact (waits for the lock)."""
    report = RepairReport()
    with compaction.compaction_lock(layout, blocking=True) as held:
        if held:
            for name in segments.list_segment_names(layout.segments):
                _repair_one(layout, layout.segments / name, report)
            for path in _orphan_records(layout):
                _repair_orphan(layout, path, report)
            _deduplicate(layout, report)
    report.compaction = compaction.compact(layout)
    return report


def _deduplicate(layout: Layout, report: RepairReport) -> None:
    """Fold segments that hold a run twice (an older consist folded a copied record too) into one.

    One record is kept per run id, the newest segment's; a differing copy is reported.
    """
    catalog = segments.SegmentCatalog(layout.segments)
    catalog.refresh()
    seen: dict[str, str] = {}
    affected: set[str] = set()
    for name in reversed(catalog.live):
        info = catalog.infos[name]
        if pq.ParquetFile(layout.segments / name).metadata.num_rows != len(info.ids):
            affected.add(name)  # an id twice within the segment
        for run_id in info.ids:
            if run_id in seen:
                affected |= {name, seen[run_id]}
            seen.setdefault(run_id, name)
    if not affected:
        return
    kept: dict[str, bytes] = {}
    for name in [n for n in reversed(catalog.live) if n in affected]:
        with pa.memory_map(str(segments.records_path(layout.segments / name))) as source:
            for data in pa.ipc.open_file(source).read_all().column("record").to_pylist():
                run_id = decode_run(data).id
                if run_id in kept:
                    report.duplicates += 1
                    if kept[run_id] != data:
                        log.warning("run %r is held twice with different records; kept the one in the newest segment", run_id)
                else:
                    kept[run_id] = data
    pairs = [(decode_run(data), data) for data in kept.values()]
    new = segments.write_segment(layout.segments, pairs, affected)
    log.warning("%d runs were held twice in %s: rewrote them once into %s", report.duplicates, sorted(affected), new.name)


def _twin_ok(path: Path, twin: str) -> bool:
    """Whether one twin of the segment ``path`` is intact (checksum, else a full read)."""
    target = path if twin == "parquet" else segments.records_path(path)
    try:
        if segment_sums.check(path, twin, target):
            return True
    except segment_sums.DamagedSegmentError:
        if twin == "parquet" or segment_sums.readable(path):
            return False
        return _records_digests_ok(path)  # the checksum file itself is damaged: each record has its digest
    except OSError:
        return False
    try:
        if twin == "parquet":
            pq.read_table(target)
        else:
            with pa.memory_map(str(target)) as source:
                pa.ipc.open_file(source).read_all().validate(full=True)
        return True
    except (OSError, pa.ArrowException, segment_sums.DamagedSegmentError):
        return False


def _records_digests_ok(path: Path) -> bool:
    """Whether the records file of segment ``path`` is valid and every record matches the digest beside it."""
    try:
        records = segment_records.RecordsFile(path)
        if records.digests is None:
            return False  # an old file without digests: only its checksum could vouch for it
        records.check_all()
    except (OSError, pa.ArrowException, segment_sums.DamagedSegmentError):
        return False
    return True


def _repair_one(layout: Layout, path: Path, report: RepairReport) -> None:
    parquet_ok, records_ok = _twin_ok(path, "parquet"), _twin_ok(path, "records")
    if parquet_ok and records_ok:
        _index_ids(path)
        return
    if records_ok:
        runs = _from_records(segments.records_path(path))
        lost: list[str] = []
    else:
        runs, lost = _from_fresh_and_rows(layout, path if parquet_ok else None)
    if runs:
        new = segments.write_segment(layout.segments, [(r, encode_run(r)) for r in runs], _covered(layout, path, runs))
        log.warning("recovered %d runs of damaged segment %s into %s", len(runs), path, new.name)
    _move_aside(layout, path)
    report.damaged.append(str(path))
    report.recovered += len(runs)
    report.lost += lost
    if lost:
        log.warning("damaged segment %s: %d runs could not be recovered: %s", path, len(lost), ", ".join(lost[:10]))


def _orphan_records(layout: Layout) -> list[Path]:
    """Segments (by their Parquet path) whose records file is there but whose Parquet file is gone."""
    try:
        names = os.listdir(layout.segments)
    except FileNotFoundError:
        return []
    suffix = segments.RECORDS_SUFFIX
    paths = [layout.segments / (n[: -len(suffix)] + ".parquet") for n in sorted(names) if n.endswith(suffix)]
    return [p for p in paths if not p.name.startswith(".") and not p.exists()]


def _repair_orphan(layout: Layout, path: Path, report: RepairReport) -> None:
    """A Parquet file deleted under its intact records twin: its runs no live segment holds are written again.

    A compaction killed while deleting a merged segment leaves the same shape, with every
    run already in the segment that replaced it: then nothing is written.
    """
    if not _twin_ok(path, "records"):
        _move_aside(layout, path)  # nothing readable names its runs: kept in corrupt/ for inspection
        report.damaged.append(str(path))
        return
    catalog = segments.SegmentCatalog(layout.segments)
    catalog.refresh()
    held = {run_id for name in catalog.live for run_id in catalog.infos[name].ids}
    runs = [r for r in _from_records(segments.records_path(path)) if r.id not in held]
    if runs:
        new = segments.write_segment(layout.segments, [(r, encode_run(r)) for r in runs])
        log.warning("recovered %d runs of segment %s (its Parquet file is missing) into %s", len(runs), path, new.name)
        report.damaged.append(str(path))
        report.recovered += len(runs)
    _move_aside(layout, path)


def _index_ids(path: Path) -> None:
    """Give an intact segment written by an older consist its id index (lookups by id then skip its ids)."""
    try:
        segment_ids.IdIndex(path)
        return
    except (OSError, ValueError):
        pass
    info = segments.read_info(path)
    segment_ids.write_index(path, sorted(info.ids, key=info.ids.__getitem__), info.replaces)


def _from_records(path: Path) -> list[Run]:
    with pa.memory_map(str(path)) as source:
        values = pa.ipc.open_file(source).read_all().column("record").to_pylist()
    runs = []
    for data in values:
        try:
            runs.append(decode_run(data))
        except msgspec.DecodeError:
            continue
    return runs


def _from_fresh_and_rows(layout: Layout, parquet: Path | None) -> tuple[list[Run], list[str]]:
    """Runs from the fresh files, then from the Parquet rows (if readable); ids lost."""
    if parquet is None:
        return [], []  # no twin names its runs: the compaction that follows folds their fresh copies
    rows = pq.read_table(parquet).to_pylist()
    fresh: dict[str, Run] = {}
    for name in fresh_names(layout):
        try:
            run = decode_run((layout.fresh / name).read_bytes())
        except (OSError, msgspec.DecodeError):
            continue
        fresh.setdefault(run.id, run)
    journals = JournalIndex(layout.fresh)
    journals.refresh()
    for _, _, run_id, data in journals.lines():
        try:
            fresh.setdefault(run_id, decode_run(data))
        except msgspec.DecodeError:
            continue
    runs, lost = [], []
    for row in rows:
        try:
            runs.append(fresh.get(row["id"]) or run_from_row(row))
        except (msgspec.ValidationError, TypeError, ValueError):
            lost.append(row["id"])
    return runs, lost


def run_from_row(row: dict[str, Any]) -> Run:
    """A run record rebuilt from its segment row (fields only the JSON record held are defaults)."""
    fields = {name: row[name] for name, _ in segments.RUN_COLUMNS if row.get(name) is not None}
    fields["tags"] = row["tags"] or []
    fields["config"] = msgspec.json.decode(row["config"] or "{}")
    fields["meta"] = msgspec.json.decode(row["meta"] or "{}")
    if row["code"]:
        fields["code"] = msgspec.json.decode(row["code"], type=CodeInfo)
    arts: dict[str, list[Artifact]] = {"in": [], "out": []}
    for a in row["artifacts"] or []:
        values = {k: v for k, v in a.items() if k != "direction" and v is not None}
        values["meta"] = msgspec.json.decode(a["meta"]) if a["meta"] else {}
        arts[a["direction"]].append(msgspec.convert(values, Artifact))
    fields["inputs"], fields["outputs"] = arts["in"], arts["out"]
    fields["facets"] = {f["key"]: _facet(f) for f in row["facets"] or []}
    return msgspec.convert(fields, Run)


def _facet(f: dict[str, Any]) -> Any:
    if f["value_bool"] is not None:
        return f["value_bool"]
    if f["value_num"] is not None:
        num = f["value_num"]
        return int(num) if float(num).is_integer() else num
    if f["value_str"] is not None:
        return f["value_str"]
    return msgspec.json.decode(f["value_json"]) if f["value_json"] else None


def _covered(layout: Layout, damaged: Path, runs: list[Run]) -> set[str]:
    """The damaged segment and every other readable one whose runs the recovered segment holds."""
    ids = {r.id for r in runs}
    catalog = segments.SegmentCatalog(layout.segments)
    catalog.refresh()
    covered = {damaged.name}
    for name, info in catalog.infos.items():
        if name != damaged.name and info.ids and set(info.ids) <= ids:
            covered.add(name)
    return covered


def _move_aside(layout: Layout, path: Path) -> None:
    target = layout.corrupt / "segments"
    target.mkdir(parents=True, exist_ok=True)
    for part in (path, segments.records_path(path), segment_sums.sums_path(path), segment_ids.ids_path(path)):
        try:
            os.replace(part, target / part.name)
        except FileNotFoundError:
            continue
