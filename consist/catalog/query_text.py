"""What the catalog reader learns from a query's text alone.

Whether it may read the run records (:func:`reads_records`: only then are they loaded
into the query connection) and the key its DuckDB relation is kept under for a repeat
(:func:`plan_key`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consist.catalog.database import PUBLIC_VIEWS


def plan_key(sql: str, params: Sequence[Any] | Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """The key a relation for ``sql`` with ``params`` is kept under, or None to keep none.

    A script of several statements is never kept (its earlier statements ran when the
    relation was made). Values are keyed with their types, as DuckDB binds ``1`` and
    ``True`` differently.
    """
    if ";" in sql.strip().rstrip(";"):
        return None
    items = sorted(params.items()) if isinstance(params, Mapping) else enumerate(params or ())
    key = (sql, tuple((name, type(v), v) for name, v in items))
    try:
        hash(key)
    except TypeError:
        return None
    return key


# What a query must name to read the records (any other name fails to bind until they are loaded).
_RECORD_OBJECTS = (*PUBLIC_VIEWS, "_consist_")


def reads_records(sql: str) -> bool:
    """Whether ``sql`` may read the run records: it names a public view or an internal relation.

    Case-insensitive text search, so a false positive only costs loading the records.
    """
    text = sql.lower()
    return any(name in text for name in _RECORD_OBJECTS)
