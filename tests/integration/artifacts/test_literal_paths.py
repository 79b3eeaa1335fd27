"""Files whose names look like glob patterns are read as themselves, never as patterns.

``raw[1].csv`` beside ``raw1.csv``, an output keyed ``?`` beside one keyed ``a``: every
single-file read (step inputs, consist.load, consist.scan, cross-run views and scans)
must return that file's rows only.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlmodel import SQLModel

import consist
from consist import Tracker, use_tracker

# Names with glob characters, braces, spaces and non-ASCII letters; each has a decoy
# that the name would match as a pattern.
NAMES = ["raw[1]", "data?", "runs*", "x]y", "{a,b}", "two words", "zürich 東京"]
DECOY = {"raw[1]": "raw1", "data?": "datax", "runs*": "runs_all", "x]y": "xy", "{a,b}": "a", "two words": "two_words",
         "zürich 東京": "zurich"}  # fmt: skip


class Cell(SQLModel):
    __consist_key__ = ["?"]
    a: int


def _write(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df = pl.DataFrame({"a": [value]})
    if path.suffix == ".csv":
        df.write_csv(path)
    elif path.suffix == ".arrow":
        df.write_ipc(path)
    elif path.suffix == ".jsonl":
        df.write_ndjson(path)
    else:
        df.write_parquet(path)


def _first(df: pl.DataFrame) -> list[int]:
    return df["a"].to_list()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".arrow", ".jsonl"])
@pytest.mark.parametrize("name", NAMES)
def test_step_input_with_pattern_characters_loads_that_file(tmp_path, name, suffix):
    folder = tmp_path / f"in {name}"  # the folder name has them too
    _write(folder / f"{name}{suffix}", 1)
    _write(folder / f"{DECOY[name]}{suffix}", 999)
    for decoy_dir in ("in raw1", "in datax", "in runs_all", "in xy", "in a"):
        _write(tmp_path / decoy_dir / f"{name}{suffix}", 777)
    seen = []

    def step(raw: pl.DataFrame) -> pl.DataFrame:
        seen.append(_first(raw))
        return raw

    tracker = Tracker(run_dir=tmp_path / "runs")
    with use_tracker(tracker):
        result = consist.run(fn=step, inputs={"raw": folder / f"{name}{suffix}"}, outputs=["out"])
        assert seen == [[1]]
        assert _first(consist.load(result.outputs["out"], as_="polars")) == [1]
        assert _first(consist.scan(result.outputs["out"]).collect()) == [1]
        for kind in ("pandas", "arrow", "lazy", "duckdb"):
            loaded = consist.load(Path(folder / f"{name}{suffix}"), as_=kind)
            assert _frame(loaded, kind) == [1], kind


def _frame(loaded, kind: str) -> list[int]:
    if kind == "pandas":
        return loaded["a"].tolist()
    if kind == "arrow":
        return loaded.column("a").to_pylist()
    if kind == "lazy":
        return loaded.collect()["a"].to_list()
    return [row[0] for row in loaded.fetchall()]


def test_output_keyed_question_mark_loads_its_own_rows_in_loads_views_and_scans(tmp_path):
    """An output keyed ``?`` next to one keyed ``a`` (in a run folder with brackets)."""
    tracker = Tracker(run_dir=tmp_path / "runs[2030] *", schemas=[Cell])

    def two() -> dict[str, pl.DataFrame]:
        return {"?": pl.DataFrame({"a": [1]}), "a": pl.DataFrame({"a": [2]})}

    with use_tracker(tracker):
        result = consist.run(fn=two, outputs=["?", "a"], year=2030)
        assert _first(consist.load(result.outputs["?"])) == [1]
        assert _first(consist.load(result.outputs["a"])) == [2]
        assert _first(tracker.scan("?").collect()) == [1]
        rows = consist.run_query("SELECT a FROM cell", tracker=tracker)
        assert rows["a"].to_list() == [1]
        assert len(tracker.find_runs()) == 1  # the catalog under a bracketed run folder reads its records


def test_csv_output_with_brackets_in_views_and_schema_profile(tmp_path):
    """Files logged by path (not through the link farm), profiled and viewed."""
    tracker = Tracker(run_dir=tmp_path / "runs", schemas=[Cell])

    def write(_consist_ctx) -> None:
        for name, value in (("raw[1].csv", 1), ("raw1.csv", 999)):
            path = _consist_ctx.run_dir / "tables [x]" / name
            _write(path, value)
        _consist_ctx.log_artifact(_consist_ctx.run_dir / "tables [x]" / "raw[1].csv", key="?", profile_file_schema=True)

    with use_tracker(tracker):
        result = consist.run(fn=write, inject_context=True, outputs=["?"])
    art = result.outputs["?"]
    assert _first(consist.load(art)) == [1]
    assert _first(tracker.scan("?").collect()) == [1]
    assert consist.run_query("SELECT a FROM cell", tracker=tracker)["a"].to_list() == [1]
