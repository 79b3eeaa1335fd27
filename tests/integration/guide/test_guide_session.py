"""The usage guide followed as one session: every snippet in order in one script, then again in a fresh process."""

from __future__ import annotations

from pathlib import Path

from consist import Tracker


GAPS = '''
import json, sys, types
from pathlib import Path
import pandas as pd
Path("raw.csv").write_text("value,category\\n0.2,a\\n0.7,b\\n0.9,a\\n0.6,b\\n")
Path("input.csv").write_text("zone,pop\\n1,10\\n")
Path("config.yaml").write_text("alpha: 1\\n")
Path("parameters.json").write_text("{}")
Path("data.csv").write_text("value,category\\n0.2,a\\n0.4,b\\n0.8,b\\n")
Path("land_use.geojson").write_text(json.dumps({"features": [{"properties": {"zone": 1}}]}))
Path("network.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
pd.DataFrame({"a": [1]}).to_parquet("data.parquet")
Path("results").mkdir(exist_ok=True)
for _name in ["persons", "households", "jobs"]:
    pd.DataFrame({"id": [1]}).to_parquet(f"results/{_name}.parquet")

def _legacy_run(upstream, output_dir):
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    (Path(output_dir) / "results.csv").write_text("x\\n1\\n")

sys.modules["legacy_model"] = types.SimpleNamespace(run=_legacy_run)

def load_population():
    return pd.DataFrame({"person_id": [1, 2, 3], "age": [30, 40, 50]})

def run_model(year, df_pop):
    return df_pop.assign(number_of_trips=(year - 2000) // 10)

def load_zones(path):
    return [f["properties"] for f in json.loads(Path(path).read_text())["features"]]

def expensive_preprocessing(network_file):
    return pd.DataFrame({"link": [1, 2]})

asim_compile_runner = types.SimpleNamespace(
    run=lambda: {"zarr_skims": pd.DataFrame({"t": [1.0]}), "synthetic_population": load_population()}
)
asim_runner = types.SimpleNamespace(run=lambda zarr_skims: None)
debugging = False
from consist import Artifact
CALLS, THRESHOLD = [], 0.5  # the Pattern 1 snippets count their calls here
'''


def _session_script() -> str:
    """The guide's snippets in order (verbatim, bar the three fixes the guide needs)."""
    from tests.integration.guide import test_pattern1 as p1
    from tests.integration.guide import test_pattern2 as p2
    from tests.integration.guide import test_views as views

    bulk = "from consist import use_tracker\nwith use_tracker(tracker):\n" + "".join(
        "    " + line + "\n" for line in p2.BULK_LOGGING.strip("\n").splitlines()
    )  # the guide's snippet has no tracker in use
    sweep = p2.SWEEP.replace('key="data"', 'key="shared_data"')  # setup logs 'data', the loop reads 'shared_data'
    hydration = p2.HYDRATION.replace(
        "        coupler = sc.coupler\n",
        "        coupler = sc.coupler\n"
        '        with sc.trace(name="initialize"):\n'
        '            consist.log_dataframe(load_population(), key="population")\n',
    )  # a new scenario's coupler starts empty
    parts = [
        GAPS, p1.SIMPLE, p1.RAW_PATHS, p1.PYDANTIC, p1.LEGACY, p1.FIXED_DIR,
        p2.TWO_STEP, p2.TWO_STEP_TRACE, p2.COUPLER, p2.SIMULATE_YEAR,
        p2.PATTERN_A, p2.PATTERN_B, p2.PATTERN_C, bulk, sweep, hydration, p2.MIXING,
        "year = 2030\n" + p2.WHEN_TRACE,  # the guide's block prints a `year` it never sets
        p2.WHEN_RUN, p2.BEAM.replace("# ... write out_path ...", "pd.DataFrame({'a': [1]}).to_parquet(out_path)"),
        p2.PIVOT_FACETS, p2.FINDING_RUNS, p2.LOADING_ARTIFACTS, views.VIEWS,
        'print(json.dumps({"avg": results["avg_trips"].to_list(), "rows": len(df), "calls": len(CALLS)}))\n',
    ]
    return "\n".join(parts)


def test_the_guide_as_one_session_reexecutes_nothing_in_a_fresh_process(tmp_path: Path):
    """Every guide snippet runs in order in one script; a second process records only cache hits."""
    import json
    import subprocess
    import sys

    script = tmp_path / "session.py"
    script.write_text(_session_script())
    root = Path(__file__).resolve().parents[3]
    env = {**__import__("os").environ, "PYTHONPATH": str(root)}
    reports = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env
        )
        assert done.returncode == 0, done.stderr[-3000:]
        reports.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert reports[0]["calls"] == 3 and reports[1]["calls"] == 0
    assert sorted(reports[0]["avg"]) == sorted(reports[1]["avg"]) and reports[0]["rows"] == 3
    records = sorted(
        (r for r in Tracker(run_dir=tmp_path / "runs").records.iter_fresh() if r.kind != "scenario"),
        key=lambda r: r.started_at,
    )
    by_pid: dict[int, list] = {}
    for r in records:
        by_pid.setdefault(r.pid, []).append(r)
    assert len(by_pid) == 2
    first, second = (by_pid[p] for p in sorted(by_pid, key=lambda p: by_pid[p][0].started_at))
    assert any(not r.cache_hit for r in first)
    assert len(second) == len(first)
    assert [(r.name, r.cache_hit) for r in second if not r.cache_hit] == []
