"""A small land-use / travel pipeline, tracked and cached by consist.

Run it twice: the first run executes every step, the second is all cache hits.

    python examples/pipeline.py            # work folder: examples/_work (git ignores it)
    python examples/pipeline.py --fresh    # start from an empty work folder
    python examples/pipeline.py --work DIR # somewhere else

Everything lives under the work folder: the synthetic input CSV, the run outputs
(``runs/``) and the DuckDB catalog (``provenance.duckdb``).
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from pathlib import Path

import polars as pl

import consist
from consist import Tracker, use_tracker

EXECUTED: list[str] = []


def make_zones(path: Path, n: int = 2_000) -> None:
    rng = random.Random(42)
    pl.DataFrame(
        {
            "zone_id": range(n),
            "households": [rng.randint(50, 900) for _ in range(n)],
            "jobs": [rng.randint(0, 1500) for _ in range(n)],
            "income": [rng.gauss(60_000, 15_000) for _ in range(n)],
        }
    ).write_csv(path)


def prepare_zones(zones: pl.DataFrame, min_households: int) -> pl.DataFrame:
    """Drop tiny zones and add a density measure."""
    EXECUTED.append("prepare_zones")
    return zones.filter(pl.col("households") >= min_households).with_columns(
        (pl.col("jobs") / pl.col("households")).alias("jobs_per_household")
    )


def grow_population(zones: pl.DataFrame, year: int, growth: float) -> pl.DataFrame:
    """Grow households from the base year at a constant annual rate."""
    EXECUTED.append(f"grow_population[{year}]")
    factor = (1 + growth) ** (year - 2020)
    return zones.with_columns((pl.col("households") * factor).round(0).cast(pl.Int64).alias("households"), pl.lit(year).alias("year"))


def trip_generation(population: pl.DataFrame, trips_per_household: float) -> pl.DataFrame:
    """Trips produced and attracted per zone."""
    EXECUTED.append("trip_generation")
    return population.select(
        "zone_id",
        "year",
        (pl.col("households") * trips_per_household).alias("productions"),
        (pl.col("jobs") * 1.1).alias("attractions"),
    )


def pipeline(tracker: Tracker, raw: Path, growth: float) -> list[consist.RunResult]:
    """One scenario: prepare zones once, then grow and generate trips year by year."""
    results = []
    with use_tracker(tracker), consist.scenario(f"growth_{growth}", model="land_use", growth=growth) as sc:
        results.append(
            sc.run(name="prepare_zones", fn=prepare_zones, inputs={"zones": raw},
                   config={"min_households": 100}, outputs=["zones"])
        )
        for year in (2020, 2030, 2040):
            results.append(
                sc.run(name="grow_population", fn=grow_population, inputs=["zones"], load_inputs=True,
                       config={"year": year, "growth": growth}, year=year, outputs=["population"])
            )
            results.append(
                sc.run(name="trip_generation", fn=trip_generation, inputs=["population"], load_inputs=True,
                       config={"trips_per_household": 2.4}, year=year, outputs=["trips"])
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "_work")
    parser.add_argument("--fresh", action="store_true", help="delete the work folder first")
    args = parser.parse_args()
    if args.fresh and args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    raw = args.work / "zones.csv"
    if not raw.exists():
        make_zones(raw)

    tracker = Tracker(run_dir=args.work / "runs", db_path=args.work / "provenance.duckdb")
    for attempt in ("first", "second"):
        EXECUTED.clear()
        t0 = time.perf_counter()
        results = [r for growth in (0.012, 0.02) for r in pipeline(tracker, raw, growth)]
        ms = (time.perf_counter() - t0) * 1e3
        hits = sum(r.cache_hit for r in results)
        print(f"{attempt} run: {len(results)} steps, {len(EXECUTED)} executed, {hits} cache hits, {ms:.1f} ms")

    # Which run made the 2040 trips of the high-growth scenario, and from what config?
    run = consist.find_run(tracker=tracker, parent_id="growth_0.02", year=2040, model="trip_generation")
    print(f"2040 trips (growth 0.02) made by run {run.id}, config {run.config}")

    # Across scenarios and years: total trip productions, straight from the output files.
    rows = []
    for scenario in ("growth_0.012", "growth_0.02"):
        by_year = consist.find_runs(tracker=tracker, parent_id=scenario, model="trip_generation", index_by="year")
        for year, trip_run in sorted(by_year.items()):
            trips = consist.scan(tracker.get_artifacts_for_run(trip_run.id).outputs["trips"])
            rows.append({"scenario": scenario, "year": year, "productions": trips.select(pl.col("productions").sum()).collect().item()})
    print(pl.DataFrame(rows))

    steps = consist.run_query(
        "SELECT name, count(*) AS runs, count(*) FILTER (WHERE cache_hit) AS cache_hits "
        "FROM runs WHERE kind = 'step' GROUP BY name ORDER BY name",
        tracker=tracker,
    )
    print(steps)
    print(f"outputs under {tracker.run_dir}; catalog at {tracker.db_path} (open it with any DuckDB client)")


if __name__ == "__main__":
    main()
