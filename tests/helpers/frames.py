"""Frames rebuilt exactly as stored: the shapes, dtypes, indexes and metadata the fidelity tests compare."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa


def pandas_rich() -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples(
        [("x", 1), ("y", 2), ("z", 3)], names=["zone", "n"]
    )
    return pd.DataFrame(
        {
            "cat": pd.Categorical(["a", "b", "a"], categories=["b", "a"], ordered=True),
            "i": pd.array([1, None, 3], dtype="Int64"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "s": pd.array(["p", None, "r"], dtype="string"),
            "t": pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"),
        },
        index=index,
    )


def polars_rich() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "c": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
            "e": pl.Series(["lo", "hi", "lo"], dtype=pl.Enum(["lo", "hi"])),
            "s": [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}, {"x": 3, "y": "c"}],
            "l": [[1, 2], [3], []],
            "t": pl.datetime_range(
                pl.datetime(2024, 1, 1),
                pl.datetime(2024, 1, 3),
                "1d",
                time_zone="Asia/Tokyo",
                eager=True,
            ),
        }
    )


def arrow_rich() -> pa.Table:
    schema = pa.schema(
        [pa.field("a", pa.int64(), metadata={"unit": "m"})],
        metadata={"source": "survey"},
    )
    return pa.table({"a": [1, 2]}, schema=schema)


def same_frame(expected, got) -> None:
    if isinstance(expected, pd.DataFrame):
        assert type(got) is pd.DataFrame
        pd.testing.assert_frame_equal(got, expected)
    elif isinstance(expected, pl.LazyFrame):
        assert isinstance(got, pl.LazyFrame)
        assert got.collect_schema() == expected.collect_schema()
        assert got.collect().equals(expected.collect())
    elif isinstance(expected, pl.DataFrame):
        assert isinstance(got, pl.DataFrame)
        assert got.schema == expected.schema
        assert got.equals(expected)
    else:
        assert isinstance(got, pa.Table)
        assert got.schema.equals(expected.schema, check_metadata=True)
        assert got.equals(expected)
