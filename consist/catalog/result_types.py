"""Column types of query results: whole numbers come back as integers, not decimals.

DuckDB sums integers into HUGEINT (``SUM(CAST(cache_hit AS INT))``), which reaches Arrow
as ``decimal128(38, 0)``; an analyst expects an integer. Such columns, and any decimal
with scale 0, become ``int64`` when every value fits; a value beyond int64 keeps the
column exact as a decimal.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def _whole(column: Any) -> Any:
    """``column`` as int64 if it is a scale-0 decimal whose values all fit, else unchanged."""
    if not (pa.types.is_decimal(column.type) and column.type.scale == 0):
        return column
    try:
        return pc.cast(column, pa.int64())  # a safe cast: raises rather than overflow
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column


def tidy_integers(table: pa.Table) -> pa.Table:
    """``table`` with scale-0 decimal columns (HUGEINT sums and counts) as int64 where they fit."""
    if not any(pa.types.is_decimal(f.type) and f.type.scale == 0 for f in table.schema):
        return table
    return pa.table({name: _whole(table.column(name)) for name in table.column_names})
