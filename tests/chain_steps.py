"""A three-step chain (load -> mid -> last) shared by the cache-control tests.

Module-level on purpose: recovery re-imports step functions by module and qualified
name. ``CALLS`` records every execution.
"""

from __future__ import annotations

import polars as pl

CALLS: list[str] = []


def load(threshold: float) -> pl.DataFrame:
    CALLS.append("load")
    return pl.DataFrame({"x": [1, 2, 3], "t": [threshold] * 3})


def mid(a: pl.DataFrame) -> pl.DataFrame:
    CALLS.append("mid")
    return a.with_columns(y=pl.col("x") * pl.col("t"))


def last(b: pl.DataFrame) -> pl.DataFrame:
    CALLS.append("last")
    return b.select(pl.col("y").sum())
