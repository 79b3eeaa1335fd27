"""Arrow tables from Python values without importing pandas.

Converting Python lists with pyarrow (``pa.array``, ``pa.Table.from_pylist``) imports
pandas on first use when it is installed, to check whether the values are pandas
objects: 0.3-0.5 s of a background compaction holding the interpreter in a process that
never uses pandas (a Polars pipeline's first compaction stalled its steps for that
long). So record segments are built here another way:

- rows of plain values go through Arrow's JSON reader, fed by msgspec, under the
  segment's explicit schema. JSON cannot hold a NaN or an infinity, so rows holding one
  (a facet of a non-finite number) are converted by ``from_pylist`` as before;
- bytes columns are assembled from their buffers.
"""

from __future__ import annotations

import array
import io
import itertools
import math
from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa

_encoder = msgspec.json.Encoder()


def rows_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """``rows`` (dicts of plain values with exactly ``schema``'s fields) as a table of ``schema``."""
    if not rows or not all(_finite(row) for row in rows):
        return pa.Table.from_pylist(rows, schema=schema)
    import pyarrow.json as pa_json

    data = b"\n".join(_encoder.encode(row) for row in rows)
    return pa_json.read_json(
        io.BytesIO(data),
        read_options=pa_json.ReadOptions(block_size=len(data) + 1),  # one block: no row straddles two
        parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"),
    )


def _finite(value: Any) -> bool:
    """Whether ``value`` holds no NaN or infinite float (JSON would turn them into nulls)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        return all(_finite(v) for v in value.values())
    if kind is list:
        return all(_finite(v) for v in value)
    return True


def binary_array(values: Sequence[bytes], width: int | None = None) -> pa.Array:
    """``values`` as a ``binary`` array, or ``binary(width)`` when every value is ``width`` bytes."""
    data = pa.py_buffer(b"".join(values))
    if width is not None:
        if len(data) != width * len(values):
            raise ValueError(f"values of a binary({width}) array must all be {width} bytes")
        return pa.Array.from_buffers(pa.binary(width), len(values), [None, data])
    if len(data) >= 2**31:
        raise ValueError("binary array over 2 GiB; use large_binary")
    # Arrow's binary offsets are int32: a C int on every platform pyarrow runs on.
    offsets = array.array("i", [0, *itertools.accumulate(map(len, values))])
    return pa.Array.from_buffers(pa.binary(), len(values), [None, pa.py_buffer(offsets.tobytes()), data])
