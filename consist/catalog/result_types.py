"""Column types of query results: whole numbers come back as integers, not decimals.

DuckDB sums integers into HUGEINT (``SUM(CAST(cache_hit AS INT))``), which reaches Arrow
as ``decimal128(38, 0)``; an analyst expects an integer. Such columns, and any decimal
with scale 0, become ``int64`` when every value fits; a value beyond int64 keeps the
column exact as a decimal.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


def _whole(column: Any) -> Any:
    """``column`` as int64 if it is a scale-0 decimal whose values all fit, else unchanged."""
    if not (pa.types.is_decimal(column.type) and column.type.scale == 0):
        return column
    try:
        return column.cast(pa.int64())  # a safe cast: raises rather than overflow
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column


def tidy_integers(table: pa.Table) -> pa.Table:
    """``table`` with scale-0 decimal columns (HUGEINT sums and counts) as int64 where they fit."""
    # Column by column, not pa.table({...}): importing pyarrow.compute (0.1-0.2 s) or
    # pandas (which building a table from a dict checks for) is not a query's business.
    for number, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type) and field.type.scale == 0:
            table = table.set_column(number, field.name, _whole(table.column(number)))
    return table
