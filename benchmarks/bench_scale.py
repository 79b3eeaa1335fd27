"""Scale: a modeller's catalog of 10,000 step runs, each query measured in a fresh process.

Builds (once, reused when present) a catalog of S scenarios x Y years x I iterations
(default 20 x 50 x 10 = 10,000) completed step runs of one tiny step, each logging a
small ``persons`` Parquet output (``consist.run`` with the scenario as ``parent_id``), with
a ``Person`` schema class registered for views. Then, each in a new Python process
(imports excluded, shown separately), measures:

- ``Tracker(...)`` creation;
- the first ``consist.run_query`` over ``tracker.views.Person`` (builds the provenance
  folders and reads the file schemas), a second identical query, and a query after one
  more run lands;
- ``tracker.scan("persons", scenario=, year=)``: building the frame, and collecting it;
- ``find_runs`` with filters (``parent_id=``, ``year=``) and ``pivot_facets``;
- ``consist runs`` (the CLI's first page), as a subprocess, wall time;
- ``tracker.views.flush()`` (the schema-view snapshot written into the catalog file).

Run: ``python benchmarks/bench_scale.py [--root DIR] [--scenarios 20] [--years 50]
[--iterations 10] [--rebuild]``. Put ``--root`` where nothing was deleted lately.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

PERSON = """
from sqlmodel import Field, SQLModel

class Person(SQLModel, table=True):
    person_id: int = Field(primary_key=True)
    age: int
    number_of_trips: int
"""


def build(root: Path, scenarios: int, years: int, iterations: int) -> float:
    """Write the catalog; returns the seconds it took."""
    code = PERSON + textwrap.dedent(f"""
    import time, polars as pl, consist
    from consist import Tracker

    def simulate(seed: int) -> pl.DataFrame:
        return pl.DataFrame({{"person_id": [1, 2, 3], "age": [seed % 90, 30, 40], "number_of_trips": [seed % 8, 1, 2]}})

    tracker = Tracker(run_dir={str(root / "runs")!r}, db_path={str(root / "provenance.duckdb")!r}, schemas=[Person])
    t0 = time.perf_counter()
    with consist.use_tracker(tracker):
        n = 0
        for s in range({scenarios}):
            for y in range({years}):
                for i in range({iterations}):
                    consist.run(fn=simulate, name="simulate", config={{"seed": n}}, outputs=["persons"],
                                parent_id=f"scenario_{{s:02d}}", year=2000 + y, iteration=i,
                                facet={{"policy": s % 4, "growth": 0.5 + y / 100}})
                    n += 1
    print(time.perf_counter() - t0)
    """)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


PRELUDE = PERSON + """
import time
t0 = time.perf_counter()
import polars as pl, consist
from consist import Tracker
from sqlmodel import func, select
T_IMPORT = time.perf_counter() - t0
def tracker():
    return Tracker(run_dir=RUNS, db_path=DB, schemas=[Person])
def guide(t):
    V = t.views.Person
    return (select(V.consist_scenario_id, V.consist_year, func.avg(V.number_of_trips).label("avg_trips"))
            .group_by(V.consist_scenario_id, V.consist_year))
def lap(label, fn):
    t0 = time.perf_counter(); value = fn(); FIG[label] = time.perf_counter() - t0; return value
FIG = {"import": T_IMPORT}
"""

CASES = {
    "tracker": "t = lap('Tracker(...)', tracker)",
    "query": """
t = tracker()
df = lap('first run_query over the view', lambda: consist.run_query(guide(t), tracker=t))
assert df.height > 0, df
lap('second identical run_query', lambda: consist.run_query(guide(t), tracker=t))
def one_more():
    return t.run(fn=lambda seed: pl.DataFrame({"person_id": [1], "age": [1], "number_of_trips": [seed]}),
                 name="extra", config={"seed": time.time_ns()}, outputs=["persons"], parent_id="scenario_00",
                 year=2000)
lap('one more run (cold)', one_more)
lap('run_query after one more run', lambda: consist.run_query(guide(t), tracker=t))
lap('third identical run_query', lambda: consist.run_query(guide(t), tracker=t))
""",
    "scan": """
t = tracker()
lf = lap('scan(persons, scenario=, year=) build', lambda: t.scan("persons", scenario="scenario_03", year=2010))
df = lap('  collect', lf.collect)
assert df.height == 30, df.height
lf = lap('second scan build', lambda: t.scan("persons", scenario="scenario_04", year=2011))
lf = lap('scan(persons) of all 10,000 build', lambda: t.scan("persons"))
df = lap('  collect all', lf.collect)
""",
    "find": """
t = tracker()
runs = lap('find_runs(parent_id=, year=)', lambda: consist.find_runs(tracker=t, parent_id="scenario_05", year=2020))
assert len(runs) == 10, len(runs)
lap('find_runs again', lambda: consist.find_runs(tracker=t, parent_id="scenario_06", year=2021))
lap('find_runs(model=, index_by=year) 500 runs', lambda: consist.find_runs(tracker=t, parent_id="scenario_07", iteration=3, index_by="year"))
def pivot():
    p = consist.pivot_facets(namespace="simulate", keys=["policy", "growth", "seed"], tracker=t)
    return consist.run_query(select(p.c.run_id, p.c.policy, p.c.growth, p.c.seed), tracker=t)
piv = lap('pivot_facets(3 keys) + run_query', pivot)
assert piv.height == 10000, piv.height
piv = lap('pivot_facets again', pivot)
""",
    "flush": """
t = tracker()
consist.run_query(guide(t), tracker=t)
t.views.flush()  # drain whatever the first query scheduled
lap('views.flush() after a query', t.views.flush)
""",
}


def measure(root: Path, case: str) -> dict[str, float]:
    code = f"RUNS = {str(root / 'runs')!r}\nDB = {str(root / 'provenance.duckdb')!r}\n" + PRELUDE + CASES[case]
    code += "\nimport json; print('FIG=' + json.dumps(FIG))"
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("FIG=")][-1]
    return json.loads(line[4:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path("/root/btmp/qa4/scale"))
    parser.add_argument("--scenarios", type=int, default=20)
    parser.add_argument("--years", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--only", nargs="*", default=list(CASES) + ["cli"])
    args = parser.parse_args()
    n = args.scenarios * args.years * args.iterations
    if args.rebuild and args.root.exists():
        shutil.rmtree(args.root)
    if not (args.root / "runs").exists():
        args.root.mkdir(parents=True, exist_ok=True)
        seconds = build(args.root, args.scenarios, args.years, args.iterations)
        print(f"built {n:,} runs in {seconds:.1f} s ({seconds / n * 1e3:.2f} ms per run)")
    for case in args.only:
        if case == "cli":
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "consist", "--run-dir", str(args.root / "runs"), "runs"],
                           check=True, capture_output=True)  # fmt: skip
            print(f"{'consist runs (first page, whole process)':45s} {time.perf_counter() - t0:8.3f} s")
            continue
        for label, seconds in measure(args.root, case).items():
            print(f"{label:45s} {seconds:8.3f} s")


if __name__ == "__main__":
    main()
