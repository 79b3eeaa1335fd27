"""Round-trip fidelity of frames: what a step stores is what it, a hit, and a downstream step get back."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import consist
from consist import ConfigError, Tracker, use_tracker


def _pandas_rich() -> pd.DataFrame:
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


def _polars_rich() -> pl.DataFrame:
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


def _arrow_rich() -> pa.Table:
    schema = pa.schema(
        [pa.field("a", pa.int64(), metadata={"unit": "m"})],
        metadata={"source": "survey"},
    )
    return pa.table({"a": [1, 2]}, schema=schema)


def _same(expected, got) -> None:
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


@pytest.mark.parametrize(
    ("make", "annotation"),
    [
        (_pandas_rich, pd.DataFrame),
        (_polars_rich, pl.DataFrame),
        (lambda: _polars_rich().lazy(), pl.LazyFrame),
        (_arrow_rich, pa.Table),
    ],
    ids=["pandas", "polars", "lazy", "arrow"],
)
def test_frame_round_trips_cold_hit_and_downstream(tracker: Tracker, make, annotation):
    """A returned frame loads back as the same kind with equal dtypes and values, on the cold run, on a hit and as an annotated or unannotated downstream input."""
    calls: list[int] = []

    def produce():
        calls.append(1)
        return make()

    received: list[object] = []

    def typed(df):
        received.append(df)

    typed.__annotations__["df"] = annotation

    def untyped(df):
        received.append(df)

    with use_tracker(tracker):
        cold = consist.run(fn=produce, outputs=["out"])
        hit = consist.run(fn=produce, outputs=["out"])
        assert calls == [1] and hit.cache_hit
        consist.run(fn=typed, inputs={"df": hit.outputs["out"]}, load_inputs=True)
        consist.run(fn=untyped, inputs={"df": cold.outputs["out"]}, load_inputs=True)
        expected = make()
        for got in (
            consist.load(cold.outputs["out"]),
            consist.load(hit.outputs["out"]),
            *received,
        ):
            _same(expected, got)
        assert len(received) == 2


def test_mixed_object_column_is_a_clear_error(tracker: Tracker):
    """A pandas object column mixing ints and strings fails with a ConfigError naming the output, the column and the fix, and the next call runs again."""
    calls: list[int] = []

    def mixed():
        calls.append(1)
        return pd.DataFrame({"o": pd.Series([1, "a"], dtype=object)})

    with use_tracker(tracker):
        for _ in range(2):
            with pytest.raises(
                ConfigError,
                match=r"frame 'out' cannot be stored as Parquet.*column o.*astype\(str\)",
            ):
                consist.run(fn=mixed, outputs=["out"])
    assert calls == [1, 1]
    assert not list((tracker.run_dir).rglob("out.parquet*"))


def test_duplicate_pandas_columns_are_a_clear_error(tracker: Tracker):
    """log_dataframe of a pandas frame with duplicate column names raises a ConfigError naming them."""

    def dup(_consist_ctx):
        _consist_ctx.log_dataframe(
            pd.DataFrame([[1, 2]], columns=["a", "a"]), key="out"
        )

    with (
        use_tracker(tracker),
        pytest.raises(ConfigError, match=r"duplicate column names \['a'\]"),
    ):
        consist.run(fn=dup, inject_context=True)


@pytest.mark.parametrize(
    "make", [_pandas_rich, _polars_rich, _arrow_rich], ids=["pandas", "polars", "arrow"]
)
def test_ghost_load_gives_back_what_was_stored(tracker: Tracker, make):
    """An ingested frame whose file is deleted loads from the hot rows with its index, dtypes, time zones and metadata intact."""

    def produce():
        return make()

    with use_tracker(tracker):
        artifact = consist.run(fn=produce, outputs=["out"]).outputs["out"]
        tracker.ingest(artifact)
        artifact.path.unlink()
        _same(make(), consist.load(artifact))
