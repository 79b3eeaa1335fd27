"""A produced input whose file is gone stops the step before it runs, however the input would load.

A Parquet input loaded into a frame is found missing by the read itself; one loaded
lazily, or handed over as a path or an artifact, by a check first. Every way gives the
same error, names the input and its run, and calls nothing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import consist
from consist import Artifact

CALLS: list[str] = []


def produce() -> pl.DataFrame:
    return pl.DataFrame({"x": [1, 2, 3]})


def produce_pandas() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})


def as_logged(a):
    CALLS.append("as_logged")
    return {"n": 1}


def as_polars(a: pl.DataFrame):
    CALLS.append("as_polars")
    return {"n": 1}


def as_pandas(a: pd.DataFrame):
    CALLS.append("as_pandas")
    return {"n": 1}


def as_lazy(a: pl.LazyFrame):
    CALLS.append("as_lazy")
    return {"n": 1}


def as_path(a: Path):
    CALLS.append("as_path")
    return {"n": 1}


def as_text(a: str):
    CALLS.append("as_text")
    return {"n": 1}


def as_artifact(a: Artifact):
    CALLS.append("as_artifact")
    return {"n": 1}


@pytest.mark.parametrize("producer", [produce, produce_pandas])
@pytest.mark.parametrize("step", [as_logged, as_polars, as_pandas, as_lazy, as_path, as_text, as_artifact])
def test_a_deleted_input_fails_before_the_step_runs(tracker, producer, step):
    made = tracker.run(producer, outputs=["a"])
    artifact = made.outputs["a"]
    artifact.path.unlink()
    CALLS.clear()
    with pytest.raises(consist.InputNotFoundError, match=rf"Input 'a' was produced by run {made.run_id} at .*a\.parquet, which no longer exists"):
        tracker.run(step, inputs={"a": artifact}, outputs=["n"])
    assert CALLS == []


def test_an_intact_input_loads_as_each_parameter_asks(tracker):
    artifact = tracker.run(produce, outputs=["a"]).outputs["a"]
    CALLS.clear()
    for step in (as_logged, as_polars, as_pandas, as_lazy, as_path, as_text, as_artifact):
        tracker.run(step, inputs={"a": artifact}, outputs=["n"])
    assert CALLS == ["as_logged", "as_polars", "as_pandas", "as_lazy", "as_path", "as_text", "as_artifact"]
