"""Record segments: many run records folded into immutable files.

A segment is two files written once:

- ``seg-<time>-<token>.parquet``: one row per run, with the run's fields as columns
  and its input/output artifact links and facets as nested list columns. This is what
  SQL scans; the file's rename publishes the segment.
- ``seg-<time>-<token>.records.arrow``: the run records as appended (JSON bytes), in
  the same row order, in an uncompressed Arrow IPC file. Written before the Parquet
  file, memory-mapped by readers, so a run is read back in microseconds from its row
  number without decompressing anything, and byte for byte as it was appended; each
  record is stored beside its digest and checked when read (:mod:`consist.catalog.segment_records`).
- ``seg-<time>-<token>.sums``: checksums of both files (:mod:`consist.catalog.segment_sums`).

A merged segment names the segments it replaces in its Parquet key/value metadata
(``consist.replaces``); readers ignore replaced segments even while their files still
exist, so a merge that is killed before deleting its inputs never shows a run twice.
Files whose name starts with ``.`` (temporary files, the empty placeholder that gives
SQL globs a schema) are never segments.

This module owns the segment format; it takes no locks and decides nothing about when
to compact (see :mod:`consist.catalog.compaction`).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.ipc

from consist.atomic import temp_name
from consist.catalog import segment_sums
from consist.catalog.arrow_rows import rows_table
from consist.catalog.segment_publish import REPLACES_KEY, publishing
from consist.catalog.segment_records import RECORDS_SCHEMA, RECORDS_SUFFIX, RecordsFile, records_path, records_table
from consist.catalog.segment_sums import DamagedSegmentError
from consist.models import Run

__all__ = ["RECORDS_SCHEMA", "RECORDS_SUFFIX", "SCHEMA", "SegmentCatalog", "publishing", "records_path", "write_segment"]

log = logging.getLogger("consist.catalog")

SEGMENT_VERSION = 1
PLACEHOLDER = ".empty.parquet"
_REPLACES = REPLACES_KEY
_VERSION = b"consist.segment_version"
# Rows per Parquet row group (and per Arrow batch of records): scans pay per group,
# and a merge holds about one group of rows in memory at a time.
ROW_GROUP = 2048

_json = msgspec.json.Encoder()

FACET_TYPE = pa.struct(
    [
        ("key", pa.string()),
        ("value_str", pa.string()),
        ("value_num", pa.float64()),
        ("value_bool", pa.bool_()),
        ("value_json", pa.string()),
    ]
)
ARTIFACT_TYPE = pa.struct(
    [
        ("direction", pa.string()),
        ("id", pa.string()),
        ("key", pa.string()),
        ("uri", pa.string()),
        ("hash", pa.string()),
        ("size", pa.int64()),
        ("driver", pa.string()),
        ("run_id", pa.string()),
        ("frame_kind", pa.string()),
        ("meta", pa.string()),
        ("created_at", pa.float64()),
    ]
)
# Scalar run fields stored as columns, in order; the schema only grows (append new
# fields at the end, never change a type).
RUN_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("id", pa.string()),
    ("name", pa.string()),
    ("model", pa.string()),
    ("status", pa.string()),
    ("kind", pa.string()),
    ("parent_id", pa.string()),
    ("year", pa.int64()),
    ("iteration", pa.int64()),
    ("signature", pa.string()),
    ("code_hash", pa.string()),
    ("config_hash", pa.string()),
    ("inputs_hash", pa.string()),
    ("cache_hit", pa.bool_()),
    ("reused_run_id", pa.string()),
    ("cache_mode", pa.string()),
    ("cache_epoch", pa.int64()),
    ("miss_reason", pa.string()),
    ("error", pa.string()),
    ("started_at", pa.float64()),
    ("ended_at", pa.float64()),
    ("host", pa.string()),
    ("pid", pa.int64()),
    ("schema_version", pa.int64()),
]
SCHEMA = pa.schema(
    [
        *RUN_COLUMNS,
        ("tags", pa.list_(pa.string())),
        ("config", pa.string()),
        ("meta", pa.string()),
        ("code", pa.string()),
        ("artifacts", pa.list_(ARTIFACT_TYPE)),
        ("facets", pa.list_(FACET_TYPE)),
    ]
)


def facet_row(key: str, value: Any) -> dict[str, Any]:
    """One typed facet: bools, numbers and strings get their own column; the rest JSON."""
    row: dict[str, Any] = {"key": key, "value_str": None, "value_num": None, "value_bool": None, "value_json": None}
    # bool first: it is an int subclass, but a flag is not a number to pivot on.
    if isinstance(value, bool):
        row["value_bool"] = value
    elif isinstance(value, (int, float)):
        row["value_num"] = float(value)
    elif isinstance(value, str):
        row["value_str"] = value
    else:
        row["value_json"] = _json_text(value)
    return row


def _json_text(value: Any) -> str:
    try:
        return _json.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return _json.encode(repr(value)).decode()


def _artifact_rows(run: Run) -> list[dict[str, Any]]:
    rows = []
    for direction, artifacts in (("in", run.inputs), ("out", run.outputs)):
        for a in artifacts:
            rows.append(
                {
                    "direction": direction,
                    "id": a.id,
                    "key": a.key,
                    "uri": a.uri,
                    "hash": a.hash,
                    "size": a.size,
                    "driver": a.driver,
                    "run_id": a.run_id,
                    "frame_kind": a.frame_kind,
                    "meta": _json_text(a.meta) if a.meta else None,
                    "created_at": a.created_at,
                }
            )
    return rows


def run_row(run: Run) -> dict[str, Any]:
    """The segment row of ``run``."""
    row = {name: getattr(run, name) for name, _ in RUN_COLUMNS}
    row["tags"] = list(run.tags)
    row["config"] = _json_text(run.config)
    row["meta"] = _json_text(run.meta)
    row["code"] = _json_text(run.code) if run.code is not None else None
    row["artifacts"] = _artifact_rows(run)
    row["facets"] = [facet_row(str(k), v) for k, v in run.facets.items()]
    return row


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A table in the segment schema (built without importing pandas, see :mod:`consist.catalog.arrow_rows`)."""
    return rows_table(rows, SCHEMA)


def segment_name() -> str:
    """A new segment file name: time-ordered, unique across processes and machines."""
    return f"seg-{time.time_ns():020d}-{secrets.token_hex(4)}.parquet"


def segment_meta(replaces: Iterable[str] = ()) -> dict[bytes, bytes]:
    """Parquet key/value metadata of a new segment."""
    return {_VERSION: str(SEGMENT_VERSION).encode(), _REPLACES: _json.encode(sorted(set(replaces)))}


def write_segment(folder: Path, runs: list[tuple[Run, bytes]], replaces: Iterable[str] = ()) -> Path:
    """Write ``(run, record bytes)`` pairs as a new segment, published by one rename."""
    import pyarrow.parquet as pq  # not at import: a query over saved listings never reads a segment

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / segment_name()
    table = rows_to_table([run_row(run) for run, _ in runs]).replace_schema_metadata(segment_meta(replaces))
    records = records_table([data for _, data in runs])
    with publishing(target) as (tmp_records, tmp):
        with pa.ipc.new_file(tmp_records, RECORDS_SCHEMA) as writer:
            writer.write_table(records, max_chunksize=ROW_GROUP)
        pq.write_table(table, tmp, row_group_size=ROW_GROUP, compression="zstd")
    return target


def ensure_placeholder(folder: Path) -> None:
    """An empty segment named with a leading dot, so SQL globs always match a schema."""
    target = folder / PLACEHOLDER
    if target.exists():
        return
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    pq.ParquetWriter(tmp, SCHEMA).close()  # no rows; write_table would import pandas (0.4-0.7 s)
    os.replace(tmp, target)


class SegmentInfo(msgspec.Struct, frozen=True):
    """What a reader keeps about one segment file (immutable, so cached by name)."""

    name: str
    ids: dict[str, int]  # run id -> row number
    replaces: frozenset[str]
    mtime: float
    version: int


def read_info(path: Path) -> SegmentInfo:
    """Ids (with their row numbers), row groups and replaced segments of a segment.

    Raises :class:`DamagedSegmentError` when the file does not match its checksum.
    """
    import pyarrow.parquet as pq

    segment_sums.check(path, "parquet", path)
    pf = pq.ParquetFile(path)
    meta = pf.schema_arrow.metadata or {}
    replaces = frozenset(msgspec.json.decode(meta.get(_REPLACES, b"[]"), type=list[str]))
    ids = {run_id: i for i, run_id in enumerate(pf.read(columns=["id"]).column("id").to_pylist())}
    version = int(meta.get(_VERSION, b"0"))
    return SegmentInfo(path.name, ids, replaces, os.stat(path).st_mtime, version)


def list_segment_names(folder: Path) -> list[str]:
    """Names of the segment files in ``folder`` (oldest first), live or replaced."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.endswith(".parquet") and not n.startswith("."))


class SegmentCatalog:
    """A cached view of a segments folder: which segments are live and which ids they hold.

    ``refresh`` lists the folder (one ``listdir``) and reads only segments it has not
    seen before; segment files never change once written.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.infos: dict[str, SegmentInfo] = {}
        self.live: list[str] = []
        self._live_key: tuple[str, ...] = ()
        self._records: dict[str, RecordsFile] = {}
        self.bad: set[str] = set()  # damaged segments, reported once and skipped

    def _skip(self, name: str, exc: Exception) -> None:
        """Report a damaged segment once, by name, and leave it out from now on."""
        self.bad.add(name)
        self.infos.pop(name, None)
        self._records.pop(name, None)
        log.warning("%s", exc if isinstance(exc, DamagedSegmentError) else segment_sums.damaged(str(exc), self.folder / name))

    def refresh(self) -> bool:
        """Re-list the folder; True when the set of live segments changed."""
        names = list_segment_names(self.folder)
        for name in names:
            if name not in self.infos and name not in self.bad:
                try:
                    self.infos[name] = read_info(self.folder / name)
                except FileNotFoundError:
                    continue
                except (OSError, pa.ArrowInvalid, DamagedSegmentError) as exc:
                    self._skip(name, exc)
                    continue
        present = [n for n in names if n in self.infos]
        for gone in set(self.infos) - set(present):
            del self.infos[gone]
            self._records.pop(gone, None)
        replaced = set().union(*(self.infos[n].replaces for n in present)) if present else set()
        live = tuple(n for n in present if n not in replaced)
        if live == self._live_key:
            return False
        self._live_key = live
        self.live = list(live)
        return True

    def holder(self, run_id: str) -> str | None:
        """The live segment holding ``run_id``, or None (newest first: a handful of set lookups)."""
        for name in reversed(self.live):
            if run_id in self.infos[name].ids:
                return name
        return None

    def replaced(self) -> dict[str, str]:
        """Replaced segment name -> the name of a live segment that replaces it."""
        out = {}
        for name, info in self.infos.items():
            for old in info.replaces:
                if old in self.infos:
                    out[old] = name
        return out

    def uniform(self) -> bool:
        """Whether every live segment has the current layout (no schema union needed)."""
        return all(self.infos[n].version == SEGMENT_VERSION for n in self.live)

    def paths(self) -> list[str]:
        """Absolute paths of the live segments."""
        return [str(self.folder / n) for n in self.live]

    def read_record(self, run_id: str) -> bytes | None:
        """The JSON record of ``run_id`` from the live segment holding it, or None."""
        return self.read_records([run_id]).get(run_id)

    def read_records(self, run_ids: Iterable[str]) -> dict[str, bytes]:
        """The JSON records of those of ``run_ids`` that live segments hold."""
        wanted: dict[str, list[tuple[str, int]]] = {}
        for run_id in run_ids:
            name = self.holder(run_id)
            if name is not None:
                wanted.setdefault(name, []).append((run_id, self.infos[name].ids[run_id]))
        out: dict[str, bytes] = {}
        for name, items in wanted.items():
            try:
                values = self._records_file(name).take([row for _, row in items])
            except DamagedSegmentError as exc:
                self._skip(name, exc)
                self.refresh()
                continue
            out.update(zip((run_id for run_id, _ in items), values))
        return out

    def record_at(self, name: str, row: int) -> bytes:
        """The record at ``row`` of segment ``name``, checked against its digest."""
        return self._records_file(name).take([row])[0]

    def verified(self, name: str, *, every_record: bool = False) -> bool:
        """Whether segment ``name``'s records file is intact; a damaged one is skipped from now on."""
        try:
            records = self._records_file(name)
            if every_record:
                records.check_all()
        except DamagedSegmentError as exc:
            self._skip(name, exc)
            self.refresh()
            return False
        return True

    def _records_file(self, name: str) -> RecordsFile:
        # Memory-mapped and kept: zero-copy, validated once.
        cached = self._records.get(name)
        if cached is None:
            cached = self._records[name] = RecordsFile(self.folder / name)
        return cached
