"""consist.run: cached single-step runs through the public API."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from pydantic import BaseModel

import consist
from consist import Tracker, use_tracker
from tests.helpers.files import age


def test_second_identical_call_is_a_hit_and_does_not_execute(tracker, raw_csv):
    """A second run with unchanged code, config and input reuses the output and does not execute the step."""
    calls = []

    def clean_data(raw: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
        calls.append(threshold)
        return raw[raw["value"] > threshold]

    with use_tracker(tracker):
        first = consist.run(fn=clean_data, inputs={"raw": raw_csv}, config={"threshold": 0.5}, outputs=["cleaned"])
        second = consist.run(fn=clean_data, inputs={"raw": raw_csv}, config={"threshold": 0.5}, outputs=["cleaned"])
    assert calls == [0.5]
    assert not first.cache_hit and second.cache_hit
    assert second.outputs["cleaned"].hash == first.outputs["cleaned"].hash
    assert second.run.reused_run_id == first.run.id
    df = consist.load(second.outputs["cleaned"])
    assert isinstance(df, pd.DataFrame)
    assert sorted(df["value"]) == [0.6, 0.7, 0.9, 0.95]


def test_config_change_reexecutes_only_that_config(tracker, raw_csv):
    """Each distinct config is its own cache entry."""
    calls = []

    def clean_data(raw: pd.DataFrame, threshold: float) -> pd.DataFrame:
        calls.append(threshold)
        return raw[raw["value"] > threshold]

    with use_tracker(tracker):
        for t in (0.5, 0.7, 0.5, 0.7):
            consist.run(fn=clean_data, inputs={"raw": raw_csv}, config={"threshold": t}, outputs=["cleaned"])
    assert calls == [0.5, 0.7]


def test_input_content_change_reexecutes(tracker, raw_csv):
    """Changing the bytes of an input file is a miss."""
    calls = []

    def count(raw: pl.DataFrame) -> pl.DataFrame:
        calls.append(1)
        return raw.select(pl.len())

    with use_tracker(tracker):
        consist.run(fn=count, inputs={"raw": raw_csv}, outputs=["n"])
        raw_csv.write_text("value,category\n0.2,z\n")
        result = consist.run(fn=count, inputs={"raw": raw_csv}, outputs=["n"])
    assert len(calls) == 2
    assert consist.load(result.outputs["n"]).item() == 1


def test_moved_input_with_same_content_is_a_hit(tracker, raw_csv, tmp_path):
    """Identity is content, not location: the same bytes elsewhere still hit."""
    calls = []

    def count(raw: pl.DataFrame) -> pl.DataFrame:
        calls.append(1)
        return raw.select(pl.len())

    moved = tmp_path / "elsewhere" / "raw_copy.csv"
    moved.parent.mkdir()
    moved.write_bytes(raw_csv.read_bytes())
    with use_tracker(tracker):
        consist.run(fn=count, inputs={"raw": raw_csv}, outputs=["n"])
        assert consist.run(fn=count, inputs={"raw": moved}, outputs=["n"]).cache_hit
    assert len(calls) == 1


def test_code_change_reexecutes(tracker, raw_csv):
    """Editing the function's source is a miss."""
    ns: dict = {}
    src = "def step(raw):\n    return raw.head({n})\n"
    with use_tracker(tracker):
        exec(src.format(n=1), ns)
        a = consist.run(fn=ns["step"], inputs={"raw": raw_csv}, outputs=["o"])
        exec(src.format(n=1), ns)
        b = consist.run(fn=ns["step"], inputs={"raw": raw_csv}, outputs=["o"])
        exec(src.format(n=2), ns)
        c = consist.run(fn=ns["step"], inputs={"raw": raw_csv}, outputs=["o"])
    assert not a.cache_hit and b.cache_hit and not c.cache_hit


def test_explicit_code_version_controls_identity(tracker):
    """With code_version, only bumping the version invalidates."""
    calls = []

    def make() -> pl.DataFrame:
        calls.append(1)
        return pl.DataFrame({"a": [1]})

    with use_tracker(tracker):
        consist.run(fn=make, outputs=["a"], code_version="1")
        consist.run(fn=make, outputs=["a"], code_version="1")
        consist.run(fn=make, outputs=["a"], code_version="2")
    assert len(calls) == 2


class CleaningConfig(BaseModel):
    threshold: float = 0.5
    remove_outliers: bool = True


@dataclasses.dataclass
class DCConfig:
    threshold: float = 0.5


class StructConfig(msgspec.Struct):
    threshold: float = 0.5


@pytest.mark.parametrize("config", [CleaningConfig(), DCConfig(), StructConfig()])
def test_structured_configs_reach_parameters(tracker, raw_csv, config):
    """Pydantic, dataclass and msgspec configs pass their fields to same-named parameters and hit on repeat."""
    seen = []

    def clean(raw: pd.DataFrame, threshold: float) -> pd.DataFrame:
        seen.append(threshold)
        return raw[raw["value"] >= threshold]

    with use_tracker(tracker):
        consist.run(fn=clean, inputs={"raw": raw_csv}, config=config, outputs=["cleaned"])
        assert consist.run(fn=clean, inputs={"raw": raw_csv}, config=config, outputs=["cleaned"]).cache_hit
    assert seen == [0.5]


def test_config_parameter_receives_whole_config_and_runtime_kwargs_win(tracker):
    """A `config` parameter gets the whole config; runtime_kwargs override config keys and are not hashed."""
    seen = []

    def step(config: dict, scale: int, label: str) -> pl.DataFrame:
        seen.append((config, scale, label))
        return pl.DataFrame({"x": [scale]})

    with use_tracker(tracker):
        consist.run(fn=step, config={"scale": 2}, runtime_kwargs={"label": "a", "scale": 5}, outputs=["x"])
        hit = consist.run(fn=step, config={"scale": 2}, runtime_kwargs={"label": "b", "scale": 7}, outputs=["x"])
    assert seen == [({"scale": 2}, 5, "a")]
    assert hit.cache_hit


def test_annotations_choose_the_loaded_kind(tracker, raw_csv):
    """Auto-loaded inputs follow the parameter annotation."""
    kinds = {}

    def step(a: pd.DataFrame, b: pl.DataFrame, c: pl.LazyFrame, d: pa.Table, e: Path, f) -> None:
        kinds.update(a=type(a), b=type(b), c=type(c), d=type(d), e=type(e), f=type(f))

    with use_tracker(tracker):
        consist.run(fn=step, inputs={k: raw_csv for k in "abcdef"})
    assert kinds["a"] is pd.DataFrame
    assert kinds["b"] is pl.DataFrame
    assert kinds["c"] is pl.LazyFrame
    assert kinds["d"] is pa.Table
    assert issubclass(kinds["e"], Path)
    assert kinds["f"] is pl.DataFrame  # a raw CSV nobody logged loads as Polars


@pytest.mark.parametrize(
    "make, kind",
    [
        (lambda: pd.DataFrame({"a": [1, 2]}, index=pd.Index([10, 20], name="idx")), pd.DataFrame),
        (lambda: pl.DataFrame({"a": [1, 2]}), pl.DataFrame),
        (lambda: pl.DataFrame({"a": [1, 2]}).lazy(), pl.LazyFrame),
        (lambda: pa.table({"a": [1, 2]}), pa.Table),
    ],
)
def test_what_you_store_is_what_you_get_back(tracker, make, kind):
    """A returned frame is stored as Parquet and loads back as the kind that was returned."""
    with use_tracker(tracker):
        result = consist.run(fn=make, name="make", outputs=["frame"])
    art = result.outputs["frame"]
    assert art.driver == "parquet" and art.path.suffix == ".parquet" and art.path.exists()
    loaded = consist.load(art)
    assert isinstance(loaded, kind)
    assert isinstance(consist.scan(art), pl.LazyFrame)
    assert consist.scan(art).collect()["a"].to_list() == [1, 2]
    if kind is pd.DataFrame:
        assert list(loaded.index) == [10, 20]
    for as_, expected in [("polars", pl.DataFrame), ("lazy", pl.LazyFrame), ("pandas", pd.DataFrame), ("arrow", pa.Table)]:
        assert isinstance(consist.load(art, as_=as_), expected)
    rel = consist.load(art, as_="duckdb")
    assert rel.fetchall() == [(1,), (2,)] or rel.fetchall() == [(1, 10), (2, 20)]


def test_dict_and_tuple_returns_map_onto_outputs(tracker):
    """A dict maps keys to outputs and a tuple maps onto the declared outputs in order."""

    def as_dict():
        return {"left": pl.DataFrame({"a": [1]}), "right": pl.DataFrame({"b": [2]})}

    def as_tuple():
        return pl.DataFrame({"a": [1]}), pl.DataFrame({"b": [2]})

    with use_tracker(tracker):
        d = consist.run(fn=as_dict, outputs=["left", "right"])
        t = consist.run(fn=as_tuple, outputs=["first", "second"])
        undeclared = consist.run(fn=as_dict, name="undeclared")
    assert set(d.outputs) == {"left", "right"}
    assert consist.load(t.outputs["second"])["b"].to_list() == [2]
    assert set(undeclared.outputs) == {"left", "right"}


def test_path_and_json_returns_become_artifacts(tracker):
    """A returned Path is logged where it lies; plain values become JSON artifacts."""

    def writes(_consist_ctx) -> Path:
        out = _consist_ctx.run_dir / "report.txt"
        out.write_text("done")
        return out

    def metrics() -> dict:
        return {"rmse": 0.5, "n": 3}

    with use_tracker(tracker):
        p = consist.run(fn=writes, outputs=["report"], inject_context=True)
        m = consist.run(fn=metrics, outputs=["metrics"])
    assert p.outputs["report"].path.read_text() == "done"
    assert p.outputs["report"].driver == "file"
    assert consist.load(m.outputs["metrics"]) == {"rmse": 0.5, "n": 3}


def test_artifact_fields(tracker, raw_csv):
    """Artifacts carry key, an existing path, a blake3 hash, size, driver, producing run and metadata."""
    import blake3

    def step(_consist_ctx) -> None:
        out = _consist_ctx.run_dir / "t.csv"
        out.write_text("a\n1\n")
        _consist_ctx.log_output(out, key="table", role="primary")

    with use_tracker(tracker):
        result = consist.run(fn=step, inject_context=True)
    art = result.outputs["table"]
    assert art.key == "table"
    assert isinstance(art.path, Path) and art.path.exists()
    assert art.hash == blake3.blake3(b"a\n1\n").hexdigest()
    assert art.size == 4 and art.driver == "csv"
    assert art.run_id == result.run.id
    assert art.meta == {"role": "primary"}


def test_list_inputs_are_hashed_but_not_loaded_by_default(tracker, raw_csv, tmp_path):
    """List inputs count in the cache key and are passed only with load_inputs=True."""
    seen = []
    other = tmp_path / "other.csv"
    other.write_text("x\n1\n")

    def step(raw=None) -> pl.DataFrame:
        seen.append(raw)
        return pl.DataFrame({"a": [1]})

    with use_tracker(tracker):
        consist.run(fn=step, inputs=[raw_csv], outputs=["o"])
        consist.run(fn=step, inputs=[raw_csv], outputs=["o"])
        consist.run(fn=step, inputs=[other], outputs=["o"])
        consist.run(fn=step, inputs=[raw_csv], outputs=["o"], load_inputs=True, config={"loaded": True})
    assert seen[:2] == [None, None]
    assert len(seen) == 3
    assert isinstance(seen[2], pl.DataFrame)


def test_tracked_output_feeds_next_step_by_content(tracker, raw_csv):
    """An upstream re-run that writes identical bytes does not invalidate the downstream step."""
    down = []

    def up(raw: pl.DataFrame, salt: int) -> pl.DataFrame:
        return raw.filter(pl.col("value") > 0.5)

    def downstream(filtered: pl.DataFrame) -> pl.DataFrame:
        down.append(1)
        return filtered.select(pl.len())

    with use_tracker(tracker):
        a = consist.run(fn=up, inputs={"raw": raw_csv}, config={"salt": 1}, outputs=["filtered"])
        consist.run(fn=downstream, inputs={"filtered": a.outputs["filtered"]}, outputs=["n"])
        b = consist.run(fn=up, inputs={"raw": raw_csv}, config={"salt": 2}, outputs=["filtered"])
        assert not b.cache_hit and b.outputs["filtered"].hash == a.outputs["filtered"].hash
        assert consist.run(fn=downstream, inputs={"filtered": b.outputs["filtered"]}, outputs=["n"]).cache_hit
    assert down == [1]


def test_depends_on_files_are_part_of_the_key(tracker, raw_csv, tmp_path):
    """Changing a depends_on file invalidates the cache; leaving it alone hits."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text("a: 1\n")
    calls = []

    def step(raw) -> pl.DataFrame:
        calls.append(1)
        return pl.DataFrame({"a": [1]})

    with use_tracker(tracker):
        consist.run(fn=step, inputs={"raw": raw_csv}, depends_on=[cfg], outputs=["o"])
        consist.run(fn=step, inputs={"raw": raw_csv}, depends_on=[cfg], outputs=["o"])
        cfg.write_text("a: 2\n")
        consist.run(fn=step, inputs={"raw": raw_csv}, depends_on=[cfg], outputs=["o"])
    assert len(calls) == 2


def test_capture_dir_logs_files_by_stem(tracker, in_tmp):
    """Files a step writes into capture_dir are logged, keyed by file stem."""
    calls = []

    def tool() -> None:
        calls.append(1)
        out = Path("outputs")
        out.mkdir(exist_ok=True)
        (out / "results.csv").write_text("a\n1\n")
        (out / "summary.csv").write_text("b\n2\n")
        (out / "log.txt").write_text("ignored")

    with use_tracker(tracker):
        r1 = consist.run(fn=tool, capture_dir=Path("outputs"), capture_pattern="*.csv")
        r2 = consist.run(fn=tool, capture_dir=Path("outputs"), capture_pattern="*.csv")
    assert set(r1.outputs) == {"results", "summary"}
    assert r2.cache_hit and calls == [1]


def test_capture_outputs_context(tracker):
    """RunContext.capture_outputs logs the files written inside the block."""

    def legacy(_consist_ctx) -> None:
        out = _consist_ctx.run_dir / "legacy_outputs"
        out.mkdir()
        with _consist_ctx.capture_outputs(out, pattern="*.csv"):
            (out / "trips.csv").write_text("t\n1\n")

    with use_tracker(tracker):
        result = consist.run(fn=legacy, inject_context=True)
    assert list(result.outputs) == ["trips"]


def test_formats_load_by_driver(tracker, tmp_path):
    """Feather, JSON, zarr and other files each load the way their driver says."""
    import numpy as np
    import zarr

    feather = tmp_path / "t.feather"
    import pyarrow.feather

    pyarrow.feather.write_feather(pa.table({"a": [1, 2]}), feather)
    js = tmp_path / "rows.json"
    js.write_text('[{"a": 1}, {"a": 2}]')
    store = tmp_path / "skims.zarr"
    z = zarr.open(str(store), mode="w", shape=(3, 3), dtype="f8")
    z[:] = np.eye(3)
    other = tmp_path / "model.bin"
    other.write_bytes(b"\x00\x01")

    def step(_consist_ctx) -> None:
        for p in (feather, js, store, other):
            _consist_ctx.log_artifact(p)

    with use_tracker(tracker):
        out = consist.run(fn=step, inject_context=True).outputs
    assert out["t"].driver == "arrow" and consist.load(out["t"])["a"].to_list() == [1, 2]
    assert consist.load(out["rows"]) == [{"a": 1}, {"a": 2}]
    assert consist.load(out["rows"], as_="polars")["a"].to_list() == [1, 2]
    assert out["skims"].driver == "zarr"
    assert float(consist.load(out["skims"])[1, 1]) == 1.0
    assert consist.load(out["model"]) == other.resolve()


def test_json_lines_file_loads_as_a_table(tracker, tmp_path):
    """A logged .ndjson/.jsonl file loads as a Polars DataFrame (one row per line) rather than failing to decode."""
    lines = tmp_path / "events.ndjson"
    lines.write_text('{"a": 1}\n{"a": 2}\n')

    def step(_consist_ctx) -> None:
        _consist_ctx.log_output(lines, key="events")

    with use_tracker(tracker):
        events = consist.run(fn=step, inject_context=True).outputs["events"]
    assert isinstance(consist.load(events), pl.DataFrame)
    assert consist.load(events)["a"].to_list() == [1, 2]
    assert consist.load(events, as_="pandas")["a"].tolist() == [1, 2]


def test_log_artifact_hash_options(tracker, tmp_path):
    """content_hash is trusted, checked with validate_content_hash, and never silently overrides a known hash."""
    import blake3

    data = tmp_path / "d.bin"
    data.write_bytes(b"abc")
    age(data)
    real = blake3.blake3(b"abc").hexdigest()

    def trusted(_consist_ctx) -> None:
        consist.log_artifact(data, key="d", content_hash=real)

    def wrong_validated(_consist_ctx) -> None:
        consist.log_artifact(data, key="d", content_hash="0" * 64, validate_content_hash=True)

    def wrong_known(_consist_ctx) -> None:
        consist.log_artifact(data, key="d", content_hash="0" * 64)

    def forced(_consist_ctx) -> None:
        consist.log_artifact(data, key="d", content_hash="0" * 64, force_hash_override=True)

    with use_tracker(tracker):
        assert consist.run(fn=trusted, inject_context=True).outputs["d"].hash == real
        with pytest.raises(consist.ConfigError, match="does not match"):
            consist.run(fn=wrong_validated, inject_context=True)
        # A contradicting hash does not fail the step: the known hash is kept, with a warning naming both.
        with pytest.warns(UserWarning, match=f"content_hash={'0' * 64} differs .* {data} \\({real}\\); keeping"):
            kept = consist.run(fn=wrong_known, inject_context=True)
        assert not kept.cache_hit and kept.outputs["d"].hash == real
        assert consist.run(fn=forced, inject_context=True).outputs["d"].hash == "0" * 64


def test_content_hash_contradicting_a_just_written_file_keeps_the_recorded_hash(tracker, tmp_path):
    """A content_hash= that contradicts the hash just recorded for a freshly written file is not taken."""
    data = tmp_path / "fresh.csv"
    data.write_text("a\n1\n")
    calls = []

    def step() -> None:
        calls.append(1)
        consist.log_artifact(data, key="first")
        consist.log_artifact(data, key="second", content_hash="0" * 64)

    with use_tracker(tracker):
        with pytest.warns(UserWarning, match="keeping the recorded hash.*force_hash_override=True"):
            result = consist.run(fn=step, name="fresh")
    assert calls == [1] and result.outputs["second"].hash == result.outputs["first"].hash != "0" * 64


def test_list_inputs_with_the_same_key_are_all_part_of_identity(tracker):
    """Two upstream artifacts with the same key in an inputs list both count toward the step's identity."""
    calls = []

    def make(v: int) -> pd.DataFrame:
        return pd.DataFrame({"v": [v]})

    def combine() -> dict:
        calls.append("combine")
        return {"ok": True}

    with use_tracker(tracker):
        a1, a2, a3 = (consist.run(fn=make, config={"v": v}, outputs=["persons"]).outputs["persons"] for v in (1, 2, 3))
        first = consist.run(fn=combine, inputs=[a1, a2])
        again = consist.run(fn=combine, inputs=[a1, a2])
        changed = consist.run(fn=combine, inputs=[a1, a3])
    assert calls == ["combine", "combine"]
    assert again.cache_hit and not changed.cache_hit
    assert len(first.run.inputs) == 2


def test_numpy_scalars_in_config_hash_like_plain_values(tracker):
    """A config holding numpy scalars (say from np.linspace) runs and is the same cache entry as plain Python values."""
    import numpy as np

    calls = []

    def sweep(alpha: float, mode: str) -> dict:
        calls.append((alpha, mode))
        return {"alpha": float(alpha)}

    with use_tracker(tracker):
        first = consist.run(fn=sweep, config={"alpha": np.linspace(0, 1, 3)[1], "mode": np.str_("car")})
        plain = consist.run(fn=sweep, config={"alpha": 0.5, "mode": "car"})
    assert len(calls) == 1 and plain.cache_hit
    assert first.run.config == {"alpha": 0.5, "mode": "car"}


def test_numpy_values_in_year_and_artifact_metadata_are_recorded(tracker):
    """year=np.int64 and numpy artifact metadata are recorded as plain numbers, and the step is then served from the cache."""
    import numpy as np

    calls = []

    def step() -> None:
        calls.append(1)
        consist.log_dataframe(pd.DataFrame({"a": [1]}), key="table", weight=np.float64(0.5))

    with use_tracker(tracker):
        results = [consist.run(fn=step, year=np.int64(2030), facet={"k": np.float64(1.5)}) for _ in range(2)]
    assert calls == [1] and results[1].cache_hit
    assert results[1].outputs["table"].meta == {"weight": 0.5}
    stored = consist.find_run(tracker=tracker, year=2030, model="step")
    assert stored.year == 2030 and stored.facets["k"] == 1.5


def test_single_string_or_path_options_are_one_item_lists(tracker, tmp_path):
    """outputs="cleaned", tags="nightly" and depends_on=Path(...) mean one item each, and the dependency is hashed."""
    dep = tmp_path / "config.yaml"
    dep.write_text("a: 1\n")
    calls = []

    def clean() -> pd.DataFrame:
        calls.append(1)
        return pd.DataFrame({"a": [1]})

    with use_tracker(tracker):
        first = consist.run(fn=clean, outputs="cleaned", tags="nightly", depends_on=dep)
        again = consist.run(fn=clean, outputs="cleaned", tags="nightly", depends_on=str(dep))
        dep.write_text("a: 2\n")
        changed = consist.run(fn=clean, outputs="cleaned", tags="nightly", depends_on=dep)
    assert list(first.outputs) == ["cleaned"] and first.run.tags == ["nightly"]
    assert [a.key for a in first.run.inputs] == ["depends_on:config.yaml"]
    assert again.cache_hit and not changed.cache_hit and len(calls) == 2


def test_load_and_scan_accept_tracker_keyword(tracker, raw_csv):
    """consist.load and consist.scan take tracker= like the other module-level functions."""
    with use_tracker(tracker):
        result = consist.run(fn=lambda raw: raw, name="copy", inputs={"raw": raw_csv}, outputs=["copied"])
    copied = result.outputs["copied"]
    assert consist.load(copied, tracker=tracker).shape == (5, 2)
    assert consist.load(copied, as_="pandas", tracker=tracker).shape == (5, 2)
    assert consist.scan(copied, tracker=tracker).collect().height == 5


def test_input_paths_expand_the_home_folder(tracker, tmp_path, monkeypatch):
    """An input or depends_on written as "~/raw.csv" is the file in the home folder, as run_dir="~/runs" is."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "raw.csv").write_text("value\n1\n")
    calls = []

    def step(raw: pd.DataFrame) -> pd.DataFrame:
        calls.append(1)
        return raw

    with use_tracker(tracker):
        first = consist.run(fn=step, inputs={"raw": "~/raw.csv"}, depends_on="~/raw.csv", outputs=["o"])
        again = consist.run(fn=step, inputs={"raw": tmp_path / "raw.csv"}, depends_on=tmp_path / "raw.csv", outputs=["o"])
    assert {a.uri for a in first.run.inputs} == {str((tmp_path / "raw.csv").resolve())}
    assert again.cache_hit and calls == [1]


def test_captured_files_sharing_a_stem_are_all_kept(tracker, tmp_path):
    """Captured files such as persons.2020.csv and persons.2030.csv each become an output instead of overwriting one another."""
    out = tmp_path / "outputs"
    calls = []

    def legacy_model() -> None:
        calls.append(1)
        out.mkdir(exist_ok=True)
        (out / "persons.2020.csv").write_text("a\n1\n")
        (out / "persons.2030.csv").write_text("a\n2\n")
        (out / "results.csv").write_text("a\n3\n")

    with use_tracker(tracker):
        first = consist.run(fn=legacy_model, capture_dir=out, capture_pattern="*.csv")
        again = consist.run(fn=legacy_model, capture_dir=out, capture_pattern="*.csv")
    assert sorted(first.outputs) == ["persons.2020", "persons.2030", "results"]
    assert consist.load(first.outputs["persons.2030"])["a"].to_list() == [2]
    assert again.cache_hit and calls == [1]


def test_cache_modes(tracker):
    """overwrite always executes; readonly serves hits but a miss leaves no entry."""
    calls = []

    def make(n: int) -> pl.DataFrame:
        calls.append(n)
        return pl.DataFrame({"n": [n]})

    with use_tracker(tracker):
        consist.run(fn=make, config={"n": 1}, outputs=["o"])
        consist.run(fn=make, config={"n": 1}, outputs=["o"], cache_mode="overwrite")
        assert consist.run(fn=make, config={"n": 1}, outputs=["o"], cache_mode="readonly").cache_hit
        consist.run(fn=make, config={"n": 2}, outputs=["o"], cache_mode="readonly")
        consist.run(fn=make, config={"n": 2}, outputs=["o"], cache_mode="readonly")
        with pytest.raises(consist.ConfigError, match="cache_mode"):
            consist.run(fn=make, config={"n": 2}, outputs=["o"], cache_mode="sometimes")
    assert calls == [1, 1, 2, 2]


def test_cache_epoch_invalidates_earlier_entries(tmp_path):
    """Bumping the tracker's cache_epoch makes every earlier entry a miss."""
    calls = []

    def make() -> pl.DataFrame:
        calls.append(1)
        return pl.DataFrame({"n": [1]})

    for epoch in (0, 0, 1, 1):
        with use_tracker(Tracker(run_dir=tmp_path / "runs", cache_epoch=epoch)):
            consist.run(fn=make, outputs=["o"])
    assert len(calls) == 2


def test_run_metadata_is_recorded(tracker):
    """year, tags, run_id and the step name are recorded on the run; a reused run_id gets a suffix."""

    def make() -> pl.DataFrame:
        return pl.DataFrame({"n": [1]})

    with use_tracker(tracker):
        r = consist.run(fn=make, name="make_2030", year=2030, tags=["a", "b"], run_id="make_2030", outputs=["o"])
        again = consist.run(fn=make, name="make_2030", year=2030, run_id="make_2030", outputs=["o"])
    assert r.run.id == "make_2030" and r.run.year == 2030 and r.run.tags == ["a", "b"]
    assert r.run.name == "make_2030" and r.run.status == "completed"
    assert again.cache_hit and again.run.id != "make_2030" and again.run.id.startswith("make_2030")


def test_tracker_run_and_name_first_call(tracker):
    """tracker.run works without use_tracker, and the name may come first."""
    calls = []

    def make() -> pl.DataFrame:
        calls.append(1)
        return pl.DataFrame({"n": [1]})

    r1 = tracker.run("named", fn=make, outputs=["o"])
    r2 = tracker.run(fn=make, name="named", outputs=["o"])
    assert r1.run.name == "named" and r2.cache_hit and calls == [1]


def test_use_tracker_nests(tmp_path):
    """The innermost use_tracker wins and the outer one is restored afterwards."""
    a, b = Tracker(run_dir=tmp_path / "a"), Tracker(run_dir=tmp_path / "b")
    with use_tracker(a):
        with use_tracker(b):
            assert consist.current_tracker() is b
        assert consist.current_tracker() is a
    with pytest.raises(consist.NoActiveTrackerError, match="use_tracker"):
        consist.run(fn=lambda: None)


def test_name_then_function_positionally_works_like_sc_run(tracker):
    """consist.run("clean", fn) and tracker.run("clean", fn) run fn under that name, as sc.run("clean", fn) does."""
    calls: list[int] = []

    def clean() -> pd.DataFrame:
        calls.append(1)
        return pd.DataFrame({"a": [1]})

    with use_tracker(tracker):
        first = consist.run("clean", clean, outputs=["cleaned"])
        second = tracker.run("clean", clean, outputs=["cleaned"])
    assert first.run.name == second.run.name == "clean"
    assert calls == [1] and second.cache_hit
