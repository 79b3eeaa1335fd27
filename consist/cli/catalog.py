"""The ``consist`` command's access to a run folder and its catalog.

The command is a DuckDB client of the catalog file at ``db_path``: it opens it
read-only (no lock on writers, nothing materialised but the rows asked for) and runs
SQL on its views (``runs``, ``artifacts``, ``run_artifacts``, ``facets``, and any view
or table a user put there). When the file is held open for writing by another process,
it falls back to the tracker's in-process catalog, which defines the same views.
Records by id come from :class:`~consist.catalog.records.RecordStore` (no DuckDB at all).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.errors import CatalogError, RunDirNotFoundError, RunNotFoundError

if TYPE_CHECKING:
    from consist.models import Run

# consist.catalog.database.CATALOG_SCHEMA_VERSION, repeated so that opening the catalog does not
# import pyarrow (through consist.catalog.segments) before the first row is printed; a unit test
# keeps the two equal.
CATALOG_SCHEMA_VERSION = 3
ENV_RUN_DIR = "CONSIST_RUN_DIR"


def first_line(exc: BaseException) -> str:
    """An exception's message on one line (DuckDB's carry a caret picture below)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [c for c in folder.iterdir() if c.is_dir()]
    except OSError:
        return []


class CliCatalog:
    """One run folder as the command sees it.

    Parameters
    ----------
    run_dir
        The ``run_dir`` given to ``Tracker``; must exist and hold ``.consist``.
    db_path
        The catalog file (default: the one the run folder was last used with, else
        ``<run_dir>/provenance.duckdb``).

    Raises
    ------
    RunDirNotFoundError
        ``run_dir`` does not exist or is not a run folder.
    """

    def __init__(self, run_dir: str | os.PathLike[str], db_path: str | os.PathLike[str] | None = None) -> None:
        folder = Path(run_dir).expanduser()
        if not folder.is_dir():
            raise RunDirNotFoundError(
                f"no run folder at {folder.resolve()}: pass --run-dir (or set {ENV_RUN_DIR}) "
                "to the run_dir your Tracker writes to."
            )
        if not (folder / ".consist").is_dir():
            # A work folder holding the run folder (examples/pipeline.py's `runs/`): name it.
            inside = sorted(str(c) for c in _subfolders(folder) if (c / ".consist").is_dir())[:3]
            hint = f" Run folders inside it: {', '.join(inside)}." if inside else ""
            raise RunDirNotFoundError(
                f"{folder.resolve()} is not a consist run folder (it has no .consist inside): "
                f"pass --run-dir to the run_dir your Tracker writes to.{hint}"
            )
        from consist.tracker import Tracker

        self.tracker: Tracker = Tracker(run_dir=folder, db_path=db_path, progress=False)
        self._con: Any = None
        self._live = False

    # -- SQL -------------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._con is not None or self._live:
            return self._con
        db_path = self.tracker.db_path
        if not db_path.exists():
            self._live = True  # could not be built here (read-only place): query in process
            return None
        con = self._open(db_path)
        if con is not None and not self._current(con):
            con.close()
            from consist.catalog.database import ensure_database

            ensure_database(db_path, self.tracker.layout)
            con = self._open(db_path)
        self._con = con
        self._live = con is None
        return con

    @staticmethod
    def _open(db_path: Path) -> Any:
        # None when a writer holds the file: the in-process catalog has the same views.
        import duckdb

        try:
            return duckdb.connect(str(db_path), read_only=True)
        except duckdb.Error as exc:
            if "lock" in str(exc).lower():
                return None
            raise CatalogError(
                f"the catalog file {db_path} is unreadable ({first_line(exc)}); "
                "rebuild it from the run records with `consist rebuild`."
            ) from None

    def _current(self, con: Any) -> bool:
        # The file names the records folder it was built for: a moved run folder or an
        # older consist means its views must be redefined first.
        try:
            rows = con.execute("SELECT version, records_root FROM consist_schema").fetchall()
        except Exception:  # noqa: BLE001 - no stamp table: treat as old and rebuild the views
            return False
        if not rows:
            return False
        row = rows[0]
        root = str(self.tracker.layout.root.resolve())
        version = int(row[0])
        return version > CATALOG_SCHEMA_VERSION or (version == CATALOG_SCHEMA_VERSION and row[1] == root)

    def check(self) -> None:
        """Open the catalog file now, so a damaged one is reported before any work starts.

        Raises
        ------
        CatalogError
            The file is not a readable DuckDB catalog (``consist rebuild`` replaces it).
        """
        self._connection()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows of ``sql`` (bound ``params``) on the catalog."""
        con = self._connection()
        if con is None:
            table = self.tracker.catalog.arrow(sql, params)
            return list(table.column_names), [tuple(r.values()) for r in table.to_pylist()]
        cursor = con.execute(sql, list(params) if params else None)
        if cursor.description is None:
            return [], []
        return [d[0] for d in cursor.description], cursor.fetchall()

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """``sql`` as a pyarrow Table (for Parquet output)."""
        con = self._connection()
        if con is None:
            return self.tracker.catalog.arrow(sql, params)
        return con.sql(sql, params=list(params) if params else None).to_arrow_table()

    def close(self) -> None:
        """Close the file connection, if one was opened."""
        if self._con is not None:
            self._con.close()
            self._con = None

    # -- records ---------------------------------------------------------------------

    def run(self, ref: str) -> Run:
        """The run with id ``ref``, or the one run whose id starts with ``ref``.

        Raises
        ------
        RunNotFoundError
            No run has that id (or prefix), or the prefix is ambiguous (the message
            lists the candidates).
        """
        run = self.tracker.records.get(ref)
        if run is not None:
            return run
        _, rows = self.execute(
            "SELECT id FROM runs WHERE starts_with(id, ?) ORDER BY ended_at DESC, id DESC LIMIT 6", [ref]
        )
        ids = [r[0] for r in rows]
        if len(ids) == 1:
            found = self.tracker.records.get(ids[0])
            if found is not None:
                return found
        if len(ids) > 1:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise RunNotFoundError(f"run id {ref!r} is ambiguous: it starts {shown}; give more of the id.")
        raise RunNotFoundError(
            f"no run has id {ref!r} in {self.tracker.run_dir}; list run ids with `consist runs`."
        )
