"""Scale: a modeller's catalog of 400 to 100,000 step runs, each query measured in a fresh process.

Builds (once, reused when present) a catalog of S scenarios x Y years x 10 iterations
completed step runs of one tiny step (``--runs`` 400, 2,000, 10,000 or 100,000), each
logging a ``--rows``-row ``persons`` Parquet output (default 20; ``consist.run`` with the
scenario as ``parent_id``, ``durability="none"`` while building), with a ``Person``
schema class registered for views, and the same rows as ONE Parquet file
(``one.parquet``). Then, each in a new Python process with duckdb, polars and pyarrow
already imported (``import consist`` shown separately), measures:

- ``floor``: plain DuckDB over the one file, the guide's grouped query: first and repeat;
- ``views``: the same query through ``consist.run_query`` over ``tracker.views.Person``:
  first (in a fresh process), repeat (median of 7), peak RSS, and whether pandas was
  imported; then prints both as ratios to the floor;
- ``query``: first, second, after one more run lands, again;
- ``scan``: ``tracker.scan("persons", scenario=, year=)`` build and collect, and of all runs;
- ``find``: ``find_runs`` with filters and ``pivot_facets``;
- ``flush``: ``tracker.views.flush()``; ``cli``: ``consist runs`` (whole process).

The very first view query over a new catalog folds the small files into one Parquet
file (see ``consist.views.folds``); delete ``runs/.consist/folds`` to measure that again.

Run: ``python benchmarks/bench_scale.py --runs 10000 [--only floor views] [--rebuild]``
(folders under ``/root/btmp/scale/<runs>`` unless ``--root``). Put the folder where
nothing was deleted lately.
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


def build(root: Path, scenarios: int, years: int, iterations: int, rows: int) -> float:
    """Write the catalog through the public API, and the same rows as ONE Parquet file
    (``one.parquet``, the plain-DuckDB floor); returns the seconds the catalog took.

    The builder uses ``durability="none"`` (nothing is fsynced: a benchmark set-up)."""
    code = PERSON + textwrap.dedent(f"""
    import time, polars as pl, consist
    from consist import Tracker

    def simulate(seed: int) -> pl.DataFrame:
        return pl.DataFrame({{"person_id": list(range({rows})), "age": [(seed + k) % 90 for k in range({rows})],
                             "number_of_trips": [(seed + k) % 8 for k in range({rows})]}})

    tracker = Tracker(run_dir={str(root / "runs")!r}, db_path={str(root / "provenance.duckdb")!r}, schemas=[Person],
                      durability="none")
    frames = []
    t0 = time.perf_counter()
    with consist.use_tracker(tracker):
        n = 0
        for s in range({scenarios}):
            for y in range({years}):
                for i in range({iterations}):
                    consist.run(fn=simulate, name="simulate", config={{"seed": n}}, outputs=["persons"],
                                parent_id=f"scenario_{{s:02d}}", year=2000 + y, iteration=i,
                                facet={{"policy": s % 4, "growth": 0.5 + y / 100}})
                    frames.append(simulate(n).with_columns(consist_scenario_id=pl.lit(f"scenario_{{s:02d}}"),
                                                           consist_year=pl.lit(2000 + y, pl.Int64)))
                    n += 1
    print(time.perf_counter() - t0)
    pl.concat(frames).write_parquet({str(root / "one.parquet")!r})
    """)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


PRELUDE = PERSON + """
import resource, statistics, time
import duckdb, polars as pl, pyarrow  # the issue's fresh process: these are already imported
t0 = time.perf_counter()
import consist
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
def repeat(label, fn, n=7):
    times = []
    for _ in range(n):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    FIG[label] = statistics.median(times)
def rss():
    FIG['peak RSS (GiB)'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
FIG = {"import consist": T_IMPORT}
"""

FLOOR_SQL = ("SELECT consist_scenario_id, consist_year, avg(number_of_trips) AS avg_trips "
             "FROM read_parquet(ONE) GROUP BY consist_scenario_id, consist_year")

CASES = {
    "floor": """
con = duckdb.connect()
sql = FLOOR_SQL.replace("ONE", repr(ONE))
lap('floor: first query, one Parquet file', lambda: con.execute(sql).fetchall())
repeat('floor: repeat query, one Parquet file', lambda: con.execute(sql).fetchall())
""",
    "views": """
t = tracker()
df = lap('first run_query over the view', lambda: consist.run_query(guide(t), tracker=t))
assert df.height == SCENARIOS * YEARS, df
repeat('repeat run_query', lambda: consist.run_query(guide(t), tracker=t))
FIG['pandas imported'] = 'pandas' in sys.modules
rss()
""",
    "tracker": "t = lap('Tracker(...)', tracker)",
    "query": """
t = tracker()
df = lap('first run_query over the view', lambda: consist.run_query(guide(t), tracker=t))
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
lf = lap('scan(persons, scenario=, year=) build', lambda: t.scan("persons", scenario="scenario_03", year=2001))
df = lap('  collect', lf.collect)
assert df.height == ITERATIONS * ROWS, df.height
lf = lap('second scan build', lambda: t.scan("persons", scenario="scenario_02", year=2002))
lf = lap('scan(persons) of all runs build', lambda: t.scan("persons"))
df = lap('  collect all', lf.collect)
rss()
""",
    "find": """
t = tracker()
runs = lap('find_runs(parent_id=, year=)', lambda: consist.find_runs(tracker=t, parent_id="scenario_01", year=2001))
assert len(runs) == ITERATIONS, len(runs)
lap('find_runs again', lambda: consist.find_runs(tracker=t, parent_id="scenario_02", year=2002))
def pivot():
    p = consist.pivot_facets(namespace="simulate", keys=["policy", "growth", "seed"], tracker=t)
    return consist.run_query(select(p.c.run_id, p.c.policy, p.c.growth, p.c.seed), tracker=t)
piv = lap('pivot_facets(3 keys) + run_query', pivot)
assert piv.height == SCENARIOS * YEARS * ITERATIONS, piv.height
piv = lap('pivot_facets again', pivot)
""",
    "flush": """
t = tracker()
consist.run_query(guide(t), tracker=t)
t.views.flush()  # drain whatever the first query scheduled
lap('views.flush() after a query', t.views.flush)
""",
}


def measure(root: Path, case: str, shape: tuple[int, int, int, int]) -> dict[str, float]:
    scenarios, years, iterations, rows = shape
    code = (f"import sys\nRUNS = {str(root / 'runs')!r}\nDB = {str(root / 'provenance.duckdb')!r}\n"
            f"ONE = {str(root / 'one.parquet')!r}\nSCENARIOS, YEARS, ITERATIONS, ROWS = {shape}\n"
            f"FLOOR_SQL = {FLOOR_SQL!r}\n")  # fmt: skip
    code += PRELUDE + CASES[case] + "\nimport json; print('FIG=' + json.dumps(FIG))"
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("FIG=")][-1]
    return json.loads(line[4:])


PRESETS = {400: (4, 10, 10), 2_000: (10, 20, 10), 10_000: (20, 50, 10), 100_000: (100, 100, 10)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=None, help="default: /root/btmp/scale/<runs>")
    parser.add_argument("--runs", type=int, choices=sorted(PRESETS), default=10_000,
                        help="catalog size: scenarios x years x 10 iterations")  # fmt: skip
    parser.add_argument("--rows", type=int, default=20, help="rows of each run's table")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--only", nargs="*", default=["floor", "views", *CASES] + ["cli"])
    args = parser.parse_args()
    scenarios, years, iterations = PRESETS[args.runs]
    root = args.root or Path(f"/root/btmp/scale/{args.runs}")
    shape = (scenarios, years, iterations, args.rows)
    if args.rebuild and root.exists():
        shutil.rmtree(root)
    if not (root / "one.parquet").exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        seconds = build(root, scenarios, years, iterations, args.rows)
        print(f"built {args.runs:,} runs in {seconds:.1f} s ({seconds / args.runs * 1e3:.2f} ms per run)")
    figures: dict[str, float] = {}
    for case in dict.fromkeys(args.only):
        if case == "cli":
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "consist", "--run-dir", str(root / "runs"), "runs"],
                           check=True, capture_output=True)  # fmt: skip
            print(f"{'consist runs (first page, whole process)':45s} {time.perf_counter() - t0:8.3f} s")
            continue
        for label, value in measure(root, case, shape).items():
            figures.setdefault(label, value)
            print(f"{case + ': ' + label:55s} {value:8.3f}" + ("" if "RSS" in label or "pandas" in label else " s"))
    first, again = figures.get("first run_query over the view"), figures.get("repeat run_query")
    floor_first, floor_again = figures.get("floor: first query, one Parquet file"), figures.get(
        "floor: repeat query, one Parquet file")
    if first and again and floor_first and floor_again:
        print(f"\n{args.runs:,} runs x {args.rows} rows, the guide's grouped query in a fresh process:")
        print(f"  first  {first * 1e3:8.1f} ms = {first / floor_first:6.1f}x the one-file floor ({floor_first * 1e3:.1f} ms)")
        print(f"  repeat {again * 1e3:8.1f} ms = {again / floor_again:6.1f}x the one-file floor ({floor_again * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
