"""Source listings saved beside the catalog, so a new process need not read the records.

Listing a key's sources (:func:`consist.views.sources.list_sources`) reads every run
record: a new process would decode the fresh records, open the segments and scan their
artifact lists before its first view query (most of that query's time in a sweep of a
few thousand runs). So the listing's result is saved, as an Arrow table, in
``<run_dir>/.consist/sources/<digest of the query>.arrow``, with the identity of every
record and segment file it was read from (:func:`consist.catalog.listing.identity`: the
folder's path and each file's inode, size, modification and change times) and the
table's BLAKE3 digest. A process uses a saved listing only while that identity holds and
the digest matches; any new run, compaction, merge, moved or copied folder, or file
touched in place makes it read the records again (and save anew). A listing read from a
catalog with a damaged segment or record is not saved: the next process reads the
records and reports the damage itself.

A listing is written by a background thread, off the query's path, and renamed into
place whole. It is only a cache: deleting ``sources/`` at any time loses nothing but
speed, and a file that fails its checks is ignored.
"""

from __future__ import annotations

import atexit
import logging
import os
import struct
import threading
from pathlib import Path
from typing import Any

import blake3
import msgspec
import pyarrow as pa
import pyarrow.ipc

from consist.artifacts.layout import Layout
from consist.atomic import write_bytes
from consist.catalog.listing import identity

log = logging.getLogger("consist.views")

_MAGIC = b"consist-sources-1\n"
_LENGTH = struct.Struct("<Q")


class _Header(msgspec.Struct, frozen=True):
    identity: str  # of the record files, taken before they were read
    query: str  # digest of the listing's SQL and values
    payload: str  # digest of the Arrow bytes that follow


def _query_digest(sql: str, params: list[Any]) -> str:
    return blake3.blake3(msgspec.json.encode([sql, params])).hexdigest()


def _path(layout: Layout, query: str) -> Path:
    return layout.root / "sources" / f"{query[:32]}.arrow"


def load(layout: Layout, sql: str, params: list[Any]) -> tuple[pa.Table | None, str]:
    """The saved result of ``sql`` if the record files still stand as they were; and their identity now.

    Pass that identity to :func:`save` after reading the records instead.
    """
    now = identity(layout)
    query = _query_digest(sql, params)
    try:
        data = _path(layout, query).read_bytes()
    except OSError:
        return None, now
    try:
        if not data.startswith(_MAGIC):
            return None, now
        start = len(_MAGIC) + _LENGTH.size
        (length,) = _LENGTH.unpack_from(data, len(_MAGIC))
        header = msgspec.json.decode(data[start : start + length], type=_Header)
        payload = memoryview(data)[start + length :]
        if header.identity != now or header.query != query or blake3.blake3(payload).hexdigest() != header.payload:
            return None, now
        return pa.ipc.open_stream(pa.py_buffer(payload)).read_all(), now
    except (msgspec.DecodeError, struct.error, pa.ArrowException) as exc:
        log.debug("ignoring the saved source listing of %s: %s", layout.root, exc)
        return None, now


def save(layout: Layout, sql: str, params: list[Any], ident: str, table: pa.Table) -> None:
    """Save ``table``, the result of ``sql`` read from record files whose identity was ``ident``.

    Written by a background thread, off the query's path (31 MB at 100,000 sources); when
    several listings of one query arrive meanwhile, only the newest is written. See :func:`flush`.
    """
    global _thread
    query = _query_digest(sql, params)
    with _lock:
        _pending[_path(layout, query)] = (query, ident, table)
        if _thread is not None and _thread.is_alive():
            return  # the running writer picks it up before it stops
        _thread = threading.Thread(target=_drain, name="consist-saved-sources", daemon=True)
        _thread.start()


def flush(timeout: float | None = None) -> None:
    """Wait until the listings handed to :func:`save` so far are written (or given up)."""
    thread = _thread
    if thread is not None:
        thread.join(timeout)


_lock = threading.Lock()
_pending: dict[Path, tuple[str, str, pa.Table]] = {}
_thread: threading.Thread | None = None


def _drain() -> None:
    global _thread
    while True:
        with _lock:
            if not _pending:
                _thread = None
                return
            path, (query, ident, table) = _pending.popitem()
        try:
            _write(path, query, ident, table)
        except Exception:  # a listing is only a cache: the next process reads the records
            log.exception("could not save the source listing %s", path)


def _write(path: Path, query: str, ident: str, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:  # uncompressed: a first zstd read costs 30 ms
        writer.write_table(table)
    payload = sink.getvalue()
    header = msgspec.json.encode(_Header(ident, query, blake3.blake3(payload).hexdigest()))
    try:
        write_bytes(path, b"".join([_MAGIC, _LENGTH.pack(len(header)), header, payload]))
    except OSError as exc:  # a read-only folder: every process reads the records instead
        log.debug("could not save the source listing %s: %s", path, exc)


def _after_fork() -> None:
    """A forked child starts with no writer (and a lock nobody holds)."""
    global _lock, _thread
    _lock, _thread = threading.Lock(), None
    _pending.clear()


os.register_at_fork(after_in_child=_after_fork)
atexit.register(flush, 10)  # a write cut off at exit loses nothing: the next process reads the records
