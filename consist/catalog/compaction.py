"""Compaction: fold fresh record files into Parquet segments, and merge segments.

Readers see fresh files and segments alike (see :mod:`consist.catalog.database`), so a query
opens a few Parquet files instead of one JSON file per run. Compaction never loses or
duplicates a record, whenever it is killed:

1. fresh records are written into a new segment (a temporary file, then one rename);
2. only then may the folded fresh files go: each is deleted once a live segment holds
   its record byte for byte and that segment is older than :data:`GRACE_S` (an outside
   reader of the catalog file may have listed it). Until then a run is in both places;
   readers skip fresh records whose id a live segment holds. A fresh file holding a
   different record under an id already taken is moved to ``records/corrupt/``. A
   journal (:mod:`consist.catalog.journal`) goes the same way once all its records are
   held and its writer is gone; a live writer's journal is folded as far as it goes
   and keeps growing (its folded lines are skipped by readers and by later compactions);
3. a merge writes one segment that names the segments it replaces; readers ignore
   replaced segments at once, and their files are deleted by a later compaction once
   the replacement is older than :data:`GRACE_S` (so a query that listed them just
   before keeps working).

Only one process compacts a folder at a time (a file lock on ``records/.compact.lock``,
taken without waiting by automatic compaction). Appending never takes the lock.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pyarrow as pa

from consist.artifacts.layout import Layout
from consist.catalog import held_journals, journal, journal_index, segment_ids, segment_sums
from consist.catalog import segments
from consist.catalog import segment_merge
from consist.catalog.segment_merge import FANOUT, level  # noqa: F401 - part of this module's interface
from consist.catalog.codec import DEFAULT_COMPACT_THRESHOLD, decode_id, fresh_names
from consist.errors import DiskWriteError
from consist.file_lock import attempt
from consist.models import Run

log = logging.getLogger("consist.catalog")

DEFAULT_THRESHOLD = DEFAULT_COMPACT_THRESHOLD
GRACE_S = 60.0
_decoder = msgspec.json.Decoder(Run)
_lock_warned = False


@dataclass
class CompactionReport:
    """What one compaction did.

    ``conflicts`` are fresh files moved aside because another record has their run id;
    ``pending`` counts folded fresh files kept for the grace period (deleted later).
    """

    folded: int = 0
    merged: int = 0
    deleted_segments: int = 0
    quarantined: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    pending: int = 0
    skipped: bool = False


def compaction_lock(layout: Layout, blocking: bool) -> AbstractContextManager[bool]:
    """Hold the folder's compaction lock; yields False when another process holds it."""
    path = layout.root / "records" / ".compact.lock"

    def cannot_lock(exc: OSError) -> None:
        # A file system without working locks: never compact blind, just read slower.
        global _lock_warned
        if not _lock_warned:
            _lock_warned = True
            log.warning("catalog compaction disabled: cannot lock %s (%s)", path, exc)

    return attempt(path, blocking=blocking, on_error=cannot_lock)


def compact(
    layout: Layout, *, threshold: int = DEFAULT_THRESHOLD, blocking: bool = True, merge: bool = True
) -> CompactionReport:
    """Fold every fresh record into a segment and merge small segments.

    Parameters
    ----------
    layout
        The metadata folder.
    threshold
        Fresh records per automatic compaction; also the size unit of merge levels.
    blocking
        Wait for another process's compaction to finish (True) or return at once.
    merge
        Also merge segments of one size level once there are :data:`FANOUT` of them.
    """
    report = CompactionReport()
    with compaction_lock(layout, blocking) as held:
        if not held:
            report.skipped = True
            return report
        journal.seal_own(layout.fresh)
        journal.remove_abandoned_temps(layout.fresh)
        catalog = segments.SegmentCatalog(layout.segments)
        catalog.refresh()
        report.deleted_segments = _collect_garbage(layout, catalog)
        try:
            _fold_fresh(layout, catalog, report)
            if merge:
                report.merged = segment_merge.merge(layout, catalog, threshold)
        except OSError as exc:
            if isinstance(exc, (DiskWriteError, FileNotFoundError)):
                raise
            where = exc.filename or str(layout.segments)
            raise DiskWriteError(
                f"catalog compaction could not write {where}: {exc.strerror or exc}. Nothing was lost (fresh "
                "records stay until a segment holds them); free space on that disk, then run `consist rebuild "
                "--compact` or tracker.compact().", filename=where, errno=exc.errno,
            ) from exc  # fmt: skip
    return report


def _fold_fresh(layout: Layout, catalog: segments.SegmentCatalog, report: CompactionReport) -> None:
    """Fold fresh records into a new segment; settle copies and leftovers by run id.

    A fresh file is deleted only when a live segment holds its run byte for byte, and
    only once that segment is older than :data:`GRACE_S` (an outside reader of the
    catalog file may have listed it); a journal, only when that holds for each of its
    records and its writer is gone. A record holding different bytes under an id
    already taken (a sync tool's conflicted copy, a reused id) is moved aside, never
    deleted or folded.
    """
    by_id = _fresh_by_id(layout, catalog, report)
    journals, idents, known = _journal_records(layout, by_id)
    held = catalog.read_records(run_id for run_id in by_id if catalog.holder(run_id) is not None)
    pairs, leftovers = [], []
    for run_id, copies in by_id.items():
        kept = held.get(run_id)
        if kept is None:
            path, data, run = copies[0]
            pairs.append((run, data))
            leftovers.append((run_id, path))
            kept, copies = data, copies[1:]
        for path, data, _ in copies:
            if data == kept:
                leftovers.append((run_id, path))
            elif path in journals:
                _set_line_aside(layout, path, run_id, data, report)
                idents.pop(path, None)  # not wholly held: read it again next time
            else:
                _set_aside(layout, path, run_id, report)
    if pairs:
        segments.write_segment(layout.segments, pairs)
        report.folded = len(pairs)
        catalog.refresh()
    now = time.time()
    waiting = set()
    for run_id, path in leftovers:
        holder = catalog.holder(run_id)
        settled = holder is not None and now - catalog.infos[holder].mtime >= GRACE_S
        if path in journals:
            if not settled:
                waiting.add(path)
        elif settled:
            _unlink(path)
        else:
            report.pending += 1
    for path, found in journals.items():
        if found.sealed:
            _settle_journal(layout, path, found, path in waiting, report)
        if not found.damaged and path in idents and (path in waiting or not found.sealed):
            held_journals.remember(path, idents[path], tuple(found.records))  # waits: no need to read it again
    _settle_known(catalog, known, report)


def _settle_known(catalog: segments.SegmentCatalog, known: dict[Path, tuple[str, ...]], report: CompactionReport) -> None:
    """Delete remembered journals (see :mod:`consist.catalog.held_journals`) once sealed and settled."""
    now = time.time()
    for path, ids in known.items():
        holders = [catalog.holder(run_id) for run_id in ids]
        if None in holders:  # a segment lost meanwhile: read the journal again and fold it anew
            held_journals.forget(path)
            report.pending += 1
            continue
        # Sealed first, then unchanged: a line appended before the writer let go shows in the identity.
        settled = all(now - catalog.infos[h].mtime >= GRACE_S for h in holders) and journal_index.sealed(path)
        if settled and held_journals.known_ids(path, held_journals.identity(path)) is not None:
            _unlink(path)
            held_journals.forget(path)
        else:
            report.pending += 1


def _journal_records(
    layout: Layout, by_id: dict[str, list[tuple[Path, bytes, Run]]]
) -> tuple[dict[Path, journal_index.JournalFile], dict[Path, held_journals.Identity | None], dict[Path, tuple[str, ...]]]:
    """Add the journals' records to ``by_id`` (after the record files).

    Returns the journals read (sealed or not) with their identities taken before reading,
    and the run ids of those skipped as remembered wholly held (:mod:`consist.catalog.held_journals`).
    """
    journals, idents, known = {}, {}, {}
    names = journal_index.journal_names(layout.fresh)
    held_journals.prune(layout.fresh, names)
    for name in names:
        path = layout.fresh / name
        idents[path] = ident = held_journals.identity(path)
        ids = held_journals.known_ids(path, ident)
        if ids is not None:
            known[path] = ids
            continue
        journals[path] = found = journal_index.read_journal(path, sealed_first=True)
        for run_id, (offset, data) in found.records.items():
            try:
                by_id.setdefault(run_id, []).append((path, data, _decoder.decode(data)))
            except msgspec.DecodeError:
                found.damaged.append(offset)
    return journals, idents, known


def _settle_journal(
    layout: Layout, path: Path, found: journal_index.JournalFile, waiting: bool, report: CompactionReport
) -> None:
    """Delete a sealed journal whose every record a segment has held for the grace period (or move a damaged one aside)."""
    if waiting:
        report.pending += 1
    elif found.damaged:
        offsets = ", ".join(str(o) for o in found.damaged[:5])
        report.quarantined.append(str(_quarantine(layout, path, f"lines at bytes {offsets} cannot be decoded")))
    else:
        _unlink(path)


def _set_line_aside(layout: Layout, path: Path, run_id: str, data: bytes, report: CompactionReport) -> None:
    """Copy a journal's record that conflicts with another record of its id into ``records/corrupt/`` (once)."""
    target = layout.corrupt / f"{path.stem}.{run_id}.json"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        log.warning(
            "run record %s in %s holds a different record under run id %r, which another record has; copied it to %s",
            run_id, path, run_id, target,
        )  # fmt: skip
        report.conflicts.append(str(target))


def _fresh_by_id(
    layout: Layout, catalog: segments.SegmentCatalog, report: CompactionReport
) -> dict[str, list[tuple[Path, bytes, Run]]]:
    """Readable fresh record files by run id; the file named after its id first. Corrupt ones are quarantined.

    Files folded less than :data:`GRACE_S` ago are not even read (a later compaction settles them).
    """
    by_id: dict[str, list[tuple[Path, bytes, Run]]] = {}
    now = time.time()
    for name in sorted(fresh_names(layout)):
        holder = catalog.holder(name[: -len(".json")])
        if holder is not None and now - catalog.infos[holder].mtime < GRACE_S:
            report.pending += 1
            continue
        path = layout.fresh / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        try:
            run = _decoder.decode(data)
        except msgspec.DecodeError:
            report.quarantined.append(str(_quarantine(layout, path)))
            continue
        by_id.setdefault(run.id, []).append((path, data, run))
    for run_id, copies in by_id.items():
        copies.sort(key=lambda c: c[0].name != f"{run_id}.json")
    return by_id


def _set_aside(layout: Layout, path: Path, run_id: str, report: CompactionReport) -> None:
    target = _quarantine(layout, path, f"it holds a different record under run id {run_id!r}, which another record has")
    report.conflicts.append(str(target))


def _quarantine(layout: Layout, path: Path, why: str = "it cannot be decoded") -> Path:
    target = layout.corrupt / path.name
    if target.exists():
        target = layout.corrupt / f"{path.stem}.{time.time_ns()}{path.suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    log.warning("run record %s: %s; moved it to %s", path, why, target)
    return target


def _collect_garbage(layout: Layout, catalog: segments.SegmentCatalog) -> int:
    """Delete replaced segments whose replacement is old enough, and dead temp files."""
    deleted = 0
    now = time.time()
    for old, newer in catalog.replaced().items():
        if now - catalog.infos[newer].mtime >= GRACE_S:
            # The Parquet file first: without it the segment no longer exists.
            _unlink(layout.segments / old)
            _unlink(segments.records_path(layout.segments / old))
            _unlink(segment_sums.sums_path(layout.segments / old))
            _unlink(segment_ids.ids_path(layout.segments / old))
            deleted += 1
    # Under the lock, a temporary file or a records file without its Parquet file is
    # left over from a killed compaction, unless the Parquet file was deleted by hand:
    # a records file is deleted only when every record in it is held elsewhere.
    try:
        names = set(os.listdir(layout.segments))
    except FileNotFoundError:
        names = set()
    kept = {n[: -len(segments.RECORDS_SUFFIX)] for n in names if n.endswith(segments.RECORDS_SUFFIX)}
    kept = {stem for stem in kept if stem + ".parquet" not in names and not _records_held(layout, catalog, stem)}
    for name in names:
        temporary = name.startswith(".seg-") and name.endswith(".tmp")
        sidecars = (segments.RECORDS_SUFFIX, segment_sums.SUMS_SUFFIX, segment_ids.IDS_SUFFIX)
        suffix = next((s for s in sidecars if name.endswith(s)), None)
        orphan = suffix is not None and name[: -len(suffix)] + ".parquet" not in names
        if temporary or (orphan and name[: -len(suffix)] not in kept):
            _unlink(layout.segments / name)
    if deleted:
        catalog.refresh()
    return deleted


def _records_held(layout: Layout, catalog: segments.SegmentCatalog, stem: str) -> bool:
    """Whether every record of the records file ``<stem>.records.arrow`` is, byte for byte, in a live segment or fresh file.

    One that is not (its Parquet twin was deleted by hand) is kept, with a warning, for
    `consist rebuild` to write its runs into a segment again.
    """
    path = layout.segments / (stem + segments.RECORDS_SUFFIX)
    try:
        with pa.memory_map(str(path)) as source:
            records = pa.ipc.open_file(source).read_all().column("record").to_pylist()
        by_id = {decode_id(data): data for data in records}
    except (OSError, pa.ArrowException, msgspec.DecodeError, KeyError):
        by_id = None
    if by_id is not None:
        in_segments = catalog.read_records(by_id)
        journals = journal_index.JournalIndex(layout.fresh)
        journals.refresh()
        if all(in_segments.get(i) == d or d in (_fresh_bytes(layout, i), journals.find(i)) for i, d in by_id.items()):
            return True
    log.warning(
        "catalog records file %s has no Parquet twin and holds runs no segment holds; kept it. Run `consist rebuild` "
        "to write its runs into a segment again.", path,
    )  # fmt: skip
    return False


def _fresh_bytes(layout: Layout, run_id: str) -> bytes | None:
    try:
        return (layout.fresh / f"{run_id}.json").read_bytes()
    except OSError:
        return None


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
