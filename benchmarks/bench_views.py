"""Cross-run views and scans against plain DuckDB over the same files.

Builds a catalog of R runs (default 100) in two scenarios (``baseline``, ``high_gas``),
each writing a ``persons`` table of N rows (default 50,000: person_id, age,
number_of_trips) through ``tracker.run``, then measures in this one process,
interleaved, the guide's grouped average (average trips by scenario and year for both
scenarios, i.e. over every file):

- baseline: plain DuckDB over ``read_parquet`` of a glob of the same files, grouped by
  file (one group per run, the same work as grouping by scenario and year), on a
  connection with DuckDB's default settings (the issue's "plain DuckDB query"); and the
  same on a connection with the Parquet metadata cache consist's own connection turns on
  (a stricter baseline);
- ``consist.run_query`` of the guide's SQLAlchemy select over ``tracker.views.Person``
  (including the freshness check it makes before every query);
- ``tracker.scan("persons", scenario=[...])`` grouped in Polars (including building the
  frame from the catalog), and, for reference, plain Polars over the same list of files
  grouped per file.

Then: the files a query filtered to one scenario and year reads (DuckDB's own count,
from ``EXPLAIN ANALYZE``; and the scans in the Polars plan), and the peak memory of the
scan's grouped average, measured in a fresh process, against the size of the data.

Run: ``python benchmarks/bench_views.py [--runs 100] [--rows 50000] [--repeats 15]``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from sqlmodel import Field, SQLModel, func, select

import consist
from consist import Tracker


class Person(SQLModel, table=True):
    person_id: int = Field(primary_key=True)
    age: int
    number_of_trips: int


def simulate(seed: int, rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "person_id": np.arange(rows, dtype=np.int64),
            "age": rng.integers(0, 90, rows),
            "number_of_trips": rng.integers(0, 8, rows),
        }
    )


def build(root: Path, runs: int, rows: int) -> Tracker:
    tracker = Tracker(run_dir=root / "runs", db_path=root / "provenance.duckdb", schemas=[Person])
    with consist.use_tracker(tracker):
        for i in range(runs):
            scenario = ("baseline", "high_gas")[i % 2]
            consist.run(fn=simulate, name="simulate", config={"seed": i, "rows": rows}, outputs=["persons"],
                        parent_id=scenario, year=2020 + i // 2)  # fmt: skip
    return tracker


def guide_query(tracker: Tracker) -> object:
    VPerson = tracker.views.Person
    return (
        select(
            VPerson.consist_scenario_id,
            VPerson.consist_year,
            func.avg(VPerson.number_of_trips).label("avg_trips"),
        )
        .where(VPerson.consist_scenario_id.in_(["baseline", "high_gas"]))
        .group_by(VPerson.consist_scenario_id, VPerson.consist_year)
    )


def timed(fn: object, repeats: int, results: dict[str, list[float]], name: str) -> object:
    start = time.perf_counter()
    out = fn()  # type: ignore[operator]
    results.setdefault(name, []).append(time.perf_counter() - start)
    return out


def files_read(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    plan = con.execute("EXPLAIN ANALYZE " + sql).fetchall()[0][1]
    return sum(int(n) for n in re.findall(r"Total Files Read: (\d+)", plan))


MEMORY_CHILD = textwrap.dedent(
    """
    import sys
    import polars as pl
    from consist import Tracker

    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1])

    tracker = Tracker(run_dir=sys.argv[1], db_path=sys.argv[2])
    tracker.scan("persons").head(1).collect()  # imports and catalog connection, outside the measurement
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak (VmHWM) to the current RSS
    before = status("VmRSS:")
    lf = tracker.scan("persons", scenario=["baseline", "high_gas"])
    out = lf.group_by("consist_scenario_id", "consist_year").agg(pl.col("number_of_trips").mean()).collect(
        engine=sys.argv[3])
    print(before, status("VmHWM:"), out.height)
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    root = args.dir or Path(tempfile.mkdtemp(prefix="bench_views_"))
    start = time.perf_counter()
    tracker = build(root, args.runs, args.rows)
    print(f"built {args.runs} runs x {args.rows:,} rows in {time.perf_counter() - start:.1f} s under {root}")
    glob = str(tracker.run_dir / "*" / "persons.parquet")
    files = sorted(tracker.run_dir.glob("*/persons.parquet"))
    disk = sum(f.stat().st_size for f in files)

    default = duckdb.connect()  # DuckDB as a user would open it
    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true")  # as consist's own connection does
    plain_sql = (
        f"SELECT filename, avg(number_of_trips) AS avg_trips FROM read_parquet('{glob}', filename = true) "
        "GROUP BY filename"
    )
    query = guide_query(tracker)

    def plain() -> object:
        return con.execute(plain_sql).fetchall()

    def plain_default() -> object:
        return default.execute(plain_sql).fetchall()

    file_list = [str(f) for f in files]

    def plain_polars() -> object:
        lf = pl.scan_parquet(file_list, include_file_paths="file")
        return lf.group_by("file").agg(pl.col("number_of_trips").mean()).collect()

    def view() -> object:
        return consist.run_query(query, tracker=tracker)

    def scan() -> object:
        lf = tracker.scan("persons", scenario=["baseline", "high_gas"])
        return lf.group_by("consist_scenario_id", "consist_year").agg(pl.col("number_of_trips").mean()).collect()

    # Warm-up: first view build, footers into the schema store, links, OS page cache.
    builds_before = tracker.views.builds
    assert len(plain()) == args.runs
    start = time.perf_counter()
    assert view().height == args.runs
    first_view = time.perf_counter() - start
    start = time.perf_counter()
    assert scan().height == args.runs
    first_scan = time.perf_counter() - start
    first_build = tracker.views.builds - builds_before
    results: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        timed(plain_default, args.repeats, results, "plain_default")
        timed(plain, args.repeats, results, "plain")
        timed(plain_polars, args.repeats, results, "plain_polars")
        timed(view, args.repeats, results, "view")
        timed(scan, args.repeats, results, "scan")
    rebuilds = tracker.views.builds - builds_before - first_build

    med = {k: statistics.median(v) * 1e3 for k, v in results.items()}

    def paired(name: str, base: str) -> float:
        """Median of the per-round ratios: each round runs both within milliseconds, so load drift cancels."""
        return statistics.median(a / b for a, b in zip(results[name], results[base]))

    best = {k: min(v) * 1e3 for k, v in results.items()}
    print(f"\nthe guide's grouped average over {args.runs} files ({args.runs * args.rows:,} rows, {disk / 1e6:.1f} MB "
          f"on disk), {args.repeats} interleaved repeats:")  # fmt: skip
    print(f"  plain DuckDB read_parquet glob, default settings : {med['plain_default']:7.1f} ms median, "
          f"{best['plain_default']:7.1f} ms best")  # fmt: skip
    print(f"  the same with the Parquet metadata cache on      : {med['plain']:7.1f} ms median, {best['plain']:7.1f} ms best")
    for name, label in (("view", "tracker.views + run_query"), ("scan", "tracker.scan + Polars")):
        print(f"  {label:49}: {med[name]:7.1f} ms median, {best[name]:7.1f} ms best\n"
              f"    vs default DuckDB {med[name] / med['plain_default']:.2f}x median / "
              f"{best[name] / best['plain_default']:.2f}x best; vs metadata-cached DuckDB "
              f"{med[name] / med['plain']:.2f}x / {best[name] / best['plain']:.2f}x  (target <= 1.2x)\n"
              f"    paired (median of per-round ratios): {paired(name, 'plain_default'):.2f}x default, "
              f"{paired(name, 'plain'):.2f}x metadata-cached")  # fmt: skip
    print(f"  plain Polars scan_parquet list   : {med['plain_polars']:7.1f} ms median, {best['plain_polars']:7.1f} ms best"
          f"  (grouped per file; tracker.scan / this: {med['scan'] / med['plain_polars']:.2f}x median)")  # fmt: skip
    print(f"  view rebuilds during the timed queries: {rebuilds} (built {first_build}x at first use)")
    print(f"  first query of this process, building the view: {first_view * 1e3:.0f} ms; "
          f"first scan: {first_scan * 1e3:.0f} ms")

    # Pruning: one scenario and year.
    scenario, year = "baseline", 2020
    VPerson = tracker.views.Person
    one = (
        select(func.avg(VPerson.number_of_trips))
        .where(VPerson.consist_scenario_id == scenario)
        .where(VPerson.consist_year == year)
    )
    from consist.catalog.queries import compile_sql

    sql, params = compile_sql(one)
    for value in params:
        sql = sql.replace("?", f"'{value}'" if isinstance(value, str) else str(value), 1)
    with tracker.views.querying():
        cat = tracker.catalog.connection()
        view_files = files_read(cat, sql)
        all_files = files_read(cat, compile_sql(select(func.avg(VPerson.number_of_trips)))[0])
    plan = tracker.scan("persons", scenario=scenario, year=year).explain()
    scan_files = plan.count("SCAN [")
    print(f"\nfiltered to scenario={scenario!r}, year={year} (1 matching file of {len(files)}):")
    print(f"  view: DuckDB reports {view_files} file(s) read (unfiltered: {all_files})")
    print(f"  scan: {scan_files} file scan(s) in the Polars plan")

    in_memory = args.runs * args.rows * 3 * 8 / 1e6
    print(f"\npeak memory of the scan's grouped average (fresh process; the data is {in_memory:.0f} MB in memory, "
          f"{disk / 1e6:.0f} MB on disk):")
    for engine in ("auto", "streaming", "in-memory"):
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(tracker.run_dir), str(tracker.db_path), engine],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        before, peak = int(out[0]) / 1024, int(out[1]) / 1024
        print(f"  {engine:9} engine: peak RSS +{peak - before:.0f} MB over the {before:.0f} MB before the query")


if __name__ == "__main__":
    main()
