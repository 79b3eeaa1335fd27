"""Publishing a segment: its files written under temporary names, then renamed into place.

Before the Parquet file's rename (the commit: readers see the segment from then on)
every other file of the segment is in place and durable: the records twin, the
checksums (:mod:`consist.catalog.segment_sums`) and the id index (:mod:`consist.catalog.segment_ids`).
A failure before the commit removes them all; a full disk names the segment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from consist.atomic import name_target, temp_name, unlink_quietly
from consist.catalog import segment_ids, segment_sums
from consist.catalog.segment_records import records_path

REPLACES_KEY = b"consist.replaces"


@contextmanager
def publishing(target: Path) -> Iterator[tuple[Path, Path]]:
    """Temporary names for a segment's two files; renamed into place, records first."""
    tmp_records, tmp = temp_name(records_path(target)), temp_name(target)
    committed = False
    try:
        yield tmp_records, tmp
        # Durable before the rename: the caller deletes the folded fresh files next,
        # and a crash must not leave their only copy in unflushed pages.
        for path in (tmp_records, tmp):
            _fsync(path)
        segment_sums.write_sums(target, tmp, tmp_records)
        _write_id_index(target, tmp)
        os.replace(tmp_records, records_path(target))
        os.replace(tmp, target)  # the commit: readers see the segment from here on
        committed = True
        _fsync(target.parent)
    except BaseException as exc:
        extra = [records_path(target), segment_sums.sums_path(target), segment_ids.ids_path(target)]
        leftovers = [tmp_records, tmp] + ([] if committed else extra)
        unlink_quietly(*leftovers)
        name_target(exc, target)  # a full disk says which segment it was writing
        raise


def _write_id_index(target: Path, written: Path) -> None:
    """The id index of the segment about to be published from the Parquet file at ``written``."""
    import pyarrow.parquet as pq  # not at import: readers of saved listings never need it
    pf = pq.ParquetFile(written)
    meta = pf.schema_arrow.metadata or {}
    replaces = msgspec.json.decode(meta.get(REPLACES_KEY, b"[]"), type=list[str])
    segment_ids.write_index(target, pf.read(columns=["id"]).column("id").to_pylist(), replaces)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
