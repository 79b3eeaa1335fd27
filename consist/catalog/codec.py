"""Run records as bytes, and the fresh record files: what the record store and compaction share.

Both :mod:`consist.catalog.records` (which appends records) and :mod:`consist.catalog.compaction`
(which folds them into segments) read through here, so neither imports the other at
module level. Pure encoding plus one directory listing.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import msgspec

from consist.artifacts.layout import Layout
from consist.errors import CatalogError
from consist.models import Run, enc_hook

DEFAULT_COMPACT_THRESHOLD = 256
JOURNAL_PREFIX = "~journal-"  # see consist.catalog.journal
_encoder = msgspec.json.Encoder(enc_hook=enc_hook)  # numpy scalars in user metadata are plain numbers
_decoder = msgspec.json.Decoder(Run)


class _RunId(msgspec.Struct):
    id: str


_id_decoder = msgspec.json.Decoder(_RunId)  # a record's id alone, the other fields skipped


def fresh_names(layout: Layout) -> list[str]:
    """Names of the one-record fresh files (temporary and hidden files and journals excluded)."""
    try:
        names = os.listdir(layout.fresh)
    except FileNotFoundError:
        return []
    return [n for n in names if n.endswith(".json") and not n.startswith((".", JOURNAL_PREFIX))]


def encode_run(run: Run) -> bytes:
    """The JSON bytes of a run record."""
    return _encoder.encode(run)


def decode_run(data: bytes) -> Run:
    """A run record from its JSON bytes."""
    return _decoder.decode(data)


def decode_id(data: bytes) -> str:
    """The id of the run record in ``data`` (its other fields are skipped, not decoded)."""
    return _id_decoder.decode(data).id


def read_record(path: Path) -> bytes | None:
    """A record file's bytes; None when it does not exist (compacted, or never written).

    Any other failure (permission denied, an I/O error) is no "not found": it raises a
    :class:`CatalogError` naming the file, so no run silently drops out of a query.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # an id too long for a file name was never recorded
            return None
        raise CatalogError(
            f"cannot read the run record {path}: {exc.strerror or exc}. Check the file's permissions and the "
            "disk; `consist rebuild` re-reads the catalog once it is readable."
        ) from exc
