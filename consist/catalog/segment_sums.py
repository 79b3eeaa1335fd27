"""Checksums of segment files: never hand a damaged byte to a zero-copy reader.

Each segment (``seg-<time>-<token>.parquet`` and its ``.records.arrow`` twin) gets a
third file, ``seg-<time>-<token>.sums``, written before the segment is published:
the Blake3 digest of each twin. A reader checks a twin against it before opening it
(the Parquet file when the segment is first listed, the records file when a record is
first read from it), so a bad sector, a partial copy or a sync tool's damage is
reported by name and skipped instead of crashing the process or returning wrong rows.
``consist rebuild`` then recovers the runs from whichever twin is intact
(:mod:`consist.catalog.repair`).

Segments written before checksums existed have no ``.sums`` file: their records file
is still fully validated (offsets within bounds) before use.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from consist.atomic import write_bytes
from consist.errors import CatalogError
from consist.identity.hashing import hash_file_uncached

SUMS_SUFFIX = ".sums"


class DamagedSegmentError(CatalogError):
    """A segment file does not hold the bytes its checksum says (or cannot be read)."""


class _Sums(msgspec.Struct, frozen=True):
    parquet: str
    records: str


_decoder = msgspec.json.Decoder(_Sums)


def sums_path(segment: Path) -> Path:
    """The checksum file of the segment whose Parquet file is ``segment``."""
    return segment.with_name(segment.name[: -len(".parquet")] + SUMS_SUFFIX)


def write_sums(segment: Path, parquet_file: Path, records_file: Path) -> None:
    """Write (durably) the checksums of a segment's two files, given where they are now."""
    sums = _Sums(parquet=hash_file_uncached(parquet_file), records=hash_file_uncached(records_file))
    write_bytes(sums_path(segment), msgspec.json.encode(sums), durable=True)


def damaged(message: str, path: Path) -> DamagedSegmentError:
    """The error for a damaged segment file at ``path``, with the way out."""
    return DamagedSegmentError(
        f"catalog segment file {path} is damaged ({message}); its runs are skipped. Run `consist rebuild` to "
        "recover them from the segment's intact twin and the fresh records."
    )


def vanished(what: str) -> CatalogError:
    """The error for a segment file still listed but gone when read, again and again."""
    return CatalogError(
        f"a catalog segment file vanished while it was read and is still listed: {what}. Its twin or the "
        "folder was damaged (deleted or copied partially); run `consist rebuild` to recover its runs."
    )


def check(segment: Path, twin: str, path: Path) -> bool:
    """Check the ``twin`` file (at ``path``) of ``segment`` against its checksum.

    Returns False when the segment has no checksum file (written by an older consist).

    Raises
    ------
    DamagedSegmentError
        The file's bytes differ from its checksum, or the checksum file is damaged.
    """
    sums_file = sums_path(segment)
    try:
        data = sums_file.read_bytes()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise damaged(f"its checksum file {sums_file} cannot be read: {exc.strerror or exc}", path) from None
    try:
        wanted = getattr(_decoder.decode(data), twin)
    except msgspec.DecodeError:
        raise damaged(f"its checksum file {sums_file} is damaged", path) from None
    try:
        found = hash_file_uncached(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise damaged(f"it cannot be read: {exc.strerror or exc}", path) from None
    if found != wanted:
        raise damaged(f"its bytes do not match the checksum in {sums_file}", path)
    return True
