"""log_dataframe(path=...) writes where asked, in the suffix's format; output_path names a run's own file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import consist


def _appending(log: Path) -> None:
    with log.open("a") as fh:
        fh.write("x\n")


def test_log_dataframe_writes_csv_at_the_path_given(tracker, in_tmp):
    """path=Path('out/t.csv') writes CSV there, records it, and a re-run is a hit that does not execute."""
    log = in_tmp / "calls.txt"

    def step() -> None:
        _appending(log)
        consist.log_dataframe(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), key="t", path=Path("out/t.csv"))

    first = tracker.run(step, outputs=["t"])
    artifact = first.outputs["t"]
    assert artifact.path == (in_tmp / "out" / "t.csv").resolve()
    assert artifact.driver == "csv" and "path" not in artifact.meta
    assert artifact.path.read_text().splitlines() == ["a,b", "1,x", "2,y"]
    back = consist.load(artifact)
    assert isinstance(back, pd.DataFrame) and back["b"].tolist() == ["x", "y"]
    again = tracker.run(step, outputs=["t"])
    assert again.cache_hit and log.read_text().count("x") == 1
    assert tracker.get_run(first.run_id).output_map["t"].uri == str(artifact.path)


@pytest.mark.parametrize(("name", "driver"), [("t.parquet", "parquet"), ("t.feather", "arrow"), ("t.jsonl", "json"), ("t.tsv", "csv")])
def test_the_suffix_picks_the_format(tracker, tmp_path, name, driver):
    """Each frame suffix is written in its own format and loads back with the same rows."""
    target = tmp_path / "data" / name

    def step() -> None:
        consist.log_dataframe(pl.DataFrame({"a": [3, 4]}), "t", path=target)

    artifact = tracker.run(step, outputs=["t"]).outputs["t"]
    assert artifact.driver == driver and artifact.path == target
    assert consist.load(artifact, as_="polars")["a"].to_list() == [3, 4]


def test_a_path_without_a_frame_suffix_is_refused_and_nothing_is_written(tracker, tmp_path):
    """path='t.xlsx' names no frame format: one clear error, no file."""
    target = tmp_path / "t.xlsx"

    def step() -> None:
        consist.log_dataframe(pl.DataFrame({"a": [1]}), "t", path=target)

    with pytest.raises(consist.ConfigError, match="names no frame format"):
        tracker.run(step, outputs=["t"])
    assert not target.exists()


def test_output_path_is_inside_the_run_folder(tracker):
    """consist.output_path(key, ext=) and _consist_ctx.output_path give <run folder>/<key>.<ext>."""
    seen = {}

    def step(_consist_ctx) -> None:
        target = consist.output_path("flows", ext="csv")
        seen["ctx"] = _consist_ctx.output_path("flows", ext=".csv")
        seen["plain"] = _consist_ctx.output_path("model_dir", ext=None)
        target.write_text("a\n1\n")
        consist.log_artifact(target, key="flows")

    result = tracker.run(step, outputs=["flows"], inject_context=True)
    path = result.outputs["flows"].path
    assert path == tracker.run_dir / result.run_id / "flows.csv" == seen["ctx"]
    assert seen["plain"] == tracker.run_dir / result.run_id / "model_dir"
    with pytest.raises(consist.NoActiveTrackerError):
        consist.output_path("flows")
    with pytest.raises(consist.UnsafeKeyError):
        tracker.run(lambda: consist.output_path("../x"), name="bad")
