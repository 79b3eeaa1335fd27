"""Which catalog file was last found current: a marker in the metadata folder.

Opening the DuckDB file at ``db_path`` to read its schema stamp costs a process 20-25 ms.
A process that found the file current, or wrote it, leaves ``<run_dir>/.consist/db_checked``
naming the schema version, the records folder, the file and its inode, size and mtime;
the next process skips opening a file that still matches (see
:func:`consist.catalog.database.ensure_database`).
"""

from __future__ import annotations

import os
from pathlib import Path

from consist.artifacts.layout import Layout
from consist.atomic import write_bytes

_NAME = "db_checked"


def token(db_path: Path, root: str, version: int, *, stat_of: Path | None = None) -> bytes | None:
    """What identifies the file as checked: schema version, records folder, inode, size, mtime.

    ``stat_of``: the file about to be renamed to ``db_path`` (its identity survives the rename).
    """
    try:
        st = os.stat(stat_of or db_path)
    except OSError:
        return None
    return f"{version}\n{root}\n{db_path.resolve()}\n{st.st_ino} {st.st_size} {st.st_mtime_ns}".encode()


def read(layout: Layout) -> bytes | None:
    """The marker's content, or None."""
    try:
        return (layout.root / _NAME).read_bytes()
    except OSError:
        return None


def write(layout: Layout, checked: bytes) -> None:
    """Remember a file found current, so that the next process need not open it (best effort)."""
    try:
        write_bytes(layout.root / _NAME, checked)
    except OSError:
        pass
