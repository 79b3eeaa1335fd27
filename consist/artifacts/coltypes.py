"""Column types across files: families, the widening rule, and the maps between libraries.

Cross-run views and scans put many files (and ingested tables) under one schema. A
column may have slightly different types in different files (``INTEGER`` in one,
``BIGINT`` in the next); this module decides whether they agree and what the combined
type is. DuckDB type names (``BIGINT``, ``VARCHAR``, ``TIMESTAMP WITH TIME ZONE``...)
are the common language: they are what captured schemas record.

The rule (documented in ``docs/views.md``):

- types of one family combine to the widest of them: integers to the widest integer
  (unsigned ones count as the next wider signed type), floats and decimals to
  ``DOUBLE`` (one decimal type alone stays as it is), timestamps of different
  precisions to ``TIMESTAMP``;
- integers and floats combine to ``DOUBLE``;
- an all-null column (type ``NULL``) combines with anything;
- a column declared as a timestamp with or without time zone takes either kind (naive
  ones are read as UTC, as SQLModel does);
- anything else (a number in one file and text in another) is a conflict.

Pure functions: no I/O, no imports of the heavy libraries until a map needs them.
"""

from __future__ import annotations

import functools
import re
from typing import Any

_INT_RANK = {
    "TINYINT": 1, "SMALLINT": 2, "INTEGER": 3, "BIGINT": 4, "HUGEINT": 5,
    # An unsigned type needs the next wider signed type to hold all of its values.
    "UTINYINT": 2, "USMALLINT": 3, "UINTEGER": 4, "UBIGINT": 5, "UHUGEINT": 5,
}  # fmt: skip
_SIGNED = {1: "TINYINT", 2: "SMALLINT", 3: "INTEGER", 4: "BIGINT", 5: "HUGEINT"}
_STRINGS = {"VARCHAR", "JSON", "UUID"}


def family(sql_type: str) -> str:
    """The family of a DuckDB type name: int, float, string, bool, date, timestamp, time, null or the type."""
    t = sql_type.upper()
    if t in _INT_RANK:
        return "int"
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return "float"
    if t in _STRINGS:
        return "string"
    if t == "BOOLEAN":
        return "bool"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "timestamptz" if "TIME ZONE" in t or t == "TIMESTAMPTZ" else "timestamp"
    if t.startswith("TIME"):
        return "time"
    if t == '"NULL"' or t == "NULL":
        return "null"
    return t


def combine(types: list[str]) -> str | None:
    """The type a column of these types becomes, or None when two of them conflict."""
    real = [t for t in dict.fromkeys(types) if family(t) != "null"]
    if not real:
        return types[0] if types else None
    if len(real) == 1:
        return real[0]
    families = {family(t) for t in real}
    if families == {"int"}:
        return _SIGNED[max(_INT_RANK[t.upper()] for t in real)]
    if families <= {"int", "float"}:
        return "DOUBLE"
    if families == {"string"}:
        return "VARCHAR"
    if families == {"timestamp"}:
        return "TIMESTAMP"
    if families == {"timestamptz"}:
        return "TIMESTAMP WITH TIME ZONE"
    if len(families) == 1 and families <= {"date", "time", "bool"}:
        return real[0]
    return None


def fits(file_type: str, declared: str) -> bool:
    """Whether a file column of ``file_type`` can be read as a column declared ``declared``."""
    have, want = family(file_type), family(declared)
    # Naive and aware timestamps fit each other, naive ones read as UTC: SQLModel declares
    # every `datetime` field aware, while pandas and Polars mostly write naive ones.
    timestamps = {have, want} == {"timestamp", "timestamptz"}
    return have == "null" or have == want or (have == "int" and want == "float") or timestamps


def conflict(types: dict[str, str]) -> tuple[str, str] | None:
    """Two sources (keys of ``types``, e.g. file paths) whose types do not combine, or None."""
    first: dict[str, str] = {}
    for source, sql_type in types.items():
        first.setdefault(sql_type, source)
    # Only distinct types are compared (a thousand files usually share one or two), and
    # the families combine pairwise: if every pair agrees, so does the whole set.
    distinct = list(first)
    for i, sql_type in enumerate(distinct):
        for other in distinct[:i]:
            if combine([other, sql_type]) is None:
                return first[other], first[sql_type]
    return None


# -- SQLAlchemy / SQLModel declarations ------------------------------------------------


def sql_type_of(sa_type: Any) -> str | None:
    """The DuckDB type for a SQLAlchemy column type, or None to keep the files' own type.

    Integers become ``BIGINT`` whatever their declared width: Python ints are 64-bit in
    files written by pandas and Polars, and narrowing them would overflow.
    """
    import sqlalchemy as sa

    t = sa_type
    if isinstance(t, sa.TypeDecorator):
        t = t.impl if isinstance(t.impl, sa.types.TypeEngine) else t.impl()
    if isinstance(t, sa.Boolean):
        return "BOOLEAN"
    if isinstance(t, sa.Integer):
        return "BIGINT"
    if isinstance(t, sa.Float):
        return "DOUBLE"
    if isinstance(t, sa.Numeric):
        if t.precision is not None and t.scale is not None and t.precision <= 38:
            return f"DECIMAL({t.precision},{t.scale})"
        return "DOUBLE"
    if isinstance(t, sa.DateTime):
        return "TIMESTAMP WITH TIME ZONE" if t.timezone else "TIMESTAMP"
    if isinstance(t, sa.Date):
        return "DATE"
    if isinstance(t, sa.Time):
        return "TIME"
    if isinstance(t, sa.Interval):
        return "INTERVAL"
    if isinstance(t, sa.LargeBinary):
        return "BLOB"
    if isinstance(t, sa.JSON):
        return "JSON"
    if isinstance(t, (sa.String, sa.Enum, sa.Uuid)):
        return "VARCHAR"
    return None


# -- Polars ------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def polars_dtype(sql_type: str) -> Any:
    """The Polars dtype for a DuckDB type name, or None when there is no exact one."""
    import polars as pl

    t = sql_type.upper()
    simple = {
        "BOOLEAN": pl.Boolean, "TINYINT": pl.Int8, "SMALLINT": pl.Int16, "INTEGER": pl.Int32,
        "BIGINT": pl.Int64, "HUGEINT": pl.Int128, "UTINYINT": pl.UInt8, "USMALLINT": pl.UInt16,
        "UINTEGER": pl.UInt32, "UBIGINT": pl.UInt64, "FLOAT": pl.Float32, "REAL": pl.Float32,
        "DOUBLE": pl.Float64, "VARCHAR": pl.String, "JSON": pl.String, "UUID": pl.String,
        "DATE": pl.Date, "TIME": pl.Time, "BLOB": pl.Binary, "INTERVAL": pl.Duration("us"),
        "TIMESTAMP": pl.Datetime("us"), "TIMESTAMP_MS": pl.Datetime("ms"), "TIMESTAMP_NS": pl.Datetime("ns"),
        "TIMESTAMP_S": pl.Datetime("ms"), "TIMESTAMP WITH TIME ZONE": pl.Datetime("us", "UTC"),
        "TIMESTAMPTZ": pl.Datetime("us", "UTC"), '"NULL"': pl.Null, "NULL": pl.Null,
    }  # fmt: skip
    if t in simple:
        return simple[t]
    match = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if match:
        return pl.Decimal(int(match.group(1)), int(match.group(2)))
    return None


# -- Python annotations (for exported SQLModel stubs) ----------------------------------


def python_annotation(sql_type: str) -> tuple[str, str | None]:
    """(annotation, module to import it from) for a DuckDB type in a generated stub."""
    fam = family(sql_type)
    if fam == "int":
        return "int", None
    if fam == "float":
        return ("Decimal", "decimal") if sql_type.upper().startswith("DECIMAL") else ("float", None)
    if fam == "bool":
        return "bool", None
    if fam == "date":
        return "date", "datetime"
    if fam in ("timestamp", "timestamptz"):
        return "datetime", "datetime"
    if fam == "time":
        return "time", "datetime"
    if sql_type.upper() == "BLOB":
        return "bytes", None
    return "str", None
