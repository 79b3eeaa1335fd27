"""The records twin of a segment: run records byte for byte, each beside its digest.

``seg-<time>-<token>.records.arrow`` is an uncompressed Arrow IPC file with two
columns: ``record`` (the JSON bytes as appended) and ``digest`` (the first 16 bytes of
the record's Blake3 hash). Readers memory-map it and read a run's record from its row
number without copying; before any byte is used the file's structure is validated
(every offset within its buffer), and each record read is checked against its digest.
So damaged offsets are an error, never a wild read, and a changed byte is reported, never
returned as a record, at the cost of hashing only the records actually read.

Files written before digests existed have only the ``record`` column: they get the
structural validation, and the whole-file checksum when a ``.sums`` file exists.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc
from blake3 import blake3

from consist.catalog import segment_sums
from consist.catalog.arrow_rows import binary_array

RECORDS_SUFFIX = ".records.arrow"
DIGEST_BYTES = 16
RECORDS_SCHEMA = pa.schema([("record", pa.binary()), ("digest", pa.binary(DIGEST_BYTES))])


def records_path(segment: Path) -> Path:
    """The records file that goes with the segment at ``segment``."""
    return segment.with_name(segment.name[: -len(".parquet")] + RECORDS_SUFFIX)


def digest(record: bytes) -> bytes:
    """The digest stored beside ``record``."""
    return blake3(record).digest(length=DIGEST_BYTES)


def records_table(records: Sequence[bytes]) -> pa.Table:
    """``records`` with their digests, in the records file's schema."""
    arrays = [binary_array(records), binary_array([digest(r) for r in records], DIGEST_BYTES)]
    return pa.Table.from_arrays(arrays, schema=RECORDS_SCHEMA)


def with_digests(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` of a records file in the current schema (digests computed for an old file's batch)."""
    if batch.schema.names == RECORDS_SCHEMA.names:
        return batch
    records = batch.column(0)
    digests = binary_array([digest(r) for r in records.to_pylist()], DIGEST_BYTES)
    return pa.RecordBatch.from_arrays([records, digests], schema=RECORDS_SCHEMA)


class RecordsFile:
    """One memory-mapped records file, validated when opened.

    The mapping keeps working even if a later merge deletes the file.

    Raises
    ------
    DamagedSegmentError
        On opening, when the structure is invalid (or an old file fails its checksum);
        on :meth:`take`, when a record differs from its digest.
    """

    def __init__(self, segment: Path) -> None:
        self.path = records_path(segment)
        try:
            table = pa.ipc.open_file(pa.memory_map(str(self.path))).read_all()
            table.validate(full=True)  # offsets within bounds: never a wild read
        except FileNotFoundError:
            raise
        except (pa.ArrowException, OSError) as exc:
            raise segment_sums.damaged(f"its structure is invalid: {exc}", self.path) from None
        self.records = table.column("record").chunks
        self.digests = table.column("digest").chunks if "digest" in table.column_names else None
        if self.digests is None:
            segment_sums.check(segment, "records", self.path)
        self.starts: list[int] = []
        total = 0
        for chunk in self.records:
            self.starts.append(total)
            total += len(chunk)
        self.rows = total

    def take(self, rows: Sequence[int]) -> list[bytes]:
        """The records at row numbers ``rows``, each checked against its digest."""
        by_chunk: dict[int, list[tuple[int, int]]] = {}
        for position, row in enumerate(rows):
            if not 0 <= row < self.rows:  # the Parquet twin names a row this file lacks
                raise segment_sums.damaged(f"it holds {self.rows} records, not the row {row} its twin names", self.path)
            index = bisect.bisect_right(self.starts, row) - 1
            by_chunk.setdefault(index, []).append((position, row - self.starts[index]))
        out: list[bytes] = [b""] * len(rows)
        for index, items in by_chunk.items():
            # Scalar reads, not Array.take: that loads pyarrow.compute (and pandas) on first use.
            records, digests = self.records[index], self.digests[index] if self.digests is not None else None
            for position, offset in items:
                value = records[offset].as_py()
                if digests is not None and digest(value) != digests[offset].as_py():
                    raise segment_sums.damaged(f"record at row {rows[position]} does not match its digest", self.path)
                out[position] = value
        return out

    def check_all(self) -> None:
        """Check every record against its digest (before a merge copies them)."""
        if self.digests is None:
            return
        for records, digests in zip(self.records, self.digests):
            for value, wanted in zip(records.to_pylist(), digests.to_pylist()):
                if digest(value) != wanted:
                    raise segment_sums.damaged("a record does not match its digest", self.path)
