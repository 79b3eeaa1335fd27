"""The catalog: append-only run records.

Each finished run is one line appended to this process's journal under ``records/fresh``
(:mod:`consist.catalog.journal`; earlier catalogs hold one JSON file per run there, which
are read alike); past a threshold, compaction folds them into Parquet segments
(:mod:`consist.catalog.compaction`). Fresh records and segments are the source of truth;
the DuckDB database is a set of views over them and can be rebuilt at any time.
Appending takes no lock between processes and never fsyncs: a lost record loses
history, not a cache entry. This module never builds an artifact path.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import msgspec

from consist.artifacts.layout import Layout
from consist.atomic import create_exclusive, unlink_quietly
from consist.catalog import orphans
from consist.catalog.codec import DEFAULT_COMPACT_THRESHOLD, decode_id, decode_run, encode_run, fresh_names, read_record
from consist.catalog.journal import JournalWriter
from consist.catalog.journal_index import JournalIndex
from consist.catalog.segment_sums import vanished
from consist.models import Run

if TYPE_CHECKING:
    # Imported lazily below: they load pyarrow, which `import consist` must not.
    from consist.catalog.compaction import CompactionReport
    from consist.catalog.segment_ids import IdIndex
    from consist.catalog.segments import SegmentCatalog

log = logging.getLogger("consist.catalog")

# Automatic compactions run beside the steps, never on their path; at exit a running
# one is given a moment to finish (a killed one loses nothing, see consist.catalog.compaction).
_compactors: set[threading.Thread] = set()


@atexit.register
def _finish_compactions() -> None:
    for thread in list(_compactors):
        thread.join(timeout=10)

class RecordStore:
    """Writes and reads the run records of one metadata folder.

    Attributes
    ----------
    compact_threshold
        Fresh record files at which an append compacts them into a segment (checked
        every few appends, by whichever process gets the compaction lock).
    auto_compact
        Set to False to compact only when asked (:meth:`compact`).
    """

    def __init__(self, layout: Layout, compact_threshold: int = DEFAULT_COMPACT_THRESHOLD) -> None:
        self.layout = layout
        self.compact_threshold = compact_threshold
        self.auto_compact = True
        self._since_check = 0
        self._listed = 0
        self._folded: set[str] = set()
        self._segments: SegmentCatalog | None = None
        self._id_indexes: dict[str, IdIndex] = {}
        self._lock = threading.Lock()
        self._compactor: threading.Thread | None = None
        self._settler: threading.Timer | None = None
        self._journal = JournalWriter(layout.fresh, compact_threshold)
        self.journals = JournalIndex(layout.fresh)
        self._journal_ids: set[str] = set()  # ids read from journals, not yet found folded

    @property
    def journal_path(self) -> str | None:
        """The journal this process appends records to (None before its first record)."""
        return self._journal.path

    def append(self, run: Run) -> None:
        """Append ``run``'s record to this process's journal: one write, never partially read.

        A second record of the same run (recorded completed, then failed) replaces the first.
        """
        self._journal.max_records = max(1, self.compact_threshold)
        if self._journal.append(encode_run(run), run.id):
            self._reread_own()
        if self.auto_compact:
            self._maybe_compact()

    def discard(self, run_id: str) -> None:
        """Remove ``run_id``'s fresh record, if any: a run whose failure could not be recorded.

        Truncating the journal needs no free space, so a full disk cannot leave a
        "completed" record behind for a run that raised.
        """
        if self._journal.drop(run_id):
            self._reread_own()
        unlink_quietly(self.layout.record_file(run_id))

    def _reread_own(self) -> None:
        """This process's journal was cut back: what :attr:`journals` read of it is read again on the next look."""
        with self._lock:
            name = os.path.basename(self._journal.path or "")
            if name in self.journals.files:
                self._journal_ids.difference_update(self.journals.forget(name))

    def _maybe_compact(self) -> None:
        # Counting fresh files costs a listdir, so look only every few appends.
        # A folder holding many folded files (kept a grace period) costs more to list:
        # look less often then, so a check stays a small share of an append.
        self._since_check += 1
        if self._since_check < max(1, min(32, self.compact_threshold // 8), self._listed // 64):
            return
        self._since_check = 0
        if self._compactor is not None and self._compactor.is_alive():
            return
        if self._unfolded() < self.compact_threshold:
            return
        self.compact_in_background()

    def compact_in_background(self) -> None:
        """Start compacting in a background thread, unless this store's compaction is running."""
        if self._compactor is not None and self._compactor.is_alive():
            return
        thread = threading.Thread(target=self._compact_in_background, name="consist-compaction", daemon=True)
        self._compactor = thread
        _compactors.add(thread)
        thread.start()

    def _unfolded(self) -> int:
        """Fresh records no live segment holds yet (folded ones stay a grace period).

        Journals are read incrementally, and an id found folded is never looked up again.
        """
        names = fresh_names(self.layout)
        with self._lock:
            self._refresh_journals()
            self._listed = len(names) + 8 * len(self.journals.files)  # what a check costs to list and read
            count = len(names) + len(self._journal_ids)
            if count < self.compact_threshold or not os.path.isdir(self.layout.segments):
                return count
            seg = self.segments
            seg.refresh()
            # A folded name stays folded (merges keep ids): only new names need a look-up.
            self._folded &= set(names)
            self._folded.update(n for n in names if n not in self._folded and seg.holder(n[: -len(".json")]) is not None)
            self._journal_ids = {i for i in self._journal_ids if seg.holder(i) is None}
            return len(names) - len(self._folded) + len(self._journal_ids)

    def _refresh_journals(self) -> None:
        """Read what the journals gained since the last look (hold ``_lock``)."""
        added, removed = self.journals.refresh()
        self._journal_ids.difference_update(removed)
        self._journal_ids.update(added)

    def _compact_in_background(self) -> None:
        from consist.catalog import compaction

        try:
            report = compaction.compact(self.layout, threshold=self.compact_threshold, blocking=False)
        except Exception:  # the run is recorded either way; a failed compaction loses nothing
            log.exception("automatic catalog compaction of %s failed", self.layout.root)
        else:
            if report.pending and self._settler is None:
                # Folded fresh files wait out the grace period: delete them then, even if no
                # more runs come (a bulk load would otherwise leave them for every reader to list).
                self._settler = threading.Timer(compaction.GRACE_S + 1, self._settle)
                self._settler.daemon = True
                self._settler.start()
        finally:
            _compactors.discard(threading.current_thread())

    def _settle(self) -> None:
        self._settler = None
        self._compact_in_background()

    def wait_for_compaction(self, timeout: float | None = None) -> None:
        """Block until an automatic compaction started by this store has finished."""
        thread = self._compactor
        if thread is not None:
            thread.join(timeout)

    def compact(self, *, blocking: bool = True) -> CompactionReport:
        """Fold all fresh records into a segment now and merge small segments."""
        from consist.catalog import compaction

        return compaction.compact(self.layout, threshold=self.compact_threshold, blocking=blocking)

    @property
    def segments(self) -> SegmentCatalog:
        """The (cached) live segments of this folder."""
        if self._segments is None:
            from consist.catalog.segments import SegmentCatalog

            self._segments = SegmentCatalog(self.layout.segments)
        return self._segments

    def claim_id(self, run_id: str, *, generated: bool = False, hold: bool = False) -> bool:
        """Reserve ``run_id`` with an exclusive create; False when a run already used it.

        The claim file alone is not trusted: a catalog copied without its ``ids`` folder
        still holds the ids in its records, so a fresh record or a compacted one with
        this id also makes it taken. A ``generated`` id skips those two checks: it
        carries the second it was made in and a random tag, so only a live writer can
        collide with it, and the exclusive create settles that. ``hold`` also marks the
        run as running (:func:`consist.catalog.orphans.hold`) with the same open.
        """
        claimed = orphans.claim(self.layout, run_id) if hold else create_exclusive(self.layout.id_claim_file(run_id))
        if not claimed:
            return False
        if generated or not (
            self.layout.record_path(run_id).exists() or self._journal_record(run_id) or self._in_segments(run_id)
        ):
            return True
        if hold:
            orphans.release(run_id)
        return False

    def _in_segments(self, run_id: str) -> bool:
        if not os.path.isdir(self.layout.segments):
            return False
        with self._lock:
            seg = self.segments
            seg.refresh()
            return seg.holder(run_id) is not None

    def get(self, run_id: str) -> Run | None:
        """The record of ``run_id`` (its fresh file, else its segment), or None.

        A fresh file is one ``open``; a compacted run is a set lookup in the cached
        segment ids plus one pruned Parquet read.
        """
        if not run_id or run_id.startswith(".") or any(c in run_id for c in "/\\\x00"):
            return None  # never a recorded id (see check_key): and no path escapes fresh/
        path = self.layout.record_path(run_id)
        data = read_record(path)
        if data is None:
            data = self._journal_record(run_id)
        if data is None:
            if not os.path.isdir(self.layout.segments):
                return None
            data = self._segment_record(run_id)
            if data is None:
                return None
        try:
            return decode_run(data)
        except msgspec.DecodeError:
            log.warning("skipping corrupt run record %s", path)
            return None

    def _journal_record(self, run_id: str) -> bytes | None:
        """``run_id``'s record in a journal of any process, or None (reads only what was appended since the last look)."""
        with self._lock:
            found = self.journals.find(run_id)
            if found is None:
                self._refresh_journals()
                found = self.journals.find(run_id)
            return found

    def _segment_record(self, run_id: str) -> bytes | None:
        with self._lock:
            seg = self.segments
            if not seg.infos:  # nothing listed yet in this process: the id indexes answer without it
                data = self._indexed_record(run_id)
                if data is not None:
                    return data
            if seg.holder(run_id) is None:
                seg.refresh()
            # A segment being merged away may vanish between listing and reading.
            for _ in range(3):
                try:
                    return seg.read_record(run_id)
                except FileNotFoundError as exc:
                    missing = exc.filename or str(exc)
                    seg.refresh()
            raise vanished(missing)

    def _indexed_record(self, run_id: str) -> bytes | None:
        """``run_id``'s record found through the segments' id indexes, or None when they cannot tell.

        No segment's ids are read: a handful of page reads per live segment. A segment
        without a usable index, or a damaged record, leaves the answer to the full listing.
        """
        from consist.catalog.segment_ids import IdIndex
        from consist.catalog.segment_sums import DamagedSegmentError
        from consist.catalog.segments import list_segment_names

        names = list_segment_names(self.layout.segments)
        for name in names:
            if name not in self._id_indexes:
                try:
                    self._id_indexes[name] = IdIndex(self.layout.segments / name)
                except (OSError, ValueError):
                    return None
        indexes = [self._id_indexes[n] for n in names]
        replaced = set().union(*(index.replaces for index in indexes))
        for name, index in reversed(list(zip(names, indexes))):
            if name in replaced or name in self.segments.bad:
                continue
            for row in index.rows(run_id):
                try:
                    data = self.segments.record_at(name, row)
                except (DamagedSegmentError, FileNotFoundError):
                    return None
                if decode_id(data) == run_id:
                    return data
        return None

    def iter_fresh(self) -> Iterator[Run]:
        """Every readable fresh record, once per run id; corrupt ones are reported by file and skipped."""
        found: dict[str, Run] = {}
        for name in sorted(fresh_names(self.layout)):
            path = self.layout.fresh / name
            data = read_record(path)
            if data is None:
                continue
            try:
                run = decode_run(data)
            except msgspec.DecodeError:
                log.warning("skipping corrupt run record %s", path)
                continue
            if run.id not in found or name == f"{run.id}.json":  # a copy under another name is no second run
                found[run.id] = run
        with self._lock:
            self._refresh_journals()
            lines = list(self.journals.lines())
            damaged = [name for name, f in self.journals.files.items() if f.damaged]
        for name in damaged:
            log.warning("skipping corrupt run records in %s", self.layout.fresh / name)
        for name, _, run_id, data in lines:
            if run_id in found:
                continue
            try:
                found[run_id] = decode_run(data)
            except msgspec.DecodeError:
                log.warning("skipping corrupt run record %s in %s", run_id, self.layout.fresh / name)
        yield from found.values()
