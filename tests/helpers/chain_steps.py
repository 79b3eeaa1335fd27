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


def chain(tracker, threshold: float = 0.5):
    """Run load -> mid -> last on ``tracker``; returns the three results."""
    a = tracker.run(load, config={"threshold": threshold}, outputs=["a"])
    b = tracker.run(mid, inputs={"a": a.outputs["a"]}, outputs=["b"])
    c = tracker.run(last, inputs={"b": b.outputs["b"]}, outputs=["c"])
    return a, b, c
