"""What a step stores is what it, a hit, and a downstream step get back: frames of every kind and JSON values."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import consist
from consist import ConfigError, Tracker, use_tracker
from tests.helpers.frames import arrow_rich, pandas_rich, polars_rich, same_frame


@pytest.mark.parametrize(
    ("make", "annotation"),
    [
        (pandas_rich, pd.DataFrame),
        (polars_rich, pl.DataFrame),
        (lambda: polars_rich().lazy(), pl.LazyFrame),
        (arrow_rich, pa.Table),
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
            same_frame(expected, got)
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


def test_nan_in_a_returned_json_value_survives_the_round_trip(tracker):
    """A metrics dict holding NaN and infinity loads back with NaN and infinity, not None."""
    def evaluate(k: int) -> dict:
        return {"rmse": float("nan"), "worst": float("-inf"), "n": k, "missing": None}

    with use_tracker(tracker):
        result = consist.run(fn=evaluate, config={"k": 3}, outputs=["metrics"])
    metrics = consist.load(result.outputs["metrics"])
    assert metrics["rmse"] != metrics["rmse"]  # NaN
    assert metrics["worst"] == float("-inf") and metrics["n"] == 3 and metrics["missing"] is None
