"""The guide's Pattern 2 (scenarios) and "When Does Code Execute?" examples, run as written.

(Plus the guide's facet pivot and run lookups, applied to what scenarios record.)

Each snippet below is the guide's code verbatim (checked against the guide when it is
present). The test prepares the files a snippet reads, provides the names it takes from
earlier examples (``tracker``, ``pd``, ``year``, ``debugging``...), stubs the user's own
helpers it calls (``load_population``, ``run_model``, ``load_zones``,
``asim_compile_runner``, ``asim_runner``, ``expensive_preprocessing``) so that each call
is counted, and runs it twice or more to show what executes again.

Three snippets cannot run literally, and the tests say so: the parameter sweep reads a
coupler key (``shared_data``) that its setup step never logs (it logs ``data``); the cache
hydration fragment reads ``population`` in a scenario that never produced it; the
``beam_preprocess`` example logs a file its ``# ... write out_path ...`` placeholder never
writes. Each is run as written (and must fail with a clear message), then with the gap
filled.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import consist
from consist import Artifact, CouplerKeyError, Tracker, use_tracker
from consist.workflow.coupler import CouplerWarning

GUIDE = Path(__file__).resolve().parents[4] / "shared" / "spec" / "usage-guide.md"


# -- the guide's snippets, verbatim -------------------------------------------------------

TWO_STEP = '''
import consist
from consist import Tracker, use_tracker
from pathlib import Path
import pandas as pd

tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")

# Define steps as regular functions
def preprocess_data(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw[raw["value"] > 0.5]
    return df

def analyze_data(preprocessed: pd.DataFrame) -> pd.DataFrame:
    summary = preprocessed.groupby("category", as_index=False)["value"].mean()
    return summary

# Execute as a scenario
with use_tracker(tracker):
    with consist.scenario("my_analysis") as sc:
        sc.run(
            name="preprocess",
            fn=preprocess_data,
            inputs={"raw": Path("raw.csv")},
            outputs=["preprocessed"],
        )

        sc.run(
            name="analyze",
            fn=analyze_data,
            inputs=["preprocessed"],
            load_inputs=True,
            outputs=["analysis"],
        )
'''

TWO_STEP_TRACE = '''
with use_tracker(tracker):
    with consist.scenario("my_analysis") as sc:
        with sc.trace(name="preprocess", inputs={"raw": Path("raw.csv")}):
            df = pd.read_csv("raw.csv")
            consist.log_dataframe(df, key="preprocessed")

        with sc.trace(name="analyze", inputs=["preprocessed"]):
            df = consist.load(sc.coupler.require("preprocessed"))
            summary = df.groupby("category", as_index=False)["value"].mean()
            consist.log_dataframe(summary, key="analysis")
'''

COUPLER = '''
with use_tracker(tracker):
    with consist.scenario("baseline", model="travel_demand") as sc:
        coupler = sc.coupler

        # Step 1: Load and prepare
        with sc.trace(name="initialize", run_id="baseline_init"):
            df_pop = load_population()
            consist.log_dataframe(df_pop, key="population")

        # Step 2: Simulate for each year
        for year in [2020, 2030, 2040]:
            with sc.trace(
                name="simulate",
                run_id=f"baseline_{year}",
                year=year,
                inputs=["population"],  # Declare dependency
            ):
                # Get data from coupler (with automatic cache detection)
                df_pop = consist.load(coupler.require("population"))
                df_result = run_model(year, df_pop)

                # Log output and store for downstream steps
                consist.log_dataframe(df_result, key="persons")
'''

SIMULATE_YEAR = '''
def simulate_year(population: pd.DataFrame, config: dict) -> pd.DataFrame:
    year = config["year"]
    return run_model(year, population)

with use_tracker(tracker):
    with consist.scenario("baseline", model="travel_demand") as sc:
        with sc.trace(name="initialize", run_id="baseline_init"):
            df_pop = load_population()
            consist.log_dataframe(df_pop, key="population")

        for year in [2020, 2030, 2040]:
            sc.run(
                name=f"simulate_{year}",
                fn=simulate_year,
                inputs=["population"],
                outputs=["persons"],
                load_inputs=True,
                config={"year": year},
            )
'''

PATTERN_A = '''
# Define your expected outputs once (at top of file or in config)
WORKFLOW_OUTPUTS = {
    "zarr_skims": "Zone-to-zone travel times in Zarr format",
    "synthetic_population": "Synthetic population with activity schedules",
}

with use_tracker(tracker):
    with consist.scenario("workflow") as sc:
        sc.require_outputs(
            "zarr_skims",
            "synthetic_population",
            warn_undocumented=True,
            description=WORKFLOW_OUTPUTS,
        )

        # Run steps and set outputs
        compile_result = sc.run("compile", fn=asim_compile_runner.run)
        # Outputs are synced to the coupler automatically
'''

PATTERN_B = '''
with use_tracker(tracker):
    with consist.scenario("workflow") as sc:
        # Declare required outputs dynamically
        sc.declare_outputs(
            "zarr_skims", "synthetic_population",
            required={"zarr_skims": True, "synthetic_population": True}
        )

        # Optionally add more outputs later (not required)
        if debugging:
            sc.declare_outputs("debug_report", required={"debug_report": False})

        # Run steps and set outputs
        compile_result = sc.run("compile", fn=asim_compile_runner.run)
        # Outputs are synced to the coupler automatically

        # Check for missing required outputs
        missing = sc.coupler.missing_declared_outputs()
        if missing:
            raise RuntimeError(f"Missing required outputs: {missing}")
'''

PATTERN_C = '''
from consist import coupler_schema

@coupler_schema
class WorkflowCoupler:
    """Schema for workflow outputs with IDE autocomplete support."""
    zarr_skims: Artifact
    synthetic_population: Artifact

with use_tracker(tracker):
    with consist.scenario("workflow") as sc:
        # Get a typed view for attribute-style access
        typed = sc.coupler_schema(WorkflowCoupler)

        # Run a step and collect outputs
        compile_result = sc.run("compile", fn=asim_compile_runner.run)
        sc.collect_by_keys(compile_result.outputs, "zarr_skims", "synthetic_population")

        # Typed attribute access with IDE autocomplete (type-safe)
        skims_artifact = typed.zarr_skims  # IDE knows this is an Artifact
        sc.run("main", fn=asim_runner.run, inputs=["zarr_skims"], load_inputs=True)
'''

BULK_LOGGING = '''
with consist.scenario("outputs") as sc:
    # Log multiple files at once with explicit keys
    outputs = sc.log_artifacts(
        {
            "persons": "results/persons.parquet",
            "households": "results/households.parquet",
            "jobs": "results/jobs.parquet"
        },
        metadata_by_key={
            "households": {"role": "primary_unit"},
            "jobs": {"role": "employment_proxy"}
        },
        year=2030,
        scenario_name="base"
    )
    # All get year=2030, scenario_name="base"
    # households also gets role="primary_unit"
'''

SWEEP = '''
with use_tracker(tracker):
    with consist.scenario("sensitivity_analysis") as sc:
        coupler = sc.coupler

        # Load once, use for all variants
        with sc.trace(name="setup"):
            df = pd.read_csv("data.csv")
            consist.log_dataframe(df, key="data")

        # Test different thresholds
        for threshold in [0.3, 0.5, 0.7]:
            with sc.trace(
                name="analyze",
                run_id=f"threshold_{threshold}",
                threshold=threshold,
                inputs=["shared_data"],
            ):
                df = consist.load(coupler.require("shared_data"))
                filtered = df[df["value"] > threshold]
                consist.log_dataframe(filtered, key="filtered")
'''

HYDRATION = '''
with use_tracker(tracker):
    with consist.scenario("baseline", step_cache_hydration="inputs-missing") as sc:
        coupler = sc.coupler
        # This step will backfill inputs if they're missing from disk
        with sc.trace(name="simulate", inputs=["population"]):
            df_pop = consist.load(coupler.require("population"))
            # ... rest of simulation ...
'''

MIXING = '''
with use_tracker(tracker):
    with consist.scenario("baseline") as sc:
        coupler = sc.coupler
        # Run expensive preprocessing independently
        preprocess = consist.run(
            fn=expensive_preprocessing,
            inputs={"network_file": Path("network.geojson")},
            outputs=["processed"],
        )
        # Add outputs to coupler for downstream steps
        coupler.update(preprocess.outputs)

        # Later steps can use the preprocessed output
        with sc.trace(name="simulate", inputs=["processed"]):
            network = consist.load(coupler.require("processed"))
            # ... simulation ...
'''

WHEN_TRACE = '''
with use_tracker(tracker):
    with consist.scenario("baseline") as sc:
        # This block executes every time, even on cache hits
        with sc.trace(
            name="prepare_land_use",
            inputs={"geojson": Path("land_use.geojson")},
            year=2030
        ):
            # This code ALWAYS runs—useful if you log, print status, etc.
            print(f"Processing land use for year {year}")
            zones = load_zones("land_use.geojson")

            # But Consist returns cached output if it exists
            df_zones = pd.DataFrame(zones)
            consist.log_dataframe(df_zones, key="zones")
'''

WHEN_RUN = '''
with use_tracker(tracker):
    with consist.scenario("baseline") as sc:
        def prepare_land_use(geojson_path: Path) -> pd.DataFrame:
            # This function ONLY runs on cache miss
            # On cache hit, Consist returns cached output without calling it
            print(f"Processing land use")  # Only prints on first run
            zones = load_zones(geojson_path)
            return pd.DataFrame(zones)

        result = sc.run(
            name="prepare_land_use",
            fn=prepare_land_use,
            inputs={"geojson_path": Path("land_use.geojson")},
            outputs=["zones"],
            load_inputs=True,  # Auto-load Path → argument
        )
        # Outputs are synced to the coupler automatically
'''

BEAM = '''
def beam_preprocess(data_file, _consist_ctx) -> None:
    out_path = _consist_ctx.run_dir / "beam_inputs.parquet"
    # ... write out_path ...
    _consist_ctx.log_output(out_path, key="beam_inputs")

with use_tracker(tracker):
    with consist.scenario("baseline") as sc:
        sc.run(
            name="beam_preprocess",
            fn=beam_preprocess,
            inputs={"data_file": Path("data.parquet")},
            load_inputs=False,
            runtime_kwargs={"data_file": Path("data.parquet")},
            inject_context=True,
        )
'''

PIVOT_FACETS = '''
from sqlmodel import select
import consist

# Pivot config facets into columns
params = consist.pivot_facets(
    namespace="simulate",
    keys=["alpha", "beta", "mode"],
    value_columns={"mode": "value_str"},
)

rows = consist.run_query(
    select(params.c.run_id, params.c.alpha, params.c.beta, params.c.mode),
    tracker=tracker,
)

# Result: DataFrame with columns [run_id, alpha, beta, mode] for comparison
'''

FINDING_RUNS = '''
import consist

# Find a specific run
run = consist.find_run(
    tracker=tracker,
    parent_id="baseline",  # Scenario ID
    year=2030,
    model="simulate"
)

# Get multiple runs indexed by a field
runs_by_year = consist.find_runs(
    tracker=tracker,
    parent_id="baseline",
    model="simulate",
    index_by="year"
)
result_2030 = runs_by_year[2030]
'''

LOADING_ARTIFACTS = '''
# Get artifacts for a run
artifacts = tracker.get_artifacts_for_run(run.id)
persons_artifact = artifacts.outputs["persons"]

# Load the data
df = consist.load(persons_artifact)
'''

ALL_SNIPPETS = {
    name: value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str) and "\n" in value
}


# -- harness ------------------------------------------------------------------------------


class Counting:
    """A stand-in for a module or object that counts calls of chosen attributes."""

    def __init__(self, target: object, calls: list, *names: str) -> None:
        self._target, self._calls, self._names = target, calls, names

    def __getattr__(self, name: str):
        value = getattr(self._target, name)
        if name not in self._names:
            return value

        def counted(*args, **kwargs):
            self._calls.append(name)
            return value(*args, **kwargs)

        return counted


@pytest.fixture
def guide(in_tmp: Path):
    """A runner that executes a snippet from a real file (so its source is inspectable)."""
    Path("raw.csv").write_text("value,category\n0.1,a\n0.7,b\n0.9,a\n0.6,b\n0.95,c\n")
    counter = iter(range(1000))

    def run(code: str, **names):
        path = in_tmp / f"snippet_{next(counter)}.py"
        path.write_text(code)
        namespace = {
            "__name__": "guide_snippet",
            "consist": consist,
            "Tracker": Tracker,
            "use_tracker": use_tracker,
            "Path": Path,
            "pd": pd,
            "Artifact": Artifact,
            "tracker": Tracker(run_dir="./runs", db_path="./provenance.duckdb"),
        }
        namespace.update(names)
        exec(compile(code, str(path), "exec"), namespace)
        return namespace

    return run


def runs(name: str | None = None, kind: str | None = None) -> list[consist.Run]:
    found = Tracker(run_dir="./runs").records.iter_fresh()
    selected = [r for r in found if (name is None or r.name == name) and (kind is None or r.kind == kind)]
    return sorted(selected, key=lambda r: r.started_at)


def executed(name: str) -> int:
    """How many times step ``name`` executed (recorded runs that were not cache hits)."""
    return sum(1 for r in runs(name) if r.kind != "scenario" and not r.cache_hit)


def population() -> pd.DataFrame:
    return pd.DataFrame({"person_id": [1, 2, 3], "age": [30, 40, 50]})


def test_snippets_match_the_guide():
    """Every snippet tested here appears verbatim in the usage guide."""
    if not GUIDE.exists():
        pytest.skip(f"{GUIDE} is not available")
    text = GUIDE.read_text()
    for name, code in ALL_SNIPPETS.items():
        assert code.strip() in text, f"{name} drifted from the guide"


# -- Simple example: two-step workflow ------------------------------------------------------


def test_two_step_example_caches_each_step(guide):
    """The two-step scenario runs; re-running it executes nothing; every step records scenario 'my_analysis'."""
    guide(TWO_STEP)
    guide(TWO_STEP)
    assert (executed("preprocess"), executed("analyze")) == (1, 1)
    steps = runs(kind="step")
    assert len(steps) == 4 and {r.parent_id for r in steps} == {"my_analysis"}
    summary = consist.load(steps[-1].output_map["analysis"])
    assert isinstance(summary, pd.DataFrame) and sorted(summary["category"]) == ["a", "b", "c"]


def test_two_step_example_change_logic_and_change_raw(guide):
    """Changing preprocess logic re-runs it, and analyze only when its output changes; changing raw.csv re-runs both."""
    guide(TWO_STEP)
    same_output = TWO_STEP.replace('raw[raw["value"] > 0.5]', 'raw[raw["value"] > 0.5].copy()')
    guide(same_output)
    assert (executed("preprocess"), executed("analyze")) == (2, 1)
    new_output = TWO_STEP.replace('raw[raw["value"] > 0.5]', 'raw[raw["value"] > 0.65]')
    guide(new_output)
    assert (executed("preprocess"), executed("analyze")) == (3, 2)
    Path("raw.csv").write_text("value,category\n0.8,a\n0.9,b\n")
    guide(new_output)
    assert (executed("preprocess"), executed("analyze")) == (4, 3)


def test_two_step_trace_alternative_always_executes_and_hits(guide):
    """The sc.trace version executes its blocks every time, yet the re-run is recorded as cache hits."""
    reads: list[str] = []
    counting_pd = Counting(pd, reads, "read_csv")
    guide(TWO_STEP_TRACE, pd=counting_pd)
    guide(TWO_STEP_TRACE, pd=counting_pd)
    assert reads == ["read_csv", "read_csv"]
    assert [r.cache_hit for r in runs("preprocess")] == [False, True]
    assert [r.cache_hit for r in runs("analyze")] == [False, True]
    assert {r.kind for r in runs("analyze")} == {"trace"}


# -- Passing data with the coupler ----------------------------------------------------------


def test_coupler_example_years_reuse_and_record(guide):
    """The coupler example records each year under scenario 'baseline'; a re-run hits every step but re-executes the blocks."""
    calls: list[str] = []

    def load_population():
        calls.append("load_population")
        return population()

    def run_model(year, df_pop):
        calls.append(f"run_model {year}")
        return df_pop.assign(year=year)

    with warnings.catch_warnings():
        warnings.simplefilter("error", CouplerWarning)  # one step re-writing its own key is not a conflict
        for _ in range(2):
            guide(COUPLER, load_population=load_population, run_model=run_model)
    assert calls.count("load_population") == 2 and calls.count("run_model 2030") == 2
    simulate = runs("simulate")
    assert [r.year for r in simulate] == [2020, 2030, 2040] * 2
    assert [r.cache_hit for r in simulate] == [False] * 3 + [True] * 3
    assert {r.parent_id for r in simulate} == {"baseline"}
    assert [r.id for r in simulate[:3]] == ["baseline_2020", "baseline_2030", "baseline_2040"]
    assert all(r.input_map["population"].run_id == "baseline_init" for r in simulate)
    (scenario, rerun) = runs("baseline", kind="scenario")
    assert (scenario.id, scenario.model, rerun.id.startswith("baseline~")) == ("baseline", "travel_demand", True)


def test_sc_run_alternative_executes_each_year_once(guide):
    """With sc.run, simulate_year runs once per year; re-running, and adding a year, executes only what is new."""
    calls: list[str] = []

    def run_model(year, population):
        calls.append(year)
        return population.assign(year=year)

    stubs = {"load_population": population, "run_model": run_model}
    guide(SIMULATE_YEAR, **stubs)
    guide(SIMULATE_YEAR, **stubs)
    assert calls == [2020, 2030, 2040]
    guide(SIMULATE_YEAR.replace("[2020, 2030, 2040]", "[2020, 2030, 2040, 2050]"), **stubs)
    assert calls == [2020, 2030, 2040, 2050]
    persons = consist.load(runs("simulate_2050")[-1].output_map["persons"])
    assert list(persons["year"]) == [2050] * 3


# -- Output validation: patterns A, B, C ----------------------------------------------------


class CompileRunner:
    """Stands in for the user's asim_compile_runner: writes zarr skims and a population."""

    def __init__(self, calls: list, keys: tuple[str, ...] = ("zarr_skims", "synthetic_population")) -> None:
        self.calls, self.keys = calls, keys

    def run(self):
        import zarr

        self.calls.append("compile")
        skims = Path(f"skims_{len(self.calls)}.zarr")
        zarr.create_array(store=str(skims), shape=(3, 3), dtype="f4", overwrite=True)[:] = np.ones((3, 3))
        made = {"zarr_skims": skims, "synthetic_population": population()}
        return {self.keys[i]: value for i, value in enumerate(made.values()) if i < len(self.keys)}


def test_pattern_a_required_outputs_set_and_cached(guide):
    """Pattern A runs with no warning when the step sets the documented keys, and the compile step is cached."""
    calls: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", CouplerWarning)
        for _ in range(2):
            ns = guide(PATTERN_A, asim_compile_runner=CompileRunner(calls))
    assert calls == ["compile"]
    assert ns["compile_result"].cache_hit
    assert ns["sc"].coupler.missing_declared_outputs() == []
    assert runs("workflow", kind="scenario")[-1].status == "completed"


def test_pattern_a_typo_warns_and_fails_the_scenario(guide):
    """A step setting 'zar_skims' warns about the undocumented key; the scenario then fails for the missing one."""
    runner = CompileRunner([], keys=("zar_skims", "synthetic_population"))
    with pytest.warns(CouplerWarning, match="Setting undocumented coupler key 'zar_skims'.*'zarr_skims'"):
        with pytest.raises(consist.ScenarioOutputsMissingError, match=r"\['zarr_skims'\]"):
            guide(PATTERN_A, asim_compile_runner=runner)
    (scenario,) = runs("workflow", kind="scenario")
    assert scenario.status == "failed" and "zarr_skims" in scenario.error


@pytest.mark.parametrize("debugging", [False, True])
def test_pattern_b_runtime_declarations(guide, debugging):
    """Pattern B declares outputs as it goes; with both set, its own missing-output check passes."""
    ns = guide(PATTERN_B, asim_compile_runner=CompileRunner([]), debugging=debugging)
    assert ns["missing"] == []
    expected = {"zarr_skims": True, "synthetic_population": True}
    if debugging:
        expected["debug_report"] = False
    assert ns["sc"].coupler.declared_outputs == expected


def test_pattern_b_missing_output_is_caught_by_the_snippet(guide):
    """When the step does not produce a required key, the snippet's own check raises and the scenario is failed."""
    runner = CompileRunner([], keys=("zarr_skims",))
    with pytest.raises(RuntimeError, match=re.escape("Missing required outputs: ['synthetic_population']")):
        guide(PATTERN_B, asim_compile_runner=runner, debugging=False)
    assert runs("workflow", kind="scenario")[-1].status == "failed"


def test_pattern_c_typed_schema(guide):
    """Pattern C gives typed access to the skims artifact and loads it into the main step, which is cached."""
    calls: list[str] = []
    seen = []

    class Runner:
        def run(self, zarr_skims):
            calls.append("main")
            seen.append(zarr_skims.shape)

    for _ in range(2):
        ns = guide(PATTERN_C, asim_compile_runner=CompileRunner(calls), asim_runner=Runner())
    assert calls == ["compile", "main"]
    assert seen == [(3, 3)]
    assert isinstance(ns["skims_artifact"], Artifact) and ns["skims_artifact"].driver == "zarr"
    assert ns["typed"].synthetic_population.key == "synthetic_population"


def test_bulk_logging_with_metadata(guide):
    """log_artifacts records shared metadata on every file and per-key metadata on the named ones."""
    Path("results").mkdir()
    for key in ("persons", "households", "jobs"):
        population().to_parquet(f"results/{key}.parquet")
    with use_tracker(Tracker(run_dir="./runs", db_path="./provenance.duckdb")):
        ns = guide(BULK_LOGGING)
    outputs = ns["outputs"]
    assert outputs["persons"].meta == {"year": 2030, "scenario_name": "base"}
    assert outputs["households"].meta == {"year": 2030, "scenario_name": "base", "role": "primary_unit"}
    assert outputs["jobs"].meta["role"] == "employment_proxy"
    (scenario,) = runs("outputs", kind="scenario")
    assert {a.key for a in scenario.outputs} == {"persons", "households", "jobs"}


# -- Parameter sweep ------------------------------------------------------------------------


def test_sweep_as_written_names_the_missing_key_and_its_close_match(guide):
    """As written, the sweep reads 'shared_data', which setup never logs: a clear error suggests 'data'."""
    population().assign(value=[0.2, 0.4, 0.8]).to_csv("data.csv", index=False)
    with pytest.raises(CouplerKeyError, match=r"'shared_data'.*available keys: 'data'.*Did you mean 'data'\?"):
        guide(SWEEP)
    assert runs("sensitivity_analysis", kind="scenario")[0].status == "failed"


def test_sweep_with_the_key_fixed_gives_each_threshold_its_own_entry(guide):
    """Each threshold is a separate run and cache entry with a threshold facet; a re-run hits all of them."""
    population().assign(value=[0.2, 0.4, 0.8]).to_csv("data.csv", index=False)
    fixed = SWEEP.replace('inputs=["shared_data"]', 'inputs=["data"]').replace(
        'coupler.require("shared_data")', 'coupler.require("data")'
    )
    guide(fixed)
    guide(fixed)
    analyze = runs("analyze")
    assert len({r.signature for r in analyze}) == 3
    assert [r.facets["threshold"] for r in analyze] == [0.3, 0.5, 0.7] * 2
    assert [r.cache_hit for r in analyze] == [False] * 3 + [True] * 3
    assert [r.cache_hit for r in runs("setup")] == [False, True]
    assert [len(consist.load(r.output_map["filtered"])) for r in analyze[:3]] == [2, 1, 1]


# -- Advanced: hydration option and mixing runs with scenarios ------------------------------


def test_hydration_fragment_needs_population_then_passes_the_option(guide):
    """As written the fragment has no 'population' in its new scenario; once produced, steps get the hydration option."""
    with pytest.raises(CouplerKeyError, match="no key 'population'; available keys: none yet"):
        guide(HYDRATION)
    seeded = HYDRATION.replace(
        "        coupler = sc.coupler\n",
        "        coupler = sc.coupler\n"
        "        with sc.trace(name=\"initialize\"):\n"
        "            consist.log_dataframe(load_population(), key=\"population\")\n",
    )
    guide(seeded, load_population=population)
    (simulate,) = runs("simulate")
    assert simulate.status == "completed" and "population" in simulate.input_map
    assert runs("baseline", kind="scenario")[-1].meta["step_cache_hydration"] == "inputs-missing"


def test_mixing_runs_and_scenarios(guide):
    """consist.run inside a scenario caches on its own, records the scenario as parent, and feeds the coupler via update."""
    Path("network.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    calls: list[Path] = []

    def expensive_preprocessing(network_file):
        calls.append(network_file)
        return pd.DataFrame({"link": [1, 2]})

    for _ in range(2):
        ns = guide(MIXING, expensive_preprocessing=expensive_preprocessing)
    assert len(calls) == 1 and isinstance(calls[0], Path)
    assert ns["preprocess"].cache_hit and ns["preprocess"].run.parent_id == "baseline"
    assert list(ns["network"]["link"]) == [1, 2]
    assert [r.cache_hit for r in runs("simulate")] == [False, True]


# -- When does code execute? ----------------------------------------------------------------


def test_when_trace_block_always_runs(guide, capsys):
    """The traced land-use block prints and loads zones on every run; the second is recorded as a cache hit."""
    Path("land_use.geojson").write_text("{}")
    calls: list[str] = []

    def load_zones(path):
        calls.append(path)
        return [{"zone": 1, "area": 2.0}, {"zone": 2, "area": 3.5}]

    for _ in range(2):
        guide(WHEN_TRACE, load_zones=load_zones, year=2030)
    assert calls == ["land_use.geojson"] * 2
    assert capsys.readouterr().out.count("Processing land use for year 2030") == 2
    (first, second) = runs("prepare_land_use")
    assert (first.cache_hit, second.cache_hit, second.year) == (False, True, 2030)


def test_when_run_function_skips_on_hit(guide, capsys):
    """The sc.run land-use function runs (and prints) only on the first run; its zones reach the coupler both times."""
    Path("land_use.geojson").write_text("{}")
    calls: list[object] = []

    def load_zones(path):
        calls.append(path)
        return [{"zone": 1, "area": 2.0}]

    for _ in range(2):
        ns = guide(WHEN_RUN, load_zones=load_zones)
        assert "zones" in ns["sc"].coupler
    assert len(calls) == 1 and isinstance(calls[0], Path)
    assert capsys.readouterr().out.count("Processing land use") == 1
    assert ns["result"].cache_hit


def test_beam_preprocess_placeholder_and_filled(guide):
    """As written nothing writes beam_inputs (a clear error names it); with the placeholder filled it runs once."""
    population().to_parquet("data.parquet")
    with pytest.raises(consist.InputNotFoundError, match="cannot log 'beam_inputs'"):
        guide(BEAM)
    filled = BEAM.replace("    # ... write out_path ...\n", "    pd.read_parquet(data_file).to_parquet(out_path)\n")
    guide(filled)
    guide(filled)
    assert executed("beam_preprocess") == 2  # the failed attempt, then one success
    assert [r.status for r in runs("beam_preprocess")] == ["failed", "completed", "completed"]
    assert runs("beam_preprocess")[-1].cache_hit


# -- querying what scenarios recorded (the guide's facet pivot and run lookups) ------------


def test_trace_metadata_is_queryable_with_the_guide_pivot(guide):
    """Metadata given to sc.trace becomes facets that the guide's pivot_facets query returns per run."""
    variants = [(0.1, 2.0, "car"), (0.2, 3.0, "bus")]
    with use_tracker(Tracker(run_dir="./runs", db_path="./provenance.duckdb")) as tracker:
        with consist.scenario("grid") as sc:
            for alpha, beta, mode in variants:
                with sc.trace(name="simulate", alpha=alpha, beta=beta, mode=mode):
                    consist.log_dataframe(population().assign(alpha=alpha), key="persons")
    ns = guide(PIVOT_FACETS, tracker=tracker)
    rows = ns["rows"]
    got = sorted(zip(rows["alpha"], rows["beta"], rows["mode"]))
    assert got == sorted(variants)
    assert set(rows["run_id"]) == {r.id for r in runs("simulate")}


def test_guide_run_lookups_find_scenario_steps_by_scenario_name(guide):
    """find_run/find_runs with parent_id='baseline' find the coupler example's steps; their artifacts load."""
    stubs = {"load_population": population, "run_model": lambda year, df: df.assign(year=year)}
    for _ in range(2):
        guide(COUPLER, **stubs)
    ns = guide(FINDING_RUNS + LOADING_ARTIFACTS)
    assert ns["run"].year == 2030 and ns["run"].parent_id == "baseline"
    assert sorted(ns["runs_by_year"]) == [2020, 2030, 2040]
    assert ns["result_2030"].id == ns["run"].id
    assert list(ns["df"]["year"]) == [2030] * 3
