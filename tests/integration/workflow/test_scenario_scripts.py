"""Multi-year scenarios run as scripts: fresh-process re-runs, one changed year, and the year= label."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import consist
from consist.errors import ConfigError

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    import pandas as pd
    import consist
    from consist import Tracker, use_tracker

    RATES = json.loads(os.environ.get("RATES", "{}"))
    LOG = Path("calls.log")

    def log(name):
        with LOG.open("a") as fh:
            fh.write(name + "\\n")

    def base(raw: pd.DataFrame) -> pd.DataFrame:
        log("base")
        return raw

    def grow(pop: pd.DataFrame, year: int, rate: float) -> pd.DataFrame:
        log(f"grow{year}")
        out = pop.copy()
        out["value"] = out["value"] * (1 + rate)
        return out

    def summarize(pop: pd.DataFrame) -> pd.DataFrame:
        log(f"sum{int(pop['value'].sum() * 1000)}")
        return pop.groupby("category", as_index=False)["value"].sum()

    tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    mode = sys.argv[1]
    with use_tracker(tracker):
        if mode == "one":
            with consist.scenario("multi") as sc:
                sc.run(name="base", fn=base, inputs={"raw": Path("raw.csv")}, outputs=["pop"])
                for year in (2020, 2030, 2040):
                    sc.run(name="grow", fn=grow, inputs=["pop"], load_inputs=True, year=year,
                           config={"year": year, "rate": RATES.get(str(year), 0.1)}, outputs=["pop"])
                    sc.run(name="summarize", fn=summarize, inputs=["pop"], load_inputs=True, year=year,
                           outputs=["summary"])
        else:
            previous = None
            for year in (2020, 2030, 2040):
                with consist.scenario(f"y{year}") as sc:
                    if previous is None:
                        sc.run(name="base", fn=base, inputs={"raw": Path("raw.csv")}, outputs=["pop"])
                    else:
                        sc.coupler.set("pop", previous)
                    result = sc.run(name="grow", fn=grow, inputs=["pop"], load_inputs=True, year=year,
                                    config={"year": year, "rate": RATES.get(str(year), 0.1)}, outputs=["pop"])
                    previous = result.outputs["pop"]
                    sc.run(name="summarize", fn=summarize, inputs=["pop"], load_inputs=True, year=year,
                           outputs=["summary"])
    """
)


def run_script(folder: Path, mode: str, rates: str = "{}") -> list[str]:
    log = folder / "calls.log"
    log.unlink(missing_ok=True)
    # This checkout's consist, whichever one is installed.
    root = str(Path(consist.__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "RATES": rates, "PYTHONPATH": path}
    subprocess.run([sys.executable, "script.py", mode], cwd=folder, env=env, check=True, capture_output=True)
    return [line for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize("mode", ["one", "per_year"])
def test_multi_year_script_rerun_in_a_fresh_process_executes_only_the_changed_year_and_downstream(tmp_path, mode):
    """A second process executes nothing; changing 2030's rate re-executes grow 2030 and everything after it only."""
    (tmp_path / "script.py").write_text(SCRIPT)
    pd.DataFrame({"category": list("abab"), "value": [1.0, 2.0, 3.0, 4.0]}).to_csv(tmp_path / "raw.csv", index=False)
    first = run_script(tmp_path, mode)
    assert [c for c in first if not c.startswith("sum")] == ["base", "grow2020", "grow2030", "grow2040"]
    assert len([c for c in first if c.startswith("sum")]) == 3
    assert run_script(tmp_path, mode) == []
    changed = run_script(tmp_path, mode, '{"2030": 0.2}')
    assert [c for c in changed if not c.startswith("sum")] == ["grow2030", "grow2040"]
    assert len([c for c in changed if c.startswith("sum")]) == 2
    assert run_script(tmp_path, mode, '{"2030": 0.2}') == []
    assert run_script(tmp_path, mode) == []  # back to the first rates: every year is still cached


def test_a_function_reading_year_gets_a_hint_that_year_only_labels_the_run(tracker):
    """sc.run(year=...) with a function needing `year` fails before running and says to pass it in config."""
    calls: list[int] = []

    def simulate(year: int) -> pd.DataFrame:
        calls.append(year)
        return pd.DataFrame({"year": [year]})

    with consist.use_tracker(tracker), consist.scenario("years") as sc:
        with pytest.raises(ConfigError, match=r"year= option only labels the record.*config=\{'year'"):
            sc.run(name="simulate", fn=simulate, year=2030, outputs=["out"])
        result = sc.run(name="simulate", fn=simulate, year=2030, config={"year": 2030}, outputs=["out"])
    assert calls == [2030] and result.run.year == 2030


def test_a_misspelt_coupler_key_in_a_mapping_input_names_the_close_key(tracker):
    """inputs={"pop": "populaton"} fails before running with the coupler's close match, in sc.run and sc.trace."""
    calls: list[str] = []

    def use(pop: pd.DataFrame) -> pd.DataFrame:
        calls.append("use")
        return pop

    with consist.use_tracker(tracker), consist.scenario("typo") as sc:
        sc.run(name="make", fn=lambda: pd.DataFrame({"v": [1]}), outputs=["population"])
        with pytest.raises(consist.CouplerKeyError, match="Did you mean 'population'"):
            sc.run(name="use", fn=use, inputs={"pop": "populaton"}, load_inputs=True, outputs=["out"])
        with pytest.raises(consist.CouplerKeyError, match="Did you mean 'population'"):
            with sc.trace(name="check", inputs={"pop": "populaton"}):
                calls.append("trace")
        sc.run(name="use", fn=use, inputs={"pop": "population"}, load_inputs=True, outputs=["out"])
    assert calls == ["use"]
