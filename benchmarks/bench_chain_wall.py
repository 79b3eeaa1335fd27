"""A cold chain's whole wall time: ``sc.run`` steps alone against the same chain by hand alone.

Run: ``python benchmarks/bench_chain_wall.py [--steps 300] [--rounds 3]``.

``bench_scenario.py`` times each step and reports medians, with three chains advancing
in lockstep. Work a step leaves to a background thread (the step history's lines) then
lands in whichever step runs next, or in a few slow steps the median ignores. This
script times whole chains instead, one after the other: the hand-written chain (read the
previous Parquet file, compute, write the next), then the cold ``sc.run`` chain, then the
hand-written one again, each in its own new folder, ``--rounds`` times after a short
warm-up of each. It prints the mean milliseconds a step of each (the median over rounds)
and their ratio.
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
from consist import Tracker


def step(data: pl.DataFrame) -> pl.DataFrame:
    return data.with_columns(pl.col("value") + 1)


def seed(rows: int) -> pl.DataFrame:
    return pl.DataFrame({"id": range(rows), "value": [float(i) for i in range(rows)]})


def by_hand(folder: Path, steps: int, rows: int) -> float:
    """Seconds a step of the chain written by hand."""
    folder.mkdir()
    previous = folder / "0.parquet"
    seed(rows).write_parquet(previous)
    start = time.perf_counter()
    for i in range(steps):
        target = folder / f"{i + 1}.parquet"
        step(pl.read_parquet(previous)).write_parquet(target)
        previous = target
    return (time.perf_counter() - start) / steps


def with_consist(folder: Path, steps: int, rows: int) -> float:
    """Seconds a step of the cold ``sc.run`` chain, each step under its own name."""
    tracker = Tracker(run_dir=folder)
    with tracker.scenario("chain") as sc:
        with sc.trace(name="seed"):
            consist.log_dataframe(seed(rows), key="data")
        start = time.perf_counter()
        for i in range(steps):
            sc.run(name=f"step_{i:04d}", fn=step, inputs=["data"], outputs=["data"], load_inputs=True)
        return (time.perf_counter() - start) / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    hand, chain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        by_hand(Path(tmp) / "warm-hand", 20, args.rows)  # imports and first-call costs out of the rounds
        with_consist(Path(tmp) / "warm-consist", 20, args.rows)
        for r in range(args.rounds):
            before = by_hand(Path(tmp) / f"hand-{r}-a", args.steps, args.rows)
            chain.append(with_consist(Path(tmp) / f"consist-{r}", args.steps, args.rows))
            hand.append((before + by_hand(Path(tmp) / f"hand-{r}-b", args.steps, args.rows)) / 2)
    h, c = statistics.median(hand) * 1e3, statistics.median(chain) * 1e3
    print(f"{args.steps}-step cold chain, whole chains timed, {args.rounds} rounds (medians of means)")
    print(f"chain wall a step: by hand {h:.3f} ms, sc.run {c:.3f} ms")
    print(f"cold sc.run chain wall / by hand: {c / h:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
