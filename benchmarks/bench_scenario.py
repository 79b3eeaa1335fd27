"""Scenario speed: a long chained scenario, cold and fully cached, against the bare work.

Run: ``python benchmarks/bench_scenario.py [--steps 1000] [--rows 100]``.

Each step reads the previous step's ``rows``-row output (a coupler key, loaded into the
function) and returns a new frame. The baseline is the same work without consist:
read the previous Parquet file, compute, write the next one. Prints per-step medians
for the first and last hundred steps, cold and cached, and their ratio to the baseline;
flat first-vs-last figures mean the per-step cost does not grow with the catalog.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

import consist
from consist import Tracker, use_tracker


def step(data: pl.DataFrame) -> pl.DataFrame:
    return data.with_columns(pl.col("value") + 1)


def seed(rows: int) -> pl.DataFrame:
    return pl.DataFrame({"id": range(rows), "value": [float(i) for i in range(rows)]})


def bare(work: Path, steps: int, rows: int) -> list[float]:
    folder = work / "bare"
    folder.mkdir()
    previous = folder / "0.parquet"
    seed(rows).write_parquet(previous)
    times = []
    for i in range(1, steps + 1):
        t0 = time.perf_counter()
        target = folder / f"{i}.parquet"
        step(pl.read_parquet(previous)).write_parquet(target)
        times.append(time.perf_counter() - t0)
        previous = target
    return times


def scenario(run_dir: Path, steps: int, rows: int) -> tuple[list[float], int]:
    tracker = Tracker(run_dir=run_dir)
    times, hits = [], 0
    with use_tracker(tracker), consist.scenario("chain") as sc:
        with sc.trace(name="seed"):
            consist.log_dataframe(seed(rows), key="data")
        for i in range(steps):
            t0 = time.perf_counter()
            result = sc.run(
                name=f"step_{i:04d}", fn=step, inputs=["data"], outputs=["data"], load_inputs=True
            )
            times.append(time.perf_counter() - t0)
            hits += result.cache_hit
    return times, hits


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()
    window = min(100, args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = bare(work, args.steps, args.rows)
        cold, cold_hits = scenario(work / "runs", args.steps, args.rows)
        cached, cached_hits = scenario(work / "runs", args.steps, args.rows)
    assert cold_hits == 0, f"cold run had {cold_hits} hits"
    assert cached_hits == args.steps, f"cached run had {cached_hits}/{args.steps} hits"

    b_first, b_last = ms(base[:window]), ms(base[-window:])
    print(f"{args.steps}-step chained scenario, {args.rows} rows per step; per-step medians (ms)")
    print(f"{'':24}{'first ' + str(window):>12}{'last ' + str(window):>12}{'max (any)':>12}")
    print(f"{'bare work':24}{b_first:12.3f}{b_last:12.3f}{max(base) * 1e3:12.1f}")
    for label, samples in (("cold sc.run", cold), ("cached sc.run", cached)):
        first, last = ms(samples[:window]), ms(samples[-window:])
        print(f"{label:24}{first:12.3f}{last:12.3f}{max(samples) * 1e3:12.1f}")
    c_first, c_last = ms(cold[:window]), ms(cold[-window:])
    h_first, h_last = ms(cached[:window]), ms(cached[-window:])
    print()
    print(f"cold overhead over the work:  {c_first - b_first:.3f} / {c_last - b_last:.3f} ms (target <= 3)")
    print(f"cold / bare ratio:            {c_first / b_first:.2f}x / {c_last / b_last:.2f}x")
    print(f"cached per step:              {h_first:.3f} / {h_last:.3f} ms (target <= 0.5)")
    print(f"cached / bare ratio:          {h_first / b_first:.2f}x / {h_last / b_last:.2f}x")
    print(f"last/first growth:            cold {c_last / c_first:.2f}x, cached {h_last / h_first:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
