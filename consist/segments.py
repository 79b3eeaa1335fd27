"""Record segments: many run records folded into one immutable Parquet file.

A segment holds one row per run, with the run's input/output artifact links and its
facets as nested list columns, and the full JSON record in ``record`` (so a run read
back from a segment is byte-for-byte the record that was appended). One file per
segment means one atomic rename publishes it.

A merged segment names the segments it replaces in its Parquet key/value metadata
(``consist.replaces``); readers ignore replaced segments even while their files still
exist, so a merge that is killed before deleting its inputs never shows a run twice.
Files whose name starts with ``.`` (temporary files, the empty placeholder that gives
SQL globs a schema) are never segments.

This module owns the segment format; it takes no locks and decides nothing about when
to compact (see :mod:`consist.compaction`).
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
import pyarrow.parquet as pq

from consist.atomic import temp_name
from consist.models import Run

log = logging.getLogger("consist.catalog")

SEGMENT_VERSION = 1
PLACEHOLDER = ".empty.parquet"
_REPLACES = b"consist.replaces"
_VERSION = b"consist.segment_version"
_ROW_GROUP = 4096

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
        ("record", pa.string()),
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


def run_row(run: Run, record: bytes) -> dict[str, Any]:
    """The segment row of ``run``; ``record`` is its encoded JSON record."""
    row = {name: getattr(run, name) for name, _ in RUN_COLUMNS}
    row["tags"] = list(run.tags)
    row["config"] = _json_text(run.config)
    row["meta"] = _json_text(run.meta)
    row["code"] = _json_text(run.code) if run.code is not None else None
    row["artifacts"] = _artifact_rows(run)
    row["facets"] = [facet_row(str(k), v) for k, v in run.facets.items()]
    row["record"] = record.decode()
    return row


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """A table in the segment schema (sorted by run id, so lookups can prune row groups)."""
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    if table.num_rows > 1:
        table = table.sort_by("id")
    return table


def segment_name() -> str:
    """A new segment file name: time-ordered, unique across processes and machines."""
    return f"seg-{time.time_ns():020d}-{secrets.token_hex(4)}.parquet"


def write_segment(folder: Path, table: pa.Table, replaces: Iterable[str] = ()) -> Path:
    """Write ``table`` as a new segment, published by one atomic rename."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / segment_name()
    meta = {_VERSION: str(SEGMENT_VERSION).encode(), _REPLACES: _json.encode(sorted(set(replaces)))}
    table = table.replace_schema_metadata(meta)
    tmp = temp_name(target)
    try:
        pq.write_table(table, tmp, row_group_size=_ROW_GROUP, compression="zstd")
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


def ensure_placeholder(folder: Path) -> None:
    """An empty segment named with a leading dot, so SQL globs always match a schema."""
    target = folder / PLACEHOLDER
    if target.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    pq.write_table(SCHEMA.empty_table(), tmp)
    os.replace(tmp, target)


class SegmentInfo(msgspec.Struct, frozen=True):
    """What a reader keeps about one segment file (immutable, so cached by name)."""

    name: str
    ids: frozenset[str]
    replaces: frozenset[str]
    mtime: float


def read_info(path: Path) -> SegmentInfo:
    """Ids and replaced segments of the segment at ``path``."""
    pf = pq.ParquetFile(path)
    meta = pf.schema_arrow.metadata or {}
    replaces = frozenset(msgspec.json.decode(meta.get(_REPLACES, b"[]"), type=list[str]))
    ids = frozenset(pf.read(columns=["id"]).column("id").to_pylist())
    return SegmentInfo(path.name, ids, replaces, os.stat(path).st_mtime)


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

    def refresh(self) -> bool:
        """Re-list the folder; True when the set of live segments changed."""
        names = list_segment_names(self.folder)
        for name in names:
            if name not in self.infos:
                try:
                    self.infos[name] = read_info(self.folder / name)
                except FileNotFoundError:
                    continue
                except (OSError, pa.ArrowInvalid) as exc:
                    log.warning("skipping unreadable catalog segment %s: %s", self.folder / name, exc)
                    continue
        present = [n for n in names if n in self.infos]
        for gone in set(self.infos) - set(present):
            del self.infos[gone]
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

    def paths(self) -> list[str]:
        """Absolute paths of the live segments."""
        return [str(self.folder / n) for n in self.live]

    def read_record(self, run_id: str) -> bytes | None:
        """The JSON record of ``run_id`` from the live segment holding it, or None."""
        name = self.holder(run_id)
        if name is None:
            return None
        table = pq.read_table(self.folder / name, columns=["record"], filters=[("id", "=", run_id)])
        if table.num_rows == 0:
            return None
        return table.column("record")[0].as_py().encode()
