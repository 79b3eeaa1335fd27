"""A parameter sweep over 40 configs, in parallel, tracked and cached by consist.

Run it twice: the first run executes every config on the workers, the second ships
nothing (every config is a cache hit, served in this process).

    python examples/sweep.py            # work folder: examples/_work/sweep (git ignores it)
    python examples/sweep.py --fresh    # start from an empty work folder
    python examples/sweep.py --executor processes

It runs on a local Dask cluster (two worker processes on 127.0.0.1) when
``dask[distributed]`` is installed, else on a process pool. The run folder is shared by
the workers and this process, as it must be on a real cluster.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import polars as pl

import consist
from consist import Tracker


def simulate(config: dict) -> pl.DataFrame:
    """Trips by hour for one demand rate and one fare: a stand-in for a model run."""
    base = 10_000 * config["rate"]
    fare_effect = 1 - 0.15 * config["fare"]
    return pl.DataFrame({"hour": list(range(24)), "trips": [round(base * fare_effect * (1 + (h % 12) / 12)) for h in range(24)]})


def executor(kind: str, stack: ExitStack) -> Any:
    """A Dask client or a process pool, closed when ``stack`` closes."""
    if kind == "dask":
        from distributed import Client, LocalCluster

        cluster = stack.enter_context(
            LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
        )
        return stack.enter_context(Client(cluster))
    return stack.enter_context(cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "_work" / "sweep")
    parser.add_argument("--fresh", action="store_true", help="delete the work folder first")
    parser.add_argument("--executor", choices=["dask", "processes"], default=None)
    args = parser.parse_args()
    if args.fresh:
        shutil.rmtree(args.work, ignore_errors=True)
    kind = args.executor
    if kind is None:
        try:
            import distributed  # noqa: F401

            kind = "dask"
        except ImportError:
            kind = "processes"
    tracker = Tracker(run_dir=args.work / "runs", db_path=args.work / "provenance.duckdb")
    grid = [{"rate": rate / 10, "fare": fare} for rate in range(1, 11) for fare in (0.0, 1.0, 2.0, 3.0)]
    with ExitStack() as stack:
        pool = executor(kind, stack)
        for _ in range(2):
            with consist.use_tracker(tracker), consist.scenario("fares") as sc:
                batch = sc.map(simulate, configs=grid, outputs=["trips"], executor=pool)
            c = batch.counts
            print(f"{kind}, {len(batch)} configs: {c['hits']} hits, {c['executed']} executed, "
                  f"{c['failed']} failed, {c['shipped']} tasks shipped")
    totals = tracker.scan("trips").group_by("consist_run_id").agg(pl.col("trips").sum()).collect()
    print(f"{totals.height} runs in the catalog's trips scan; busiest: {totals['trips'].max()} trips")


if __name__ == "__main__":
    main()
