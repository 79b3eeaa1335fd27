"""Captured file schemas: what columns a tabular artifact has, kept apart from its bytes.

Two kinds of capture share one record type, :class:`FileSchema`:

- *profiles*, asked for with ``log_artifact(..., profile_file_schema=True,
  file_schema_sample_rows=N)``: column names, DuckDB types, nullability and a few
  statistics over the first N rows (all rows when N is None). The profile is stored in
  the artifact's metadata (``meta["schema_id"]``, ``meta["file_schema"]``), so it is part
  of the run record and survives the file being moved or deleted.
- *footer schemas* (names, types, nullability only), read by cross-run views and scans
  the first time they meet a file and remembered under
  ``<run_dir>/.consist/schemas/<hash[:2]>/<hash>.json``, keyed by the file's content hash
  (same bytes, same schema), so a footer is read once per content, ever.

A schema's id is the content hash of the file it describes. Exporting a schema as an
editable SQLModel class lives in :mod:`consist.views.schema_export`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from consist.artifacts.formats.literal import sql_path
from consist.atomic import write_bytes
from consist.errors import ConfigError

if TYPE_CHECKING:
    from consist.artifacts.layout import Layout
    from consist.models import Artifact

SCHEMA_DRIVERS = ("parquet", "csv")
_ENUM_HINT_LIMIT = 12  # text columns with at most this many distinct values list them
_CSV_SNIFF_ROWS = 20_480  # DuckDB's default sniffer sample
NULL_TYPE = '"NULL"'  # DuckDB's name for the type of a column with no values


class ColumnSchema(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One column as captured.

    Attributes
    ----------
    name
        The column name exactly as in the file.
    type
        Its DuckDB type name (``BIGINT``, ``VARCHAR``, ``TIMESTAMP``...).
    nullable
        Whether the file format allows nulls in it (Parquet's repetition; always True
        for CSV).
    null_count, min, max, distinct, values
        Statistics over the profiled rows (profiles only): nulls seen, smallest and
        largest value as text, approximate distinct count, and the distinct values of a
        text column that has only a few.
    """

    name: str
    type: str
    nullable: bool = True
    null_count: int | None = None
    min: str | None = None
    max: str | None = None
    distinct: int | None = None
    values: list[str] | None = None


class FileSchema(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The captured schema of one tabular file (see the module docstring).

    Attributes
    ----------
    id
        The content hash of the file described (also the schema's id).
    driver
        ``parquet`` or ``csv``.
    columns
        In file order.
    rows
        Rows in the file when known (Parquet footers say; a fully profiled CSV too).
    sampled_rows
        Rows the statistics were computed over (profiles only).
    profiled
        True when statistics were computed.
    source, key
        The path and artifact key it was captured from.
    """

    id: str
    driver: str
    columns: list[ColumnSchema]
    rows: int | None = None
    sampled_rows: int | None = None
    profiled: bool = False
    source: str | None = None
    key: str | None = None
    captured_at: float = 0.0
    version: int = 1

    @property
    def types(self) -> dict[str, str]:
        """Column name -> DuckDB type."""
        return {c.name: c.type for c in self.columns}


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(FileSchema)


def schema_from_meta(meta: dict[str, Any] | None) -> FileSchema | None:
    """The profile stored in an artifact's metadata, or None."""
    raw = (meta or {}).get("file_schema")
    if not isinstance(raw, dict):
        return None
    try:
        return msgspec.convert(raw, FileSchema)
    except msgspec.ValidationError:
        return None


# -- reading schemas from files --------------------------------------------------------

_local = threading.local()


def _duckdb() -> Any:
    # One in-memory connection per thread: describing a file is a tiny query.
    con = getattr(_local, "con", None)
    if con is None or getattr(_local, "pid", None) != os.getpid():
        import duckdb

        con = _local.con = duckdb.connect(":memory:")
        _local.pid = os.getpid()
    return con


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def csv_delimiter(path: str | os.PathLike[str]) -> str:
    """The delimiter consist reads a CSV-driver file with (tab for ``.tsv``)."""
    return "\t" if ".tsv" in Path(path).suffixes else ","


def reader_sql(path: str | os.PathLike[str], driver: str) -> str:
    """A DuckDB table function call reading ``path``."""
    # No hive partitioning: a folder named like ``exp=1`` above the file is not a column of it.
    if driver == "parquet":
        return f"read_parquet({sql_path(path)}, hive_partitioning = false)"
    if driver == "csv":
        delim = sql_string(csv_delimiter(path))
        return f"read_csv({sql_path(path)}, header = true, delim = {delim}, hive_partitioning = false)"
    raise ConfigError(f"{path} has driver {driver!r}; only parquet and csv files have captured schemas.")


def describe_file(
    path: str | os.PathLike[str],
    driver: str,
    content_id: str,
    *,
    profile: bool = False,
    sample_rows: int | None = None,
    key: str | None = None,
) -> FileSchema:
    """Read the schema of a Parquet or CSV file (and statistics when ``profile``).

    A Parquet file's footer gives its schema without reading data; a CSV's types are
    sniffed from a sample. Raises FileNotFoundError when the file is gone.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    con = _duckdb()
    source = reader_sql(path, driver)
    described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    nullable: dict[str, bool] = {}
    rows = None
    if driver == "parquet":
        import pyarrow.parquet as pq

        meta = pq.read_metadata(path)
        rows = meta.num_rows
        arrow_schema = meta.schema.to_arrow_schema()
        nullable = {f.name: f.nullable for f in arrow_schema}
    columns = [ColumnSchema(name=name, type=str(sql_type), nullable=nullable.get(name, True))
               for name, sql_type, *_ in described]  # fmt: skip
    if driver == "csv":
        columns = _empty_csv_columns(con, source, columns)
    sampled = None
    if profile:
        columns, sampled = _profile(con, source, columns, sample_rows)
        if driver == "csv" and sample_rows is None:
            rows = sampled
    return FileSchema(
        id=content_id, driver=driver, columns=columns, rows=rows, sampled_rows=sampled, profiled=profile,
        source=str(path), key=key, captured_at=time.time(),
    )  # fmt: skip


def _empty_csv_columns(con: Any, source: str, columns: list[ColumnSchema]) -> list[ColumnSchema]:
    """``columns`` with the text columns that are empty in the sniffer's sample typed ``NULL``.

    DuckDB's sniffer calls a column with no values VARCHAR; recorded so, an optional
    number left empty in one run's CSV would conflict with the same column in the others.
    """
    text = [c for c in columns if c.type == "VARCHAR"]
    if not text:
        return columns
    counts = ", ".join("count(" + '"' + c.name.replace('"', '""') + '")' for c in text)
    found = con.execute(f"SELECT {counts} FROM (SELECT * FROM {source} LIMIT {_CSV_SNIFF_ROWS})").fetchone()
    empty = {c.name for c, n in zip(text, found, strict=True) if n == 0}
    return [msgspec.structs.replace(c, type=NULL_TYPE) if c.name in empty else c for c in columns]


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _profile(
    con: Any, source: str, columns: list[ColumnSchema], sample_rows: int | None
) -> tuple[list[ColumnSchema], int]:
    if sample_rows is not None and (not isinstance(sample_rows, int) or sample_rows <= 0):
        raise ConfigError(f"file_schema_sample_rows={sample_rows!r}; expected a positive number of rows or None (all).")
    body = f"SELECT * FROM {source}" + (f" LIMIT {int(sample_rows)}" if sample_rows else "")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _consist_sample AS {body}")
    try:
        total = con.execute("SELECT count(*) FROM _consist_sample").fetchone()[0]
        stats = {row[0]: row for row in con.execute("SELECT column_name, min, max, approx_unique, null_percentage "
                                                    "FROM (SUMMARIZE _consist_sample)").fetchall()}  # fmt: skip
        out = []
        for col in columns:
            _, lo, hi, distinct, null_pct = stats.get(col.name, (col.name, None, None, None, None))
            nulls = round(float(null_pct) * total / 100) if null_pct is not None else None
            values = None
            if col.type == "VARCHAR" and distinct is not None and distinct <= _ENUM_HINT_LIMIT:
                ident = '"' + col.name.replace('"', '""') + '"'
                found = con.execute(
                    f"SELECT DISTINCT {ident} FROM _consist_sample WHERE {ident} IS NOT NULL ORDER BY 1 "
                    f"LIMIT {_ENUM_HINT_LIMIT + 1}"
                ).fetchall()
                if len(found) <= _ENUM_HINT_LIMIT:
                    values = [str(v[0]) for v in found]
            out.append(msgspec.structs.replace(
                col, null_count=nulls, min=_text(lo), max=_text(hi),
                distinct=int(distinct) if distinct is not None else None, values=values,
            ))  # fmt: skip
        return out, int(total)
    finally:
        con.execute("DROP TABLE IF EXISTS _consist_sample")


def profile_meta(artifact: Artifact, sample_rows: int | None = None) -> dict[str, Any]:
    """Metadata entries recording ``artifact``'s profiled schema (``log_artifact`` adds them).

    Raises
    ------
    ConfigError
        The artifact is not a Parquet or CSV file.
    """
    if artifact.driver not in SCHEMA_DRIVERS:
        raise ConfigError(
            f"profile_file_schema=True needs a Parquet or CSV file; {artifact.uri} has driver "
            f"{artifact.driver!r}. Drop the flag for this artifact."
        )
    schema = describe_file(str(artifact.path), artifact.driver, artifact.hash, profile=True,
                           sample_rows=sample_rows, key=artifact.key)  # fmt: skip
    return {"schema_id": schema.id, "file_schema": msgspec.to_builtins(schema)}


# -- the footer-schema store -----------------------------------------------------------


class SchemaStore:
    """Footer schemas by content hash, on disk under ``.consist/schemas`` and in memory.

    Parameters
    ----------
    layout
        The tracker's metadata folder.
    """

    def __init__(self, layout: Layout) -> None:
        self.root = layout.schemas
        self._memo: dict[str, FileSchema] = {}
        self._lock = threading.Lock()

    def path(self, content_id: str) -> Path:
        """Where the schema of content ``content_id`` is kept."""
        if not content_id or "/" in content_id or content_id.startswith("."):
            raise ConfigError(f"{content_id!r} is not a schema id (a content hash).")
        return self.root / content_id[:2] / f"{content_id}.json"

    def get(self, content_id: str) -> FileSchema | None:
        """The stored schema of that content, or None."""
        found = self._memo.get(content_id)
        if found is not None:
            return found
        try:
            found = _decoder.decode(self.path(content_id).read_bytes())
        except (FileNotFoundError, msgspec.DecodeError, ConfigError):
            return None
        with self._lock:
            self._memo[content_id] = found
        return found

    def put(self, schema: FileSchema) -> None:
        """Remember ``schema`` (atomically; a concurrent writer writes the same bytes)."""
        write_bytes(self.path(schema.id), _encoder.encode(schema))
        with self._lock:
            self._memo[schema.id] = schema

    def of(self, uri: str, driver: str, content_id: str, meta: dict[str, Any] | None = None) -> FileSchema:
        """The schema of a file: its profile in ``meta``, else stored, else read now and stored.

        Raises FileNotFoundError when it must be read and the file is gone.
        """
        found = schema_from_meta(meta) or self.get(content_id)
        if found is None:
            found = describe_file(uri, driver, content_id)
            self.put(found)
        return found
