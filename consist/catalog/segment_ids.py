"""The id index of a segment: find a compacted run by id without reading any segment's ids.

``seg-<time>-<token>.ids`` is written with each segment, before it is published::

    b"CIX1" | header length (uint32) | header JSON {"replaces": [...]} | padding to 8
    | n keys (uint64, sorted) | n row numbers (uint32, in key order)

A key is the first 8 bytes of the Blake3 hash of a run id. A lookup memory-maps the
file and bisects the keys: a few page reads, whatever the catalog's size. The header
names the segments this one replaces, so the live set is known without opening a
Parquet file. The index is only a hint: every record found through it is checked (its
digest, then its id), and a damaged or missing index falls back to the full listing.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
from collections.abc import Iterable
from pathlib import Path

import msgspec
from blake3 import blake3

from consist.atomic import write_bytes

IDS_SUFFIX = ".ids"
_MAGIC = b"CIX1"
_HEAD = struct.Struct("<4sI")


def ids_path(segment: Path) -> Path:
    """The id index of the segment whose Parquet file is ``segment``."""
    return segment.with_name(segment.name[: -len(".parquet")] + IDS_SUFFIX)


def key(run_id: str) -> int:
    """The index key of ``run_id``."""
    return int.from_bytes(blake3(run_id.encode()).digest(length=8), "little")


def write_index(segment: Path, ids: Iterable[str], replaces: Iterable[str]) -> None:
    """Write (durably) the id index of ``segment``, whose rows hold ``ids`` in order."""
    pairs = sorted((key(run_id), row) for row, run_id in enumerate(ids))
    header = msgspec.json.encode({"replaces": sorted(replaces)})
    head = _HEAD.pack(_MAGIC, len(header)) + header
    head += b"\0" * (-len(head) % 8)
    keys = struct.pack(f"<{len(pairs)}Q", *(k for k, _ in pairs))
    rows = struct.pack(f"<{len(pairs)}I", *(r for _, r in pairs))
    write_bytes(ids_path(segment), head + keys + rows, durable=True)


class IdIndex:
    """One segment's id index, memory-mapped; raises ValueError when the file is malformed."""

    def __init__(self, segment: Path) -> None:
        with open(ids_path(segment), "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < _HEAD.size:
                raise ValueError("too short")
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        magic, length = _HEAD.unpack_from(self._map, 0)
        start = _HEAD.size + length
        start += -start % 8
        if magic != _MAGIC or start > size or (size - start) % 12:
            raise ValueError("malformed")
        try:
            self.replaces = frozenset(msgspec.json.decode(self._map[_HEAD.size : _HEAD.size + length])["replaces"])
        except (msgspec.DecodeError, KeyError, TypeError) as exc:
            raise ValueError(str(exc)) from None
        n = (size - start) // 12
        view = memoryview(self._map)
        self._keys = view[start : start + 8 * n].cast("Q")
        self._rows = view[start + 8 * n : size].cast("I")

    def rows(self, run_id: str) -> list[int]:
        """Row numbers whose id may be ``run_id`` (usually one; none when it is not here)."""
        wanted = key(run_id)
        at = bisect.bisect_left(self._keys, wanted)
        out = []
        while at < len(self._keys) and self._keys[at] == wanted:
            out.append(self._rows[at])
            at += 1
        return out
