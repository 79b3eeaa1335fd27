"""The guide's Pattern 1 (single-step runs) examples, run as written.

Each snippet is the guide's code verbatim; the test only prepares the files it reads,
stubs the user's own modules it imports (``legacy_model``), and counts executions.
"""

from __future__ import annotations

import sys
import textwrap
import types
from pathlib import Path

import pandas as pd
import pytest

SIMPLE = '''
import consist
from consist import Tracker, use_tracker
from pathlib import Path
import pandas as pd

# 1. Create tracker
tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

# 2. Define your function
def clean_data(raw: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    CALLS.append("clean_data")
    df = raw[raw["value"] > threshold]  # Filter
    return df

# 3. Run it with tracker context
with use_tracker(tracker):
    result = consist.run(
        fn=clean_data,
        inputs={"raw": Path("raw.csv")},
        config={"threshold": 0.5},  # Part of cache key
        outputs=["cleaned"],
    )

# 4. Access results
cleaned_artifact = result.outputs["cleaned"]
cleaned_df = consist.load(cleaned_artifact)
print(f"Output: {cleaned_artifact.path}")
'''

RAW_PATHS = '''
def clean_data(raw_file: Path, _consist_ctx) -> None:
    CALLS.append("clean_data_paths")
    df = pd.read_csv(raw_file)
    out_path = _consist_ctx.run_dir / "cleaned.parquet"
    df.to_parquet(out_path)
    _consist_ctx.log_output(out_path, key="cleaned")

with use_tracker(tracker):
    result = consist.run(
        fn=clean_data,
        inputs={"raw_file": Path("raw.csv")},  # hashed input
        load_inputs=False,
        runtime_kwargs={"raw_file": Path("raw.csv")},
        inject_context=True,
    )
'''

PYDANTIC = '''
import consist
from consist import Tracker, use_tracker
from pydantic import BaseModel
from pathlib import Path
import pandas as pd

class CleaningConfig(BaseModel):
    threshold: float = 0.5
    remove_outliers: bool = True

tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

def clean_data(raw: pd.DataFrame, config: CleaningConfig) -> pd.DataFrame:
    CALLS.append(("clean_data_cfg", config.threshold))
    df = raw
    df = df[df["value"] >= config.threshold]
    if config.remove_outliers:
        df = df[df["value"] < df["value"].quantile(0.95)]
    return df

with use_tracker(tracker):
    result = consist.run(
        fn=clean_data,
        inputs={"raw": Path("raw.csv")},
        config=CleaningConfig(threshold=THRESHOLD, remove_outliers=True),
        outputs=["cleaned"],
    )
'''

LEGACY = '''
from pathlib import Path

def run_legacy_model(upstream, _consist_ctx) -> None:
    import legacy_model

    output_dir = _consist_ctx.run_dir / "legacy_outputs"
    output_dir.mkdir(parents=True, exist_ok=True)
    with _consist_ctx.capture_outputs(output_dir, pattern="*.csv"):
        legacy_model.run(upstream, output_dir=output_dir)

with use_tracker(tracker):
    result = consist.run(
        fn=run_legacy_model,
        inputs={"upstream": Path("input.csv")},
        depends_on=[Path("config.yaml"), Path("parameters.json")],  # Hash these files too
        inject_context=True,
    )
'''

FIXED_DIR = '''
with use_tracker(tracker):
    def run_legacy_model(upstream) -> None:
        import legacy_model

        legacy_model.run(upstream, output_dir="outputs")

    result = consist.run(
        fn=run_legacy_model,
        inputs={"upstream": Path("input.csv")},  # auto-loaded into the upstream arg
        depends_on=[Path("config.yaml")],
        capture_dir=Path("outputs"),
        capture_pattern="*.csv",
    )
'''


@pytest.fixture
def guide_dir(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (in_tmp / "raw.csv").write_text("value,category\n0.1,a\n0.7,b\n0.9,a\n0.6,b\n0.99,c\n")
    (in_tmp / "input.csv").write_text("zone,pop\n1,100\n2,250\n")
    (in_tmp / "config.yaml").write_text("iterations: 3\n")
    (in_tmp / "parameters.json").write_text('{"alpha": 1}')
    legacy = types.ModuleType("legacy_model")
    legacy.CALLS = []

    def run(upstream, output_dir):
        legacy.CALLS.append(type(upstream).__name__)
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.csv").write_text("zone,trips\n1,10\n2,25\n")
        (out / "notes.txt").write_text("not captured")

    legacy.run = run
    monkeypatch.setitem(sys.modules, "legacy_model", legacy)
    return in_tmp


def _exec(code: str, ns: dict) -> dict:
    exec(compile(textwrap.dedent(code), "<guide>", "exec"), ns)
    return ns


def test_simple_example_runs_and_hits_on_second_run(guide_dir, capsys):
    """The guide's simple example runs as written, loads pandas back, and re-running it executes nothing."""
    calls: list = []
    first = _exec(SIMPLE, {"CALLS": calls})
    assert isinstance(first["cleaned_df"], pd.DataFrame)
    assert sorted(first["cleaned_df"]["value"]) == [0.6, 0.7, 0.9, 0.99]
    assert "Output: " in capsys.readouterr().out
    second = _exec(SIMPLE, {"CALLS": calls})
    assert calls == ["clean_data"]
    assert second["result"].cache_hit
    assert (guide_dir / "provenance.duckdb").parent == guide_dir


def test_raw_path_alternative(guide_dir):
    """The raw-path alternative logs the file the function writes and hits on repeat."""
    calls: list = []
    ns = _exec(SIMPLE, {"CALLS": calls})
    _exec(RAW_PATHS, ns)
    assert ns["result"].outputs["cleaned"].path.name == "cleaned.parquet"
    _exec(RAW_PATHS, ns)
    assert calls.count("clean_data_paths") == 1 and ns["result"].cache_hit


def test_pydantic_config_example(guide_dir):
    """Each distinct pydantic config is its own cache entry; repeats hit."""
    calls: list = []
    for threshold in (0.5, 0.5, 0.7, 0.5):
        ns = _exec(PYDANTIC, {"CALLS": calls, "THRESHOLD": threshold})
    assert calls == [("clean_data_cfg", 0.5), ("clean_data_cfg", 0.7)]
    assert ns["result"].cache_hit


def test_legacy_tool_capture_and_depends_on(guide_dir):
    """Captured legacy outputs are keyed by stem; changing a depends_on file re-runs the tool."""
    import legacy_model

    ns = _exec(SIMPLE, {"CALLS": []})
    _exec(LEGACY, ns)
    assert set(ns["result"].outputs) == {"results"}
    assert legacy_model.CALLS == ["DataFrame"]
    _exec(LEGACY, ns)
    assert ns["result"].cache_hit and len(legacy_model.CALLS) == 1
    (guide_dir / "parameters.json").write_text('{"alpha": 2}')
    _exec(LEGACY, ns)
    assert not ns["result"].cache_hit and len(legacy_model.CALLS) == 2


def test_fixed_output_directory_alternative(guide_dir):
    """A tool writing to a fixed folder is captured with capture_dir and hits on repeat."""
    import legacy_model

    ns = _exec(SIMPLE, {"CALLS": []})
    _exec(FIXED_DIR, ns)
    assert set(ns["result"].outputs) == {"results"}
    _exec(FIXED_DIR, ns)
    assert ns["result"].cache_hit and len(legacy_model.CALLS) == 1
