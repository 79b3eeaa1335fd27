"""The Python of a step, counted: function calls per cache hit and per executed chain step.

Run: ``python benchmarks/bench_step_calls.py [--repeats 500]``.

Wall-clock figures of a single step swing two- to threefold with the machine's load and
the disk's state; the number of Python function calls a step makes does not. This
prints, for the two workloads of issue 15:

- a cache hit of ``bench_core.py``'s pandas step (a 1,000-row CSV input, a one-key
  config), through ``tracker.run``;
- an executed step of ``bench_scenario.py``'s chain (``sc.run`` loading the previous
  step's 100-row Parquet output and writing the next), on a tmpfs folder when there is
  one so that the file system adds little;

each as calls per step (cProfile's count, builtins included; Polars' and pandas' own
calls shown apart) and as microseconds per step measured without the profiler (wall
clock and process CPU time); for the hit also with the run-id claim and the record
write replaced by no-ops ("Python only": what is left is the planning, the signature,
the index read and the two stats). Compaction is off, so its occasional folds do not
land in the counts.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import polars as pl

import consist
from consist import Tracker


def peer_step(raw: pd.DataFrame, threshold: float) -> pd.DataFrame:
    return raw[raw["value"] < threshold]


def chain_step(data: pl.DataFrame) -> pl.DataFrame:
    return data.with_columns(pl.col("value") + 1)


def counted(action, repeats: int) -> tuple[float, float]:
    """(calls per call of ``action``, of which in Polars or pandas)."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(repeats):
        action()
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(v[1] for v in stats.values())
    libraries = sum(v[1] for (f, _, _), v in stats.items() if "/polars/" in f or "/pandas/" in f)
    return total / repeats, libraries / repeats


def timed(action, repeats: int) -> tuple[float, float]:
    """Median microseconds of ``action`` over blocks of 50 calls: wall clock, and this process's CPU time.

    The CPU time leaves out waiting for the disk and for other processes, so it moves less
    with the machine's load (a chain step's also counts Polars' threads).
    """
    walls, cpus = [], []
    for _ in range(max(5, repeats // 50)):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(50):
            action()
        walls.append((time.perf_counter() - t0) / 50 * 1e6)
        cpus.append((time.process_time() - c0) / 50 * 1e6)
    return statistics.median(walls), statistics.median(cpus)


def hit(work: Path, repeats: int) -> None:
    raw = work / "peer.csv"
    pd.DataFrame({"id": range(1000), "value": [i / 1000 for i in range(1000)]}).to_csv(raw, index=False)
    stamp = time.time() - 10  # old enough for the stat memo
    os.utime(raw, (stamp, stamp))
    time.sleep(2.1)  # the hash memo takes a file 2 s after its last change (its ctime)
    tracker = Tracker(run_dir=work / "hits")
    tracker.records.auto_compact = False

    def run() -> None:
        tracker.run(peer_step, inputs={"raw": raw}, config={"threshold": 0.5}, outputs=["out"])

    for _ in range(100):
        run()
    calls, libraries = counted(run, repeats)
    wall, cpu = timed(run, repeats)
    tracker.records.append = lambda run: None  # type: ignore[method-assign]
    tracker.records.claim_id = lambda *args, **kwargs: True  # type: ignore[method-assign]
    python = timed(run, repeats)[0]
    print(f"cache hit (pandas step, tracker.run): {calls:.0f} calls ({libraries:.0f} in pandas/Polars); "
          f"{wall:.1f} us ({cpu:.1f} us CPU), Python only {python:.1f} us")


def chain(work: Path, repeats: int) -> None:
    tracker = Tracker(run_dir=work / "chain")
    tracker.records.auto_compact = False
    seed = pl.DataFrame({"id": range(100), "value": [float(i) for i in range(100)]})
    count = iter(range(10**9))
    with tracker.scenario("chain") as sc:
        with sc.trace(name="seed"):
            consist.log_dataframe(seed, key="data")

        def run() -> None:
            sc.run(name=f"step_{next(count)}", fn=chain_step, inputs=["data"], outputs=["data"], load_inputs=True)

        for _ in range(30):
            run()
        calls, libraries = counted(run, repeats)
        wall, cpu = timed(run, repeats)
    print(f"executed chain step (sc.run, Polars, 100 rows): {calls:.0f} calls ({libraries:.0f} in pandas/Polars); "
          f"{wall:.1f} us ({cpu:.1f} us CPU)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=500)
    args = parser.parse_args()
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as fast:
        hit(Path(tmp), args.repeats)
        chain(Path(fast), args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
