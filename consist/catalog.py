"""The catalog: append-only run records.

Each finished run is one JSON file written atomically under ``records/fresh``. Record
files are the source of truth; the DuckDB database is a set of views over them and can
be rebuilt at any time. This module never builds an artifact path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import msgspec

from consist.atomic import create_exclusive, write_bytes
from consist.models import Run
from consist.store import Layout

log = logging.getLogger("consist.catalog")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Run)


def encode_run(run: Run) -> bytes:
    """The JSON bytes of a run record."""
    return _encoder.encode(run)


def decode_run(data: bytes) -> Run:
    """A run record from its JSON bytes."""
    return _decoder.decode(data)


class RecordStore:
    """Writes and reads the per-run record files of one metadata folder."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def append(self, run: Run) -> None:
        """Write ``run``'s record atomically (never partially visible)."""
        write_bytes(self.layout.record_path(run.id), encode_run(run))

    def claim_id(self, run_id: str) -> bool:
        """Reserve a user-chosen run id; False when a run already used it."""
        if self.layout.record_path(run_id).exists():
            return False
        return create_exclusive(self.layout.id_claim_path(run_id))

    def get(self, run_id: str) -> Run | None:
        """The fresh record of ``run_id``, or None."""
        try:
            data = self.layout.record_path(run_id).read_bytes()
        except FileNotFoundError:
            return None
        try:
            return decode_run(data)
        except msgspec.DecodeError:
            log.warning("skipping corrupt run record %s", self.layout.record_path(run_id))
            return None

    def iter_fresh(self) -> Iterator[Run]:
        """Every readable fresh record; corrupt files are reported by name and skipped."""
        try:
            names = os.listdir(self.layout.fresh)
        except FileNotFoundError:
            return
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = self.layout.fresh / name
            try:
                yield decode_run(path.read_bytes())
            except FileNotFoundError:
                continue
            except msgspec.DecodeError:
                log.warning("skipping corrupt run record %s", path)
