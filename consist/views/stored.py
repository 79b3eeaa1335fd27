"""Schema views in the catalog file at ``db_path``, for DuckDB clients outside consist.

consist's own view of a schema lives in its query connection and follows the catalog on
every query (:mod:`consist.views.namespace`). A view stored in a DuckDB file cannot do that: DuckDB
takes the files a ``read_parquet`` reads from constants, never from a query. So each time
consist (re)builds its views it also writes them into the catalog file, as they stand
then: a *snapshot*. A plain ``duckdb.connect("provenance.duckdb")`` then reads ``person``
as of the last query any consist process made, and the ``consist_views`` table says
when that was and how many artifacts each view covered.

The stored view reads every artifact from its file. Ingested rows live in consist's hot
database, which a stored view cannot name; an ingested artifact whose file is gone (a
ghost) is therefore left out of the stored view and counted in ``consist_views``.

Writing is best effort and never fails a query, and never locks the file: a copy is
changed and renamed over it, so a DuckDB client reading it meanwhile (in this process or
another) keeps the copy it opened. When someone holds the file open for writing (a DuckDB
shell, say), the snapshot waits for the next build. A snapshot is written only when its
SQL changed: each write leaves a marker (``<run_dir>/.consist/views_written``) with the
snapshot's digest and the identity (inode, size, mtime) of the file it wrote, so a new
process whose views are the same does not write them again while that file stands.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from consist.atomic import write_bytes
from consist.catalog.database import replace_file

if TYPE_CHECKING:
    from consist.artifacts.layout import Layout

log = logging.getLogger("consist.views")

VIEWS_TABLE = "consist_views"
_MARKER = "views_written"  # in the metadata folder: the snapshot last written, and into which file


@dataclass(frozen=True)
class StoredView:
    """One schema view as written to the catalog file.

    Attributes
    ----------
    name
        The view's name (the schema's table name).
    sql
        Its ``SELECT``: reads only files, no consist-process objects.
    artifacts
        How many artifacts it reads.
    omitted
        Ingested artifacts left out because their file is gone.
    provenance
        Rows of the small provenance table the SQL joins, for files read without a link
        (None when every file has one).
    """

    name: str
    sql: str
    artifacts: int
    omitted: int
    provenance: Any = None
    provenance_table: str | None = None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Writers still busy at exit are given a moment to finish (a cut-off write loses nothing:
# DuckDB replays or drops its WAL, and the next build writes the snapshot again).
_writers: set[threading.Thread] = set()


@atexit.register
def _finish_writes() -> None:
    for thread in list(_writers):
        thread.join(timeout=10)


class StoredViews:
    """Writes snapshots of schema views into one catalog file (see the module docstring).

    :meth:`submit` hands a snapshot to a background thread, off the query's path (writing
    costs 20-30 ms); when several arrive while one is written, only the newest is.
    """

    def __init__(self, db_path: Path, layout: Layout) -> None:
        self.db_path = db_path
        self.layout = layout
        self._written: tuple[int, str] | None = None  # (file inode, digest) last written
        self._pending: list[StoredView] | None = None
        self._last: list[StoredView] | None = None  # the newest snapshot submitted
        self._tried_inode: int | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, views: list[StoredView]) -> None:
        """Write ``views`` soon, in the background."""
        with self._lock:
            self._pending = self._last = views
            if self._thread is not None and self._thread.is_alive():
                return  # the running writer picks the newest snapshot up before it stops
            thread = threading.Thread(target=self._drain, name="consist-stored-views", daemon=True)
            self._thread = thread
            _writers.add(thread)
            thread.start()

    def resubmit_if_replaced(self) -> None:
        """Submit the newest snapshot again if the catalog file was rebuilt (a new file) since."""
        if self._last is None:
            return
        try:
            inode = self.db_path.stat().st_ino
        except FileNotFoundError:
            return
        if inode != self._tried_inode:
            self.submit(self._last)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the snapshots submitted so far are written (or skipped)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _drain(self) -> None:
        try:
            while True:
                with self._lock:
                    views, self._pending = self._pending, None
                    if views is None:
                        self._thread = None
                        return
                try:
                    self.write(views)
                except Exception:  # a query never fails for the file's sake
                    log.exception("could not write schema views to %s", self.db_path)
        finally:
            _writers.discard(threading.current_thread())

    def _digest(self, views: list[StoredView]) -> str:
        h = blake3.blake3()
        for view in views:
            h.update(view.name.encode() + b"\x00" + view.sql.encode() + b"\x01")
        return h.hexdigest()

    def write(self, views: list[StoredView]) -> bool:
        """Write ``views`` into the file now unless it already holds them; True if written.

        The file is copied, the copy changed and renamed over it: consist never holds a
        lock on the file others read, and a reader that has it open keeps its old copy.
        """
        import duckdb

        digest = self._digest(views)
        try:
            st = self.db_path.stat()
        except FileNotFoundError:
            return False  # the tracker builds the catalog file; nothing to add to yet
        self._tried_inode = st.st_ino
        if self._written == (st.st_ino, digest) or self._marker() == self._identity(digest, st):
            self._written = (st.st_ino, digest)
            return False
        if _busy(self.db_path):
            return False
        try:
            st = replace_file(self.db_path, lambda con: _install(con, views), copy=True, layout=self.layout)
        except (OSError, duckdb.Error) as exc:
            log.warning("could not write schema views to %s: %s", self.db_path, exc)
            return False
        self._written = (st.st_ino, digest)
        try:
            write_bytes(self.layout.root / _MARKER, self._identity(digest, st))
        except OSError:
            pass  # the next process writes the same views again: nothing lost
        return True

    def _identity(self, digest: str, st: os.stat_result) -> bytes:
        """The marker's content for ``digest`` written into the file whose ``stat`` is ``st``."""
        return f"{digest}\n{self.db_path.resolve()}\n{st.st_ino} {st.st_size} {st.st_mtime_ns}".encode()

    def _marker(self) -> bytes | None:
        try:
            return (self.layout.root / _MARKER).read_bytes()
        except OSError:
            return None


def _busy(db_path: Path) -> bool:
    """Whether someone holds ``db_path`` open for writing (then its bytes may be mid-change)."""
    import duckdb

    try:
        duckdb.connect(str(db_path), read_only=True).close()
    except duckdb.Error as exc:
        log.debug("schema views not written to %s (it is busy or unreadable): %s", db_path, exc)
        return True
    return False


def _install(con: Any, views: list[StoredView]) -> None:
    import polars as pl  # not pyarrow's conversion from Python objects: that imports pandas

    con.execute("BEGIN")
    try:
        for view in views:
            if view.provenance is not None and view.provenance_table:
                con.register("_consist_prov_rows", view.provenance)
                try:
                    con.execute(
                        f"CREATE OR REPLACE TABLE {_quote(view.provenance_table)} AS SELECT * FROM _consist_prov_rows"
                    )
                finally:
                    con.unregister("_consist_prov_rows")
            con.execute(f"CREATE OR REPLACE VIEW {_quote(view.name)} AS {view.sql}")
        rows = pl.DataFrame(
            {
                "view_name": [v.name for v in views],
                "artifacts": [v.artifacts for v in views],
                "ingested_omitted": [v.omitted for v in views],
            },
            schema={"view_name": pl.String, "artifacts": pl.Int64, "ingested_omitted": pl.Int64},
        )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {VIEWS_TABLE} "
            "(view_name VARCHAR, artifacts BIGINT, ingested_omitted BIGINT, built_at TIMESTAMP WITH TIME ZONE)"
        )
        con.register("_consist_view_rows", rows)
        try:
            # Rows of views other consist processes registered stay.
            con.execute(f"DELETE FROM {VIEWS_TABLE} WHERE view_name IN (SELECT view_name FROM _consist_view_rows)")
            con.execute(f"INSERT INTO {VIEWS_TABLE} SELECT view_name, artifacts, ingested_omitted, now() FROM _consist_view_rows")
        finally:
            con.unregister("_consist_view_rows")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
