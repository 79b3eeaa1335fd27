"""The hot database: ingested rows in DuckDB, and how processes share the file.

Where hot data lives, and why there
    ``<run_dir>/.consist/hot/hot.duckdb``, one table per artifact key (quoted; the
    provenance columns first, then the data columns; a later artifact with new columns
    adds them, a wider type widens them, a conflicting type is refused). It is not the
    catalog file at ``db_path``: that file is views only, rebuilt by rename whenever it
    is missing or old, and must never hold the only copy of data. Next to the records,
    hot data is part of the metadata folder that is the source of truth.

How it is shared between processes
    DuckDB lets one process write a database file, or any number read it, never both.
    Writers take ``hot/.lock`` (a file lock, see :mod:`consist.file_lock`), leave a ``hot/.writing`` notice, and open
    the file read-write only for one ingestion; readers (view queries, ghost loads)
    attach it read-only only for the duration of one query, and wait while a notice is
    up, so a stream of queries cannot starve a writer. Either side retries for a while
    when the other holds the file. Within a process one lock per file serialises all this.

What an ingestion records
    After the rows are committed, ``hot/ingested/<artifact_id>.json`` names the table,
    the artifact's own columns and its row count. Views read this manifest (one
    ``listdir``) to serve an ingested artifact from its hot rows and never from its file
    as well; an ingestion killed before writing it leaves rows that no view serves and
    that the next ingestion of the artifact replaces.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from consist.artifacts import coltypes
from consist.artifacts.schema_capture import ColumnSchema, reader_sql
from consist.atomic import write_bytes
from consist.errors import (
    ArtifactNotFoundError,
    CatalogError,
    ConfigError,
    SchemaConflictError,
)
from consist.file_lock import held
from consist.models import Artifact
from consist.views.sources import PROVENANCE, check_columns

if TYPE_CHECKING:
    from consist.artifacts.layout import Layout

HOT_ALIAS = "consist_hot"
LOCK_TIMEOUT = 60.0
WRITER_NOTICE = ".writing"  # present while a writer wants or holds the file
NOTICE_EXPIRES = 120.0  # seconds after which a notice is taken as left by a killed writer
INGESTIBLE = ("parquet", "csv", "arrow", "json")


class IngestRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One ingested artifact: where its rows are and what its own columns were.

    Attributes
    ----------
    artifact_id, key, hash, uri, run_id
        The artifact ingested.
    table
        The hot table holding its rows (in ``.consist/hot/hot.duckdb``).
    rows
        Rows copied.
    columns
        The artifact's own columns (the table may have more, from other artifacts).
    frame_kind
        The kind of frame it was logged as, so a ghost load gives back the same kind.
    arrow_schema
        The Parquet file's Arrow schema (serialised IPC bytes), so a ghost load restores
        the dtypes and metadata the hot table cannot hold (pandas index and nullable
        dtypes, categoricals, Enums, time zones).
    """

    artifact_id: str
    key: str
    table: str
    rows: int
    columns: list[ColumnSchema]
    hash: str
    uri: str
    run_id: str | None = None
    frame_kind: str | None = None
    ingested_at: float = 0.0
    arrow_schema: bytes | None = None


_decoder = msgspec.json.Decoder(IngestRecord)
# Field metadata key holding a dictionary column's values in an IngestRecord.arrow_schema.
DICTIONARY_META = b"consist.dictionary"
_encoder = msgspec.json.Encoder()
_process_locks: dict[str, threading.RLock] = {}
_locks_lock = threading.Lock()


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _retrying(open_once: Any, what: str, timeout: float) -> Any:
    import duckdb

    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return open_once()
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() > deadline:
                raise CatalogError(
                    f"{what}: another process has held it for {timeout:.0f} s ({exc}). "
                    "Close the other connection (a DuckDB shell?) and try again."
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


class HotStore:
    """The hot database of one metadata folder (one instance per folder per process)."""

    def __init__(self, layout: Layout) -> None:
        self.root = layout.hot
        self.db = self.root / "hot.duckdb"
        self.manifests = self.root / "ingested"
        key = str(self.db.resolve())
        with _locks_lock:
            self.lock = _process_locks.setdefault(key, threading.RLock())
        self._records: dict[str, IngestRecord] = {}

    # -- the manifest -------------------------------------------------------------------

    def names(self) -> frozenset[str]:
        """Names of the manifest files (a cheap version token)."""
        try:
            return frozenset(n for n in os.listdir(self.manifests) if n.endswith(".json") and not n.startswith("."))
        except FileNotFoundError:
            return frozenset()

    def records(self) -> dict[str, IngestRecord]:
        """Artifact id -> ingestion record, for every committed ingestion."""
        names = self.names()
        for name in names:
            artifact_id = name[: -len(".json")]
            if artifact_id not in self._records:
                try:
                    self._records[artifact_id] = _decoder.decode((self.manifests / name).read_bytes())
                except (FileNotFoundError, msgspec.DecodeError):
                    continue
        return self._records

    def record(self, artifact_id: str) -> IngestRecord | None:
        """The ingestion record of ``artifact_id``, or None."""
        if artifact_id in self._records:
            return self._records[artifact_id]
        try:
            found = _decoder.decode((self.manifests / f"{artifact_id}.json").read_bytes())
        except (FileNotFoundError, msgspec.DecodeError, OSError):
            return None
        self._records[artifact_id] = found
        return found

    # -- reading ------------------------------------------------------------------------

    def _wait_for_writer(self, timeout: float) -> None:
        # A writer announces itself before taking the file; readers step aside so that a
        # stream of short queries cannot starve it. A stale notice (a killed writer) expires.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                age = time.time() - os.stat(self.root / WRITER_NOTICE).st_mtime
            except FileNotFoundError:
                return
            if age > NOTICE_EXPIRES:
                return
            time.sleep(0.01)

    @contextmanager
    def attached(self, con: Any, timeout: float = LOCK_TIMEOUT) -> Iterator[bool]:
        """Attach the hot database read-only to ``con`` for the block (False when there is none)."""
        with self.lock:
            if not self.db.exists():
                yield False
                return
            self._wait_for_writer(timeout)
            path = "'" + str(self.db).replace("'", "''") + "'"
            _retrying(lambda: con.execute(f"ATTACH {path} AS {HOT_ALIAS} (READ_ONLY)"),
                      f"reading ingested data in {self.db}", timeout)  # fmt: skip
            try:
                yield True
            finally:
                con.execute(f"DETACH {HOT_ALIAS}")

    def read(self, record: IngestRecord) -> Any:
        """The rows of one ingested artifact, in their original order, as an Arrow table."""
        import duckdb

        con = duckdb.connect(":memory:")
        try:
            with self.attached(con):
                cols = ", ".join(quote(c.name) for c in record.columns)
                return con.sql(
                    f"SELECT {cols} FROM {HOT_ALIAS}.main.{quote(record.table)} "
                    "WHERE consist_artifact_id = ? ORDER BY rowid",
                    params=[record.artifact_id],
                ).to_arrow_table()
        finally:
            con.close()

    # -- writing ------------------------------------------------------------------------

    @contextmanager
    def writer(self, timeout: float = LOCK_TIMEOUT) -> Iterator[Any]:
        """A read-write connection to the hot database, held only for the block."""
        import duckdb

        self.root.mkdir(parents=True, exist_ok=True)
        notice = self.root / WRITER_NOTICE
        with self.lock, held(self.root / ".lock", timeout=timeout):
            notice.write_bytes(str(os.getpid()).encode())
            try:
                con = _retrying(lambda: duckdb.connect(str(self.db)), f"writing ingested data to {self.db}", timeout)
                try:
                    yield con
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
            finally:
                notice.unlink(missing_ok=True)

    def ingest(self, artifact: Artifact, provenance: dict[str, Any]) -> IngestRecord:
        """Copy ``artifact``'s rows into its key's table (idempotent per artifact)."""
        done = self.record(artifact.id)
        if done is not None:
            return done
        path = artifact.path
        if not path.exists():
            raise ArtifactNotFoundError(
                f"cannot ingest {artifact.key!r}: its file {path} is missing. Recover it with "
                "tracker.recover(artifact) first."
            )
        table = artifact.key
        with self.writer() as con:
            source = _source_relation(con, artifact)
            described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
            own = [ColumnSchema(name=str(n), type=str(t)) for n, t, *_ in described]
            check_columns((c.name for c in own), f"ingesting {artifact.key!r} ({path})")
            _evolve(con, table, own, path, self.record)
            marks = ", ".join(f"CAST(? AS {t}) AS {n}" for n, t in PROVENANCE.items())
            values = [provenance[n] for n in PROVENANCE]
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(f"DELETE FROM {quote(table)} WHERE consist_artifact_id = ?", [artifact.id])
                con.execute(f"INSERT INTO {quote(table)} BY NAME SELECT {marks}, * FROM {source}", values)
                rows = con.execute(
                    f"SELECT count(*) FROM {quote(table)} WHERE consist_artifact_id = ?", [artifact.id]
                ).fetchone()[0]
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        record = IngestRecord(
            artifact_id=artifact.id, key=artifact.key, table=table, rows=int(rows), columns=own, hash=artifact.hash,
            uri=artifact.uri, run_id=artifact.run_id, frame_kind=artifact.frame_kind, ingested_at=time.time(),
            arrow_schema=_file_schema(artifact),
        )  # fmt: skip
        # Published only after the rows are committed: a view trusts the manifest.
        write_bytes(self.manifests / f"{artifact.id}.json", _encoder.encode(record))
        self._records[artifact.id] = record
        return record


def _file_schema(artifact: Artifact) -> bytes | None:
    # Only Parquet carries the full Arrow schema (with pandas/Polars metadata) cheaply.
    if artifact.driver != "parquet":
        return None
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    schema = pq.read_schema(artifact.path)
    coded = [f.name for f in schema if pat.is_dictionary(f.type)]
    if coded:
        # A dictionary's values (a pandas categorical's categories, in their order) are
        # data, not schema: keep them in the field metadata so a ghost restores them.
        table = pq.read_table(artifact.path, columns=coded).unify_dictionaries()
        for name in coded:
            column = table.column(name)
            values = column.chunk(0).dictionary.to_pylist() if column.num_chunks else []
            i = schema.get_field_index(name)
            field = schema.field(i)
            meta = {**(field.metadata or {}), DICTIONARY_META: msgspec.json.encode(values)}
            schema = schema.set(i, field.with_metadata(meta))
    return schema.serialize().to_pybytes()


def _source_relation(con: Any, artifact: Artifact) -> str:
    """What to put after FROM to read ``artifact``'s rows on ``con``."""
    if artifact.driver in ("parquet", "csv"):
        return reader_sql(artifact.path, artifact.driver)
    if artifact.driver in INGESTIBLE:
        from consist.artifacts.formats import drivers

        table = drivers.load(artifact.path, artifact.driver, "arrow")
        con.register("_consist_source_arrow", table)
        return "_consist_source_arrow"
    raise ConfigError(
        f"cannot ingest {artifact.key!r}: driver {artifact.driver!r} is not tabular "
        f"(ingestible: {', '.join(INGESTIBLE)})."
    )


def _evolve(con: Any, table: str, own: list[ColumnSchema], path: Path, record: Any = None) -> None:
    """Create ``table`` or grow it to take ``own``'s columns (widening types within a family).

    ``record`` (artifact id -> its IngestRecord) names the earlier file in a conflict.
    """
    existing = {
        str(n): str(t)
        for n, t in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? "
            "ORDER BY column_index",
            [table],
        ).fetchall()
    }
    if not existing:
        cols = [f"{n} {t}" for n, t in PROVENANCE.items()] + [f"{quote(c.name)} {c.type}" for c in own]
        con.execute(f"CREATE TABLE {quote(table)} ({', '.join(cols)})")
        return
    for col in own:
        have = existing.get(col.name)
        if have is None:
            con.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(col.name)} {col.type}")
            continue
        combined = coltypes.combine([have, col.type])
        if combined is None:
            found = con.execute(
                f"SELECT any_value(consist_artifact_id) FROM {quote(table)} WHERE {quote(col.name)} IS NOT NULL"
            ).fetchone()
            earlier = record(found[0]) if record is not None and found and found[0] else None
            origin = f"ingested from {earlier.uri}" if earlier is not None else "from earlier artifacts"
            raise SchemaConflictError(
                f"cannot ingest {path}: column {col.name!r} is {col.type} there, but the hot table "
                f"{table!r} holds it as {have}, {origin}. Rewrite the file with a matching type."
            )
        if combined != have:
            con.execute(f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(col.name)} TYPE {combined}")
