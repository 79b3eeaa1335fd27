"""consist's own view of the catalog: an in-process DuckDB connection per tracker.

The connection is in-memory: it never holds a lock on ``db_path``, so any number of
processes can query while others write. ``_consist_records`` is defined over the exact
live segment files plus the fresh records this process has decoded (registered as an
Arrow table), and the public views of :mod:`consist.catalog.database` sit on top, so SQL
written against the file works here unchanged.

The records are loaded into the connection only when a query may read them: its text
names a catalog object (:func:`consist.catalog.query_text.reads_records`), or it failed
for want of one. A query of the schema views alone (``tracker.views``, whose sources the
views layer may take from a saved listing) never decodes a record. Once loaded, every
query first refreshes: one ``listdir`` of the fresh folder (only new files are read;
records are immutable; of a journal, only what was appended) and one of the segments folder. Fresh files are read
before segments are listed, and a fresh record whose id a live segment holds is
skipped, so a compaction running meanwhile can never hide or double a run: each query
sees a consistent snapshot. Corrupt fresh files are reported once, by name, and skipped.

A query repeated with the same SQL and values reuses its DuckDB relation (saving one
bind of the statement); kept relations are dropped whenever the views change.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import pyarrow as pa

from consist.artifacts.formats.literal import sql_path
from consist.artifacts.layout import Layout
from consist.catalog import database, segments
from consist.catalog.codec import decode_run, fresh_names, read_record
from consist.catalog.fresh_frame import fresh_table
from consist.catalog.journal_index import JournalIndex, key_precedence, line_key
from consist.catalog.query_text import plan_key, reads_records
from consist.catalog.segment_sums import vanished
from consist.models import Run

if TYPE_CHECKING:
    from consist.catalog.records import RecordStore

log = logging.getLogger("consist.catalog")

_RETRIES = 3
# Relations kept for repeated queries: DuckDB binds a statement when the relation is made
# and again when it runs; reusing the relation saves the first bind (about 2 ms for a view
# over 100 files). A relation re-binds when it runs, so it always reads current data.
_PLANS = 32
# Run columns kept in memory for finding runs (a few MB per 100,000 runs): a filter on
# these never opens a segment file. Anything else (hashes, facets) scans the segments.
INDEX_COLUMNS = (
    "id", "name", "model", "status", "kind", "parent_id", "year", "iteration", "cache_hit",
    "reused_run_id", "cache_mode", "host", "started_at", "ended_at",
)  # fmt: skip
_INDEX_SELECT = ", ".join(INDEX_COLUMNS)


class CatalogHost(Protocol):
    """What queries, lineage, cleanup and verification read of a tracker (``Tracker`` fits)."""

    run_dir: Path
    layout: Layout
    records: RecordStore
    mounts: Any  # consist.mounts.Mounts: how records name paths

    @property
    def catalog(self) -> LiveCatalog:
        """The query connection (created on first use)."""
        ...


class LiveCatalog:
    """The query side of one tracker's catalog (thread-safe; re-created after fork).

    Parameters
    ----------
    layout
        The tracker's metadata folder.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.segments = segments.SegmentCatalog(layout.segments)
        self._lock = threading.RLock()
        self._con: Any = None
        self._loaded = False  # whether the connection has the record relations (see reads_records)
        self._clean = True  # whether the last refresh met no damaged segment or record
        self._pid = -1
        # name -> (run, segment row), or None for a file that would not decode.
        self._fresh: dict[str, tuple[Run, dict[str, Any]] | None] = {}
        self._journals = JournalIndex(layout.fresh)
        self._by_id: dict[str, tuple[Run, dict[str, Any]]] = {}
        self._folded: set[str] = set()
        self._bad_seen = 0
        self._warned: set[tuple[str, str]] = set()
        self._state: tuple[Any, ...] | None = None
        self._indexed: set[str] = set()
        self._plans: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._held = 0

    # -- connection and refresh --------------------------------------------------------

    def connection(self, records: bool = True) -> Any:
        """The refreshed DuckDB connection (hold :attr:`lock` while using it).

        With ``records=False`` the records are not loaded for this call; once loaded (by
        any earlier query), they are always refreshed: a view a user defined over them
        must not go stale.
        """
        with self._lock:
            self._connect()
            # A failed read resets the state: list again.
            if (records or self._loaded) and (not self._held or self._state is None):
                self.refresh()
            return self._con

    @contextmanager
    def held(self, records: bool = True) -> Iterator[Any]:
        """Refresh once, then keep the connection as it is for the block (one query's worth)."""
        with self._lock:
            con = self.connection(records)
            self._held += 1
            try:
                yield con
            finally:
                self._held -= 1

    @property
    def clean(self) -> bool:
        """Whether the records were last read without a damaged segment, record or conflicting copy."""
        return self._clean and not self.segments.bad

    @property
    def lock(self) -> threading.RLock:
        """Serialises use of the connection between threads."""
        return self._lock

    def _connect(self) -> None:
        if self._con is not None and self._pid == os.getpid():
            return
        import duckdb

        # After a fork the parent's connection must not be touched: start over.
        self._con = duckdb.connect(":memory:")
        # Segment files never change once written (new content gets a new name).
        self._con.execute("SET parquet_metadata_cache = true")
        self._pid = os.getpid()
        self._state = None
        self._loaded = False
        self._plans = OrderedDict()

    def _load(self) -> None:
        """Define the record relations and the public views on the connection (empty until refreshed)."""
        self._indexed = set()
        self._con.register("_consist_fresh", fresh_table([]))
        self._con.execute("CREATE OR REPLACE VIEW _consist_records AS SELECT * FROM _consist_fresh")
        self._con.execute(
            f"CREATE OR REPLACE TABLE _consist_index AS SELECT {_INDEX_SELECT}, '' AS _segment "
            "FROM _consist_fresh LIMIT 0"
        )
        self._con.execute(
            f"CREATE OR REPLACE VIEW _consist_found AS SELECT {_INDEX_SELECT} FROM _consist_index "
            f"UNION ALL SELECT {_INDEX_SELECT} FROM _consist_fresh"
        )
        database.create_public_views(self._con)
        self._loaded = True
        self._plans.clear()  # kept relations may have failed to bind without these

    def refresh(self) -> None:
        """Bring the record relations up to date with the files (cheap when nothing changed)."""
        with self._lock:
            self._connect()
            if not self._loaded:
                self._load()
            self.segments.refresh()  # only to skip reading folded fresh files (a held id stays held)
            names = self._read_fresh()
            self.segments.refresh()
            live = tuple(self.segments.live)
            state = (live, frozenset(names))
            if state == self._state:
                return
            self._by_id = self._fresh_by_id(names)
            decoded = all(self._fresh.get(name) is not None for name in names)
            decoded = decoded and not any(self._journals.damage())
            self._clean = not self.segments.bad and decoded and len(self._by_id) == len(names)
            rows = [row for run_id, (run, row) in self._by_id.items() if self.segments.holder(run_id) is None]
            self._con.register("_consist_fresh", fresh_table(rows))
            if live:
                files = ", ".join(sql_path(p) for p in self.segments.paths())
                union = "" if self.segments.uniform() else ", union_by_name = true"
                body = (
                    f"SELECT * FROM read_parquet([{files}]{union}, hive_partitioning = false) "
                    "UNION ALL BY NAME SELECT * FROM _consist_fresh"
                )
            else:
                body = "SELECT * FROM _consist_fresh"
            self._con.execute(f"CREATE OR REPLACE VIEW _consist_records AS {body}")
            self._sync_index(set(live))
            self._state = state
            self._plans.clear()

    def _sync_index(self, live: set[str]) -> None:
        # Incremental: segments never change, so only new ones are read (and a merge
        # swaps its inputs' rows for the same rows from the merged file).
        gone = sorted(self._indexed - live)
        if gone:
            marks = ", ".join("?" for _ in gone)
            self._con.execute(f"DELETE FROM _consist_index WHERE _segment IN ({marks})", gone)
        for name in sorted(live - self._indexed):
            path = sql_path(self.segments.folder / name)
            self._con.execute(
                f"INSERT INTO _consist_index SELECT {_INDEX_SELECT}, ? FROM read_parquet({path}, hive_partitioning = false)",
                [name],
            )
        self._indexed = set(live)

    def _fresh_by_id(self, names: list[str]) -> dict[str, tuple[Run, dict[str, Any]]]:
        """Decoded fresh records by run id: a copy under another file name is not a second run.

        The file named after its id wins; two files with one id and different records
        are reported once, by name.
        """
        by_id: dict[str, tuple[Run, dict[str, Any]]] = {}
        names_of: dict[str, str] = {}
        for name in sorted(names, key=key_precedence):
            entry = self._fresh.get(name)
            if entry is None:
                continue
            run_id = entry[0].id
            other = names_of.get(run_id)
            if other is not None and by_id[run_id][0] != entry[0] and (other, name) not in self._warned:
                self._warned.add((other, name))
                log.warning(
                    "run records %s and %s both hold run id %r with different content; reading %s "
                    "(the next compaction moves the other aside)", self.layout.fresh / other,
                    self.layout.fresh / name, run_id, f"{run_id}.json" if name == f"{run_id}.json" else other,
                )  # fmt: skip
            if other is None or name == f"{run_id}.json":
                by_id[run_id], names_of[run_id] = entry, name
        return by_id

    def _read_fresh(self) -> list[str]:
        """Names of the fresh records to read: record files by name, journal lines as ``<journal>@<offset>``."""
        self._journals.refresh()
        lines = {line_key(name, offset, data): (run_id, data) for name, offset, run_id, data in self._journals.lines()}
        for name, offset in self._journals.damage():
            if (name, str(offset)) not in self._warned:
                self._warned.add((name, str(offset)))
                log.warning("skipping a corrupt run record in %s (byte %d)", self.layout.fresh / name, offset)
        present = set(fresh_names(self.layout)) | lines.keys()
        for gone in [n for n in self._fresh if n not in present]:
            del self._fresh[gone]
        if len(self.segments.bad) != self._bad_seen:  # a skipped segment's fresh copies count again
            self._bad_seen, self._folded = len(self.segments.bad), set()
        # Files folded by a compaction stay a grace period for outside readers; a held id
        # stays held (merges keep ids), so each name is looked up once.
        self._folded &= present
        kept = []
        for name in present - self._folded:
            line = lines.get(name)
            run_id = line[0] if line is not None else name[: -len(".json")]
            if name not in self._fresh and self.segments.holder(run_id) is not None:
                self._folded.add(name)
                continue
            if name not in self._fresh:
                path = self.layout.fresh / name
                data = line[1] if line is not None else read_record(path)
                if data is None:
                    continue  # compacted meanwhile: the segment listed next holds it
                try:
                    run = decode_run(data)
                    self._fresh[name] = (run, segments.run_row(run))
                except msgspec.DecodeError as exc:
                    log.warning("skipping corrupt run record %s: %s", path, exc)
                    self._fresh[name] = None
            kept.append(name)
        return kept

    # -- queries ---------------------------------------------------------------------

    def arrow(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pa.Table:
        """Run ``sql`` (with bound ``params``) on fresh views and return an Arrow table."""
        import duckdb

        with self._lock:
            try:
                return self._arrow(sql, params, reads_records(sql))
            except duckdb.CatalogException:
                if self._loaded:
                    raise
                return self._arrow(sql, params, True)  # it reached the records without naming them

    def _arrow(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None, records: bool) -> pa.Table:
        import duckdb

        for attempt in range(_RETRIES):
            con = self.connection(records)
            key = plan_key(sql, params)
            try:
                relation = self._relation(con, sql, params, key)
                return relation.to_arrow_table() if relation is not None else pa.table({})
            except Exception as exc:
                self._plans.pop(key, None)  # never reuse a relation that failed
                if not isinstance(exc, duckdb.IOException):
                    raise
                # A segment merged away between listing and reading: list again.
                if attempt == _RETRIES - 1:
                    if str(self.layout.segments) in str(exc):  # other files (views' data) are not ours to name
                        raise vanished(str(exc)) from exc
                    raise
                self._state = None
        raise AssertionError("unreachable")

    def _relation(
        self, con: Any, sql: str, params: Sequence[Any] | Mapping[str, Any] | None, key: tuple[Any, ...] | None
    ) -> Any:
        found = self._plans.get(key) if key is not None else None
        if found is not None:
            self._plans.move_to_end(key)
            return found
        if not params:
            params = None
        elif not isinstance(params, Mapping):
            params = list(params)  # $name placeholders take a dict, ? placeholders a list
        relation = con.sql(sql, params=params)
        # Only a lazy SELECT is kept: anything else ran when the relation was made.
        if key is not None and relation is not None and relation.type == "QUERY_RELATION":
            self._plans[key] = relation
            if len(self._plans) > _PLANS:
                self._plans.popitem(last=False)
        return relation

    def forget_plans(self) -> None:
        """Drop the kept relations (after changing the connection's views or tables)."""
        with self._lock:
            self._plans.clear()

    def runs(
        self, where: str = "", params: Sequence[Any] | None = None, order: str = "", *, indexed: bool = False
    ) -> list[Run]:
        """Runs whose rows match ``where`` (SQL over ``runs`` columns, bound ``params``).

        SQL picks the ids: from the in-memory index when ``indexed`` (``where`` uses only
        :data:`INDEX_COLUMNS`), else by scanning the segments. The records come from
        this process's fresh-record cache or the segments' memory-mapped record files.
        """
        sql = "SELECT id FROM " + ("_consist_found" if indexed else "_consist_records")
        if where:
            sql += f" WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        with self._lock:
            for attempt in range(_RETRIES):
                found = list(dict.fromkeys(self.arrow(sql, params).column("id").to_pylist()))  # once per id
                try:
                    return self._records(found)
                except FileNotFoundError as exc:  # a segment merged away meanwhile: list again
                    if attempt == _RETRIES - 1:
                        raise vanished(exc.filename or str(exc)) from exc
                    self._state = None
        raise AssertionError("unreachable")

    def _records(self, run_ids: list[str]) -> list[Run]:
        fresh = {}
        for run_id in run_ids:
            entry = self._by_id.get(run_id)
            if entry is not None:
                fresh[run_id] = entry[0]
        stored = self.segments.read_records(i for i in run_ids if i not in fresh)
        out = []
        for run_id in run_ids:
            run = fresh.get(run_id)
            if run is None and run_id in stored:
                run = decode_run(stored[run_id])
            if run is not None:
                out.append(run)
        return out

    def run(self, run_id: str) -> Run | None:
        """The record of ``run_id`` as of the last refresh, or None."""
        with self._lock:
            found = self._records([run_id])
            return found[0] if found else None

    def close(self) -> None:
        """Close the connection (a later query opens a new one)."""
        with self._lock:
            if self._con is not None and self._pid == os.getpid():
                self._con.close()
            self._con = None
            self._state = None
            self._plans.clear()
