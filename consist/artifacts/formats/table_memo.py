"""Small Parquet files decoded once per process, as the Arrow tables they hold.

Loading the same output again is common: a notebook cell re-run, several steps of a
scenario reading one upstream table, a cache hit followed by a load. Decoding a
1,000-row file is most of such a load, and an Arrow table never changes, so the table
decoded from a small file is remembered and handed out again while the file still is
what was decoded: same device, inode, size, and modification and change times (a
change time cannot be set back, so a file rewritten in place, even with its mtime
restored, is read again). This is the same trust the content-hash memo places in a
stat (see :mod:`consist.identity.hashing`).

Callers convert the table for the user (``to_pandas`` copies), so no caller ever shares
mutable data. Memory is bounded: at most :data:`BUDGET` bytes of tables, least recently
used dropped first.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from typing import Any, BinaryIO

BUDGET = 64 << 20  # bytes of Arrow tables remembered per process
SMALL = 8 << 20  # bytes: larger files are read as a dataset, not remembered

_Key = tuple[str, int, int, int, int, int]
_tables: OrderedDict[_Key, Any] = OrderedDict()
_held = 0
_lock = threading.Lock()


def _key(path: str, st: os.stat_result) -> _Key:
    return (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_small(path: os.PathLike[str] | str) -> Any | None:
    """The Arrow table in the Parquet file at ``path``, or None when it is not a small file.

    A missing file raises ``FileNotFoundError``.
    """
    where = os.fspath(path)
    st = os.stat(where)  # a remembered table costs this one call
    if not stat.S_ISREG(st.st_mode) or st.st_size > SMALL:
        return None
    seen = _key(where, st)
    with _lock:
        table = _tables.get(seen)
        if table is not None:
            _tables.move_to_end(seen)
            return table
    opened = open_small(where, SMALL)
    if opened is None:
        return None
    fh, before = opened
    with fh:
        data = fh.read()
        after = os.fstat(fh.fileno())  # written to meanwhile: decode, but remember nothing
    table = _decode(data)
    key = _key(where, before)
    if _key(where, after) == key:
        _remember(key, table)
    return table


def open_small(path: os.PathLike[str] | str, limit: int) -> tuple[BinaryIO, os.stat_result] | None:
    """``path`` opened for reading with its ``fstat``, if a regular file of at most ``limit`` bytes; else None.

    A missing file raises ``FileNotFoundError``; a folder (a dataset) gives None.
    """
    try:
        fh = open(path, "rb")
    except IsADirectoryError:
        return None
    st = os.fstat(fh.fileno())
    if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
        fh.close()
        return None
    return fh, st


def _decode(data: bytes) -> Any:
    # One read call, decoded on this thread: read_table's dataset machinery and thread
    # pool cost 0.3-0.6 ms a call, several times the work for the files most steps write.
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)


def _remember(key: _Key, table: Any) -> None:
    global _held
    size = table.nbytes
    if size > BUDGET // 4:
        return
    with _lock:
        if key in _tables:
            return
        _tables[key] = table
        _held += size
        while _held > BUDGET:
            _, dropped = _tables.popitem(last=False)
            _held -= dropped.nbytes


def forget() -> None:
    """Drop every remembered table (tests; memory pressure)."""
    global _held
    with _lock:
        _tables.clear()
        _held = 0
