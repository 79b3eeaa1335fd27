"""Which catalog file a run folder goes with.

A pipeline names its catalog file (``Tracker(run_dir="runs", db_path="provenance.duckdb")``);
the folder remembers it in ``.consist/db_path``, so that code given only the run folder
(``Tracker(run_dir="runs")``, the ``consist`` command) uses that file rather than building
a second one inside the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from consist.artifacts.layout import Layout
from consist.atomic import write_bytes
from consist.errors import ConfigError


def remembered_db_path(layout: Layout, given: str | os.PathLike[str] | None, default: Path) -> Path:
    """The catalog file to use: ``given`` (remembered in the folder), else the one remembered.

    So ``Tracker(run_dir="runs")`` and the ``consist`` command, given only the run folder,
    use the catalog file the pipeline named, not a second one inside the folder.

    Raises
    ------
    ConfigError
        The path holds a ``?``: DuckDB cannot commit to such a file (it looks for the
        file's write-ahead log at a mangled path), so the catalog could never be built.
    """
    path = _db_path(layout, given, default)
    if "?" in str(path):
        spelled = "db_path=" if given is not None else f"the default db_path (inside run_dir {str(default.parent)!r})"
        raise ConfigError(
            f"{spelled} {str(path)!r} contains '?', and DuckDB cannot write a database file whose path "
            "holds a '?'. Pass db_path= a file in a folder whose path has no '?'."
        )
    return path


def _db_path(layout: Layout, given: str | os.PathLike[str] | None, default: Path) -> Path:
    if given is not None:
        path = Path(given).expanduser().resolve()
        try:
            current = layout.db_pointer.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        if current != str(path):
            try:
                write_bytes(layout.db_pointer, str(path).encode("utf-8"))
            except OSError:
                pass  # a read-only run folder: the default stays the folder's own file
        return path
    try:
        remembered = Path(layout.db_pointer.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, UnicodeDecodeError, OSError):
        return default
    return remembered if remembered.is_absolute() and remembered.parent.is_dir() else default
