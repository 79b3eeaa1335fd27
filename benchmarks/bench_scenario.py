"""Scenario speed: a long chained scenario, cold and fully cached, against the bare work.

Run: ``python benchmarks/bench_scenario.py [--steps 1000] [--rows 100]``.

Each step reads the previous step's ``rows``-row output (a coupler key, loaded into the
function) and returns a new frame. Three chains advance in lockstep, one step of each
per iteration, in rotating order, so that disk and machine noise hits them alike:

- the bare work without consist (read the previous Parquet file, compute, write the next);
- the scenario (``sc.run`` with ``inputs=["data"]``);
- the same chain through plain ``tracker.run`` with the artifact passed by hand, which
  isolates what the scenario layer adds over the engine.

The whole thing runs twice on the same folders: cold, then fully cached (new Tracker
objects, as a re-run script would make). Prints per-step medians for the first and last
hundred steps and ratios to the bare work; flat first-vs-last figures mean the per-step
cost does not grow with the catalog.
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


def chains(work: Path, steps: int, rows: int) -> dict[str, list[float]]:
    """One pass of the three chains; returns per-step seconds for each."""
    times: dict[str, list[float]] = {"bare": [], "scenario": [], "engine": []}
    scenario_tracker = Tracker(run_dir=work / "scenario")
    engine_tracker = Tracker(run_dir=work / "engine")
    bare_dir = work / "bare"
    bare_dir.mkdir(exist_ok=True)
    previous_file = bare_dir / "0.parquet"
    seed(rows).write_parquet(previous_file)
    with scenario_tracker.scenario("chain") as sc:
        with sc.trace(name="seed"):
            consist.log_dataframe(seed(rows), key="data")
        previous = engine_tracker.run("seed", fn=lambda: seed(rows), outputs=["data"]).outputs["data"]
        state = {"file": previous_file, "artifact": previous, "hits": 0}
        for i in range(steps):
            target = bare_dir / f"{i + 1}.parquet"

            def bare() -> None:
                step(pl.read_parquet(state["file"])).write_parquet(target)

            def scenario_step() -> None:
                name = f"step_{i:04d}"
                result = sc.run(name=name, fn=step, inputs=["data"], outputs=["data"], load_inputs=True)
                state["hits"] += result.cache_hit

            def engine_step() -> None:
                result = engine_tracker.run(f"step_{i:04d}", fn=step, inputs={"data": state["artifact"]}, outputs=["data"])
                state["hits"] += result.cache_hit
                state["artifact"] = result.outputs["data"]

            # Rotate the order: whichever goes right after another's file writes pays for them.
            order = [("bare", bare), ("scenario", scenario_step), ("engine", engine_step)]
            for label, action in order[i % 3 :] + order[: i % 3]:
                t0 = time.perf_counter()
                action()
                times[label].append(time.perf_counter() - t0)
            state["file"] = target
        hits = state["hits"]
    times["hits"] = [hits]
    return times


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()
    n, window = args.steps, min(100, args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        cold = chains(Path(tmp), n, args.rows)
        cached = chains(Path(tmp), n, args.rows)
    assert cold["hits"] == [0], f"cold pass had {cold['hits'][0]} hits"
    assert cached["hits"] == [2 * n], f"cached pass had {cached['hits'][0]}/{2 * n} hits"

    def first(samples: list[float]) -> float:
        return ms(samples[:window])

    def last(samples: list[float]) -> float:
        return ms(samples[-window:])

    print(f"{n}-step chained scenario, {args.rows} rows per step; per-step medians (ms)")
    print(f"{'':28}{'first ' + str(window):>12}{'last ' + str(window):>12}{'all':>10}{'max':>10}")
    rows = [
        ("bare work (cold pass)", cold["bare"]),
        ("cold sc.run", cold["scenario"]),
        ("cold tracker.run", cold["engine"]),
        ("bare work (cached pass)", cached["bare"]),
        ("cached sc.run", cached["scenario"]),
        ("cached tracker.run", cached["engine"]),
    ]
    for label, samples in rows:
        print(f"{label:28}{first(samples):12.3f}{last(samples):12.3f}{ms(samples):10.3f}{max(samples) * 1e3:10.1f}")
    bare_first, bare_last = first(cold["bare"]), last(cold["bare"])
    cold_first, cold_last = first(cold["scenario"]), last(cold["scenario"])
    hit_first, hit_last = first(cached["scenario"]), last(cached["scenario"])
    print()
    print(f"cold sc.run over the work:     {cold_first - bare_first:.3f} / {cold_last - bare_last:.3f} ms (<= 3)")
    print(f"cold sc.run / bare work:       {cold_first / bare_first:.2f}x / {cold_last / bare_last:.2f}x")
    print(f"cached sc.run per step:        {hit_first:.3f} / {hit_last:.3f} ms (<= 0.5)")
    print(f"cached sc.run / bare work:     {hit_first / first(cached['bare']):.2f}x / {hit_last / last(cached['bare']):.2f}x")
    print(f"last / first hundred:          cold {cold_last / cold_first:.2f}x, cached {hit_last / hit_first:.2f}x")
    layer_cold = ms(cold["scenario"]) - ms(cold["engine"])
    layer_hit = ms(cached["scenario"]) - ms(cached["engine"])
    print(f"scenario layer over tracker.run: cold {layer_cold:+.3f} ms, cached {layer_hit:+.3f} ms per step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
