"""Merging catalog segments: small segments of one size level become one larger segment.

Compaction (:mod:`consist.catalog.compaction`) folds fresh records into small segments;
once :data:`FANOUT` segments share a size level they are streamed into one, in order,
with bounded memory. The merged inputs stay until the new segment is older than the
grace period (compaction's garbage collection deletes them).
"""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from consist.artifacts.layout import Layout
from consist.catalog import segment_records, segments

FANOUT = 4


def level(rows: int, threshold: int) -> int:
    """The merge level of a segment of ``rows`` runs: 0 below threshold*FANOUT, and so on."""
    unit = max(1, threshold) * FANOUT
    if rows < unit:
        return 0
    return 1 + int(math.log(rows / unit, FANOUT) + 1e-9)


def merge(layout: Layout, catalog: segments.SegmentCatalog, threshold: int) -> int:
    """Merge segments of one size level, :data:`FANOUT` at a time, until no level has that many; the segments merged."""
    merged = 0
    while True:
        by_level: dict[int, list[str]] = {}
        for name in catalog.live:
            by_level.setdefault(level(len(catalog.infos[name].ids), threshold), []).append(name)
        group = next((names for _, names in sorted(by_level.items()) if len(names) >= FANOUT), None)
        if group is None:
            return merged
        if not all([catalog.verified(name, every_record=True) for name in group]):
            continue  # a damaged input is never merged (its damage would get a valid checksum)
        # Name every still-present file the inputs replaced too, so deleting an input
        # later can never bring its own leftovers back to life.
        replaces = set(group)
        for name in group:
            replaces |= {n for n in catalog.infos[name].replaces if n in catalog.infos}
        write_merged(layout, [layout.segments / n for n in group], replaces)
        merged += len(group)
        catalog.refresh()


def write_merged(layout: Layout, inputs: list[Path], replaces: set[str]) -> Path:
    """Stream ``inputs`` into one new segment, in order (bounded memory)."""
    target = layout.segments / segments.segment_name()
    meta = segments.segment_meta(replaces)
    schema = segments.SCHEMA.with_metadata(meta)
    with segments.publishing(target) as (tmp_records, tmp):
        with pa.ipc.new_file(tmp_records, segments.RECORDS_SCHEMA) as writer:
            for path in inputs:
                with pa.memory_map(str(segments.records_path(path))) as source:
                    reader = pa.ipc.open_file(source)
                    for i in range(reader.num_record_batches):
                        writer.write_batch(segment_records.with_digests(reader.get_batch(i)))
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            # Coalesce small input groups into full ones: scans pay per row group.
            pending: list[pa.Table] = []
            rows = 0
            for path in inputs:
                pf = pq.ParquetFile(path)
                for i in range(pf.num_row_groups):
                    part = pf.read_row_group(i).cast(segments.SCHEMA)
                    pending.append(part)
                    rows += part.num_rows
                    if rows >= segments.ROW_GROUP:
                        table = pa.concat_tables(pending).combine_chunks().replace_schema_metadata(meta)
                        full = (rows // segments.ROW_GROUP) * segments.ROW_GROUP
                        writer.write_table(table.slice(0, full), row_group_size=segments.ROW_GROUP)
                        pending, rows = [table.slice(full)], rows - full
            if rows:
                writer.write_table(pa.concat_tables(pending).replace_schema_metadata(meta))
    return target
