"""In-memory frames: recognising them, writing them as Parquet, converting between kinds.

A frame is a pandas DataFrame, a Polars DataFrame or LazyFrame, or a pyarrow Table.
Its *kind* (``pandas``, ``polars``, ``lazy``, ``arrow``) is remembered on the artifact
so that loading gives back what was logged. Nothing heavy is imported until a frame of
that library is actually seen.
"""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path
from typing import Any

import msgspec

from consist.atomic import name_target, temp_name, write_bytes, write_new
from consist.errors import ConfigError, DiskWriteError

LOAD_KINDS = ("polars", "lazy", "pandas", "arrow", "duckdb")
_THREADED_ROWS = 250_000
# Frames up to this size are encoded in memory and written with one call (see write_parquet).
_IN_MEMORY_BYTES = 32 << 20


def frame_kind(obj: Any) -> str | None:
    """The kind of frame ``obj`` is, or None when it is not a frame."""
    module = type(obj).__module__
    if module.startswith("polars"):
        pl = sys.modules["polars"]
        if isinstance(obj, pl.DataFrame):
            return "polars"
        if isinstance(obj, pl.LazyFrame):
            return "lazy"
    elif module.startswith("pandas"):
        if isinstance(obj, sys.modules["pandas"].DataFrame):
            return "pandas"
    elif module.startswith("pyarrow"):
        pa = sys.modules["pyarrow"]
        if isinstance(obj, (pa.Table, pa.RecordBatch)):
            return "arrow"
    return None


def write_parquet(obj: Any, kind: str, target: Path, *, fresh: bool = False) -> Any:
    """Write frame ``obj`` of ``kind`` to ``target`` as Parquet, atomically.

    A small frame (see :func:`_small`) is encoded in memory and written with one call;
    its bytes (bytes-like) are returned, so the caller can hash them without reading the
    file back. Larger frames and lazy ones are written by their library straight to a
    temporary file, and None is returned. ``fresh``: ``target`` lies in a run folder
    just created, which nothing reads before the run's record names the file, so a small
    frame is written in place (see :func:`consist.atomic.write_new`).
    """
    tmp: Path | None = None
    try:
        if _small(obj, kind):
            data = _encoded(obj, kind, target)
            (write_new if fresh else write_bytes)(target, data)
            return data
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(target)
        if kind == "polars":
            obj.write_parquet(tmp, statistics=True)
        elif kind == "lazy":
            obj.sink_parquet(tmp)
        else:
            import pyarrow.parquet as pq

            pq.write_table(_arrow_table(obj, kind, target), tmp)
        tmp.replace(target)
        return None
    except BaseException as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        unstorable = _unstorable(exc, target)
        if unstorable is not None:
            raise unstorable from exc
        failed = write_failure(exc, target)
        if failed is not None:
            raise failed from exc
        name_target(exc, target)
        raise


def _small(obj: Any, kind: str) -> bool:
    """Whether ``obj`` is worth encoding in memory: a frame whose columns hold at most ``_IN_MEMORY_BYTES``.

    pandas object columns are counted by their pointers only: a frame of long strings
    may be a few times larger than estimated, still far from a memory problem.
    """
    if kind == "polars":
        return obj.estimated_size() <= _IN_MEMORY_BYTES
    if kind == "pandas":
        return len(obj) * max(1, len(obj.columns)) * 8 <= _IN_MEMORY_BYTES
    if kind == "arrow":
        return obj.nbytes <= _IN_MEMORY_BYTES
    return False


def _encoded(obj: Any, kind: str, target: Path) -> Any:
    """The Parquet bytes of a small frame, encoded in memory."""
    if kind == "polars":
        buffer = io.BytesIO()
        obj.write_parquet(buffer, statistics=True)
        return buffer.getbuffer()
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(_arrow_table(obj, kind, target), sink)
    return sink.getvalue()  # a pyarrow Buffer: bytes-like, not copied


def _arrow_table(obj: Any, kind: str, target: Path) -> Any:
    """A pandas frame, Arrow table or record batch as an Arrow table."""
    import pyarrow as pa

    if kind == "pandas":
        if not obj.columns.is_unique:
            dups = sorted({str(c) for c in obj.columns[obj.columns.duplicated()]})
            raise ConfigError(
                f"frame {target.stem!r} has duplicate column names {dups}; Parquet needs "
                "unique names: rename or drop the duplicates before returning or logging it."
            )
        # Arrow converts large frames column by column in a thread pool it
        # starts per call; for the small frames most steps return, starting the
        # pool costs more than the conversion (2-6 ms of a 1,000-row step).
        return pa.Table.from_pandas(obj, nthreads=1 if len(obj) < _THREADED_ROWS else None)
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    return obj


def write_failure(exc: BaseException, target: Path) -> DiskWriteError | None:
    """One clear error for a frame the disk would not take, or None for any other error.

    Polars reports a full disk as a ``ComputeError`` mentioning an "os error"; Arrow as
    an ``OSError`` naming no file.
    """
    detail = str(exc)
    match = re.search(r"os error (\d+)|\[errno (\d+)\]", detail, re.IGNORECASE)
    if match is None and not (isinstance(exc, OSError) and exc.errno is not None):
        return None
    code = int(next(g for g in match.groups() if g)) if match else exc.errno  # type: ignore[union-attr]
    reason = os.strerror(code) if code else detail
    return DiskWriteError(
        f"could not write output {target}: {reason}. Free space on that disk (or make the folder writable) "
        "and run the step again; nothing was cached for this run.",
        filename=str(target), errno=code,
    )


def _unstorable(exc: BaseException, target: Path) -> ConfigError | None:
    # Arrow refuses a column holding values of several Python types (an object column
    # mixing ints and strings) or of no Arrow type; Polars refuses its Object dtype. The
    # raw errors name neither the output nor the fix.
    pa = sys.modules.get("pyarrow")
    pl = sys.modules.get("polars")
    arrow_error = pa is not None and isinstance(exc, pa.ArrowException)
    polars_error = pl is not None and isinstance(exc, pl.exceptions.ComputeError) and "Object" in str(exc)
    if not (arrow_error or polars_error):
        return None
    args = getattr(exc, "args", ())
    detail = "; ".join(str(a) for a in args) if args else str(exc)
    return ConfigError(
        f"frame {target.stem!r} cannot be stored as Parquet: {detail}. Every column must hold "
        "values of one type: convert mixed or arbitrary-object columns first, e.g. "
        "df['col'] = df['col'].astype(str)."
    )


def from_polars(df: Any, as_: str) -> Any:
    """Convert a Polars DataFrame to the requested kind."""
    if as_ == "polars":
        return df
    if as_ == "lazy":
        return df.lazy()
    if as_ == "pandas":
        return df.to_pandas()
    if as_ == "arrow":
        return df.to_arrow()
    if as_ == "duckdb":
        import duckdb

        return duckdb.from_arrow(df.to_arrow())
    raise ValueError(as_)


# Columns Arrow converts to pandas the same way with or without the pandas metadata.
_PLAIN_NUMPY = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"]
)


def to_pandas(table: Any, use_threads: bool = True) -> Any:
    """A pyarrow Table as a pandas DataFrame, as ``table.to_pandas`` makes it.

    A frame pandas wrote with its default index and only plain numeric or bool columns
    converts without its pandas metadata: rebuilding the index and column labels from it
    is a third of loading a 1,000-row file, and gives the same frame.
    """
    meta = table.schema.metadata
    raw = meta.get(b"pandas") if meta else None
    if raw is not None and _plain_pandas(raw, table):
        return table.replace_schema_metadata(None).to_pandas(use_threads=use_threads)
    return table.to_pandas(use_threads=use_threads)


def _plain_pandas(raw: bytes, table: Any) -> bool:
    """Whether the pandas metadata ``raw`` asks for nothing a metadata-free conversion misses."""
    try:
        meta = msgspec.json.decode(raw)
        range_index = {"kind": "range", "name": None, "start": 0, "stop": table.num_rows, "step": 1}
        labels = meta.get("column_indexes", [])
        if meta.get("index_columns") != [range_index] or meta.get("attributes") or len(labels) != 1:
            return False
        if labels[0].get("name") is not None or labels[0].get("pandas_type") != "unicode":
            return False
        columns = meta["columns"]
        if len(columns) != table.num_columns:
            return False
        for column, name, chunked in zip(columns, table.column_names, table.columns):
            plain = column.get("numpy_type") in _PLAIN_NUMPY and column.get("pandas_type") == column.get("numpy_type")
            if not plain or column.get("metadata") is not None or column.get("name") != name or chunked.null_count:
                return False
        return True
    except (msgspec.DecodeError, AttributeError, KeyError, TypeError):
        return False


def from_arrow(table: Any, as_: str) -> Any:
    """Convert a pyarrow Table to the requested kind."""
    if as_ == "arrow":
        return table
    if as_ == "pandas":
        return to_pandas(table)
    import polars as pl

    return from_polars(pl.from_arrow(table), as_)
