"""A step's recent executed runs: one append-only file per step name, read to explain misses.

Each executed run appends one frame to ``last/<name hash>``: one write to a file
that usually exists already, where a rewrite would create a temporary file and rename
it over the old one on every step. A frame is a marker byte, the payload's length and
CRC-32, then the run's :class:`~consist.identity.reasons.StepComponents` as msgpack::

    0xc1 | length (u32 LE) | crc32 (u32 LE) | payload

0xc1 is the one byte msgpack never writes, so a file starting with anything else is in
the earlier format (one msgpack list, newest first, or a single run) and is still read.
A reader skips a frame whose length runs past the end or whose CRC fails (a write torn
by a crash or a full disk) and looks for the next marker after it, so one damaged
frame loses one run, never the file. Once the file grows past :data:`MAX_BYTES` the
next append rewrites it atomically with the newest :data:`RECENT_RUNS` runs.

Losing a run here costs only the detail of a later miss reason (which earlier run it is
compared with): two processes appending at once both land (``O_APPEND``), and one
appending during another's rewrite may be dropped; no lock is worth taking.
"""

from __future__ import annotations

import os
import struct
import zlib

import msgspec

from consist.atomic import name_target, read_small, write_bytes
from consist.identity.reasons import StepComponents
from consist.models import enc_hook

# Executed runs remembered per step name, newest first, to explain later misses.
RECENT_RUNS = 16
# A history file is rewritten with its newest RECENT_RUNS runs past this size (about 100 runs).
MAX_BYTES = 48 * 1024
_MARK = 0xC1
_HEAD = struct.Struct("<BII")

_encoder = msgspec.msgpack.Encoder(enc_hook=enc_hook)
# Histories this process has seen in the frame format: an append need not read their first byte.
_framed: set[str] = set()
_decoder = msgspec.msgpack.Decoder(StepComponents)
_old_list = msgspec.msgpack.Decoder(list[StepComponents])


def read(path: str) -> list[StepComponents]:
    """The runs kept in the history file at ``path``, newest first, each run once."""
    data = read_small(path)
    if not data:
        return []
    if data[0] != _MARK:
        return _read_old(data)
    _framed.add(path)
    newest_first: list[StepComponents] = []
    seen: set[str] = set()
    for components in reversed(_frames(data)):
        if components.run_id not in seen:
            seen.add(components.run_id)
            newest_first.append(components)
    return newest_first[:RECENT_RUNS]


def append(path: str, components: StepComponents, recent: list[StepComponents]) -> None:
    """Add ``components`` as the newest run; ``recent`` is what :func:`read` returned (for a rewrite)."""
    frame = _frame(components)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size + len(frame) > MAX_BYTES or (size and path not in _framed and _first_byte(fd) != _MARK):
            rewrite = True  # grown too long, or still in the earlier format
        else:
            rewrite = False
            view = memoryview(frame)
            while view:
                view = view[os.write(fd, view) :]
    except OSError as exc:
        name_target(exc, path)
        raise
    finally:
        os.close(fd)
    if rewrite:
        kept = [c for c in recent if c.run_id != components.run_id][: RECENT_RUNS - 1]
        write_bytes(path, b"".join(_frame(c) for c in reversed([components, *kept])))


def _first_byte(fd: int) -> int:
    os.lseek(fd, 0, os.SEEK_SET)  # writes still go to the end (O_APPEND)
    first = os.read(fd, 1)
    return first[0] if first else _MARK


def _frame(components: StepComponents) -> bytes:
    payload = _encoder.encode(components)
    return _HEAD.pack(_MARK, len(payload), zlib.crc32(payload)) + payload


def _frames(data: bytes) -> list[StepComponents]:
    """Every intact frame in ``data``, oldest first; damaged stretches are skipped."""
    out = []
    pos, end = 0, len(data)
    while 0 <= pos < end:
        if data[pos] == _MARK and pos + _HEAD.size <= end:
            _, length, crc = _HEAD.unpack_from(data, pos)
            start = pos + _HEAD.size
            payload = data[start : start + length]
            if len(payload) == length and zlib.crc32(payload) == crc:
                try:
                    out.append(_decoder.decode(payload))
                    pos = start + length
                    continue
                except msgspec.DecodeError:
                    pass
        pos = data.find(_MARK, pos + 1)
    return out


def _read_old(data: bytes) -> list[StepComponents]:
    try:
        return _old_list.decode(data)
    except msgspec.DecodeError:
        pass
    try:  # the one-run format written before recent runs were kept
        return [_decoder.decode(data)]
    except msgspec.DecodeError:
        return []
