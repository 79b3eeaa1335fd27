"""The cache index: one small msgpack file per step signature.

A lookup is one file read, whatever the number of runs in the catalog: no DuckDB, no
scan. An entry is written only after a run has completed and its record is on disk, so
a failed or killed run never leaves one.
"""

from __future__ import annotations

import os

import msgspec

from consist.atomic import write_bytes
from consist.hashing import hash_bytes
from consist.models import CacheEntry
from consist.reasons import StepComponents
from consist.store import Layout

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CacheEntry)
_last_decoder = msgspec.msgpack.Decoder(StepComponents)


class CacheIndex:
    """Signature -> :class:`CacheEntry`, stored under ``layout.index``."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def get(self, signature: str) -> CacheEntry | None:
        """The entry for ``signature``, or None (a damaged entry counts as absent)."""
        try:
            with open(self.layout.index_path(signature), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return None
        try:
            return _decoder.decode(data)
        except msgspec.DecodeError:
            return None

    def put(self, entry: CacheEntry) -> None:
        """Store ``entry`` durably (fsync): losing it would lose a cache entry."""
        write_bytes(self.layout.index_path(entry.signature), _encoder.encode(entry), durable=True)

    def drop(self, signature: str) -> None:
        """Forget the entry for ``signature`` if there is one."""
        try:
            os.unlink(self.layout.index_path(signature))
        except FileNotFoundError:
            pass

    def last(self, name: str) -> StepComponents | None:
        """The components of the latest executed run of step ``name``, if any."""
        try:
            return _last_decoder.decode(self._last_path(name).read_bytes())
        except (FileNotFoundError, msgspec.DecodeError):
            return None

    def put_last(self, name: str, components: StepComponents) -> None:
        """Remember ``components`` as the latest executed run of step ``name``."""
        write_bytes(self._last_path(name), _encoder.encode(components))

    def _last_path(self, name: str):
        return self.layout.root / "last" / hash_bytes(name.encode())[:32]
