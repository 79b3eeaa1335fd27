"""Fresh run records as a frame in the segment schema, for the query connection to read.

Built by Polars: pyarrow's conversion from Python objects imports pandas (0.4-1 s of a
process's first query), which a query returning Polars never needs.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from consist.catalog import segments


def fresh_table(rows: list[dict[str, Any]]) -> Any:
    """Fresh record rows in the segment schema, as a Polars frame DuckDB reads like Arrow.

    Built by Polars: pyarrow's conversion from Python objects imports pandas (0.4-1 s of
    a process's first query), which a query returning Polars never needs.
    """
    import polars as pl

    return pl.DataFrame(rows, schema=_polars_schema(), strict=False)


def _polars_type(kind: pa.DataType) -> Any:
    import polars as pl

    if pa.types.is_list(kind):
        return pl.List(_polars_type(kind.value_type))
    if pa.types.is_struct(kind):
        return pl.Struct({kind.field(i).name: _polars_type(kind.field(i).type) for i in range(kind.num_fields)})
    return {pa.string(): pl.String, pa.int64(): pl.Int64, pa.float64(): pl.Float64, pa.bool_(): pl.Boolean}[kind]


_POLARS_SCHEMA: dict[str, Any] = {}


def _polars_schema() -> dict[str, Any]:
    if not _POLARS_SCHEMA:
        _POLARS_SCHEMA.update({f.name: _polars_type(f.type) for f in segments.SCHEMA})
    return _POLARS_SCHEMA
