"""In-memory frames: recognising them, writing them as Parquet, converting between kinds.

A frame is a pandas DataFrame, a Polars DataFrame or LazyFrame, or a pyarrow Table.
Its *kind* (``pandas``, ``polars``, ``lazy``, ``arrow``) is remembered on the artifact
so that loading gives back what was logged. Nothing heavy is imported until a frame of
that library is actually seen.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from consist.atomic import name_target, temp_name

FRAME_KINDS = ("pandas", "polars", "lazy", "arrow")
LOAD_KINDS = ("polars", "lazy", "pandas", "arrow", "duckdb")


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


def write_parquet(obj: Any, kind: str, target: Path) -> None:
    """Write frame ``obj`` of ``kind`` to ``target`` as Parquet, atomically."""
    tmp = temp_name(target)
    try:
        if kind == "polars":
            obj.write_parquet(tmp, statistics=True)
        elif kind == "lazy":
            obj.sink_parquet(tmp)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if kind == "pandas":
                table = pa.Table.from_pandas(obj)
            elif isinstance(obj, pa.RecordBatch):
                table = pa.Table.from_batches([obj])
            else:
                table = obj
            pq.write_table(table, tmp)
        tmp.replace(target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        name_target(exc, target)
        raise


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


def from_arrow(table: Any, as_: str) -> Any:
    """Convert a pyarrow Table to the requested kind."""
    if as_ == "arrow":
        return table
    if as_ == "pandas":
        return table.to_pandas()
    import polars as pl

    return from_polars(pl.from_arrow(table), as_)
