"""Sweep speed: consist.map on Dask, Ray and a process pool against the inline loop.

Run: ``python benchmarks/bench_map.py [--configs 200] [--ms 50] [--workers 2]``.

Three figures, each against a baseline measured in the same run:

- speed-up: ``--configs`` configs of about ``--ms`` ms of CPU each, mapped inline
  (``executor=None``, one after the other in this process) and on ``--workers`` workers
  of Dask (a ``LocalCluster`` of single-threaded processes), Ray and a spawned process
  pool, in ``--chunks`` chunks run in rotating order (see :func:`speedups`). One engine
  runs at a time (see :func:`start`), and the inline loop is measured beside each. Dask
  runs twice: as ``LocalCluster`` starts it, and with its workers' statistical profiler
  off (``distributed.worker.profile.enabled: false``), a setting worth a few percent to
  CPU-bound Python steps (docs/how-to/sweeps-on-a-cluster.md); Target: Dask >= 1.7x the inline loop with 2 workers on an idle 2-core machine;
- engine overhead per shipped task: a map of no-op steps against the executor's own
  no-op round trip (the same number of ``submit`` calls of a function that does
  nothing, then waiting for all). Target: <= 2 ms a task. A map sends several configs
  in one task when that pays (``batch_size="auto"``), so its figure is per config; the
  extra Dask line with ``batch_size=1`` is the cost of one config a task;
- a fully cached re-map: 0 tasks shipped; time per config in the client. Target: <= 1 ms.

Every engine binds to 127.0.0.1 and is stopped at the end. Run folders go under
``TMPDIR`` (see README.md for why it matters on this machine).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

import consist
from consist import Tracker

# Read when ray is imported: a single-machine Ray binds every server to loopback.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def busy(config: dict, loops: int) -> pl.DataFrame:
    """CPU work of a fixed size: ``loops`` iterations of a pure-Python loop."""
    total = 0
    for k in range(loops):
        total += k * config["i"] % 7
    return pl.DataFrame({"i": [config["i"]], "total": [total]})


def noop_step(config: dict) -> None:
    """A step that does nothing and returns nothing."""


def noop(x: Any) -> Any:
    return x


def calibrate(ms: float) -> int:
    """Loop iterations that take about ``ms`` ms of CPU here."""
    loops = 100_000
    start = time.process_time()
    busy({"i": 3}, loops)
    per_loop = (time.process_time() - start) / loops
    return max(1, int(ms / 1000 / per_loop))


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = action()
    return time.perf_counter() - start, out


def start(name: str, workers: int) -> tuple[Any, Callable[[int], Any], Callable[[], None]]:
    """Start one engine: its executor (as map's executor= takes it), its no-op round trip, and its stop.

    Only one engine runs at a time: an idle Ray node alone uses about 4% of a core
    (its raylet and GCS server), which a Dask figure measured beside it would pay.
    """
    if name.startswith("dask"):
        import dask
        import distributed

        # "dask, profiler off": the workers' statistical profiler (a stack sample of the
        # running task every 10 ms, on by default) turned off, as the how-to suggests
        # for sweeps of CPU-bound Python steps.
        with dask.config.set({"distributed.worker.profile.enabled": name == "dask"}):
            cluster = distributed.LocalCluster(
                n_workers=workers, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
            )
        client = distributed.Client(cluster)
        profiling = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
        assert set(profiling.values()) == {name == "dask"}, profiling
        # Dask's round trip: client.submit as a map submits, without get_executor()'s conversion
        return (client, lambda n: client.gather([client.submit(noop, i, pure=False) for i in range(n)]),
                lambda: (client.close(), cluster.close()))
    if name == "ray":
        import ray

        from consist.executors import RayExecutor

        ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False, configure_logging=False)
        remote_noop = ray.remote(num_cpus=1)(noop)
        return RayExecutor(), lambda n: ray.get([remote_noop.remote(i) for i in range(n)]), ray.shutdown
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    return pool, lambda n: [f.result() for f in [pool.submit(noop, i) for i in range(n)]], pool.shutdown


def speedups(work: Path, engine: str, executor: Any, grid: list[dict], loops: int, chunks: int) -> dict[str, float]:
    """Seconds the inline loop and ``engine`` take over ``grid``, in chunks run in rotating order.

    Chunk k of each maps the same configs (on its own run folder), and the order rotates
    per chunk, so a burst of load elsewhere on the machine hits all alike. On Dask the same
    work straight through Dask's executor, without consist, runs beside them: the peer.
    """
    names = ["inline", engine] + ([f"{engine} without consist"] if engine.startswith("dask") else [])
    trackers = {name: Tracker(run_dir=work / f"speed-{engine}-{name}".replace(" ", "-").replace(",", ""), progress=False)
                for name in names[:2]}
    seconds = dict.fromkeys(names, 0.0)
    size = -(-len(grid) // chunks)
    for k in range(chunks):
        part = grid[k * size : (k + 1) * size]
        for name in names[k % len(names) :] + names[: k % len(names)]:
            if name not in trackers:
                spent, _ = timed(lambda: executor.gather([executor.submit(busy, c, loops, pure=False) for c in part]))
            else:
                spent, batch = timed(lambda: trackers[name].map(
                    busy, part, executor=None if name == "inline" else executor, runtime_kwargs={"loops": loops}))
                trackers[name].records.wait_for_compaction()
                assert batch.executed == len(part), batch
            seconds[name] += spent
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=200)
    parser.add_argument("--ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=4, help="speed-up runs in this many rotating chunks")
    args = parser.parse_args()
    loops = calibrate(args.ms)
    grid = [{"i": i} for i in range(args.configs)]
    work = Path(tempfile.mkdtemp(prefix="bench_map_"))
    print(f"{args.configs} configs of ~{args.ms:.0f} ms CPU ({loops} loops), {args.workers} workers, in {work}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    looped = Tracker(run_dir=work / "noop-loop", progress=False)
    loop_s, _ = timed(lambda: [looped.run(noop_step, config=c) for c in grid])
    print(f"a no-op step recorded in this process (loop of tracker.run): {loop_s / args.configs * 1000:.2f} ms")
    for engine in ("dask", "dask, profiler off", "ray", "processes"):
        executor, round_trip, stop = start(engine, args.workers)
        try:
            round_trip(4)  # warm: workers started, function shipped once
            print(f"\n{engine} (the only engine running):")
            seconds = speedups(work, engine, executor, grid, loops, args.chunks)
            print(f"  inline loop (executor=None): {seconds['inline']:6.2f} s")
            for name in [n for n in seconds if n != "inline"]:
                print(f"  {name}: {seconds[name]:6.2f} s = {seconds['inline'] / seconds[name]:4.2f}x the inline loop"
                      + ("  (target >= 1.7x)" if name in ("dask", "dask, profiler off") else ""))
            if engine != "dask, profiler off":
                overhead(work, engine, executor, round_trip, grid, loop_s, args.workers)
            if engine == "dask":
                cached_remap(work, executor, grid, loops)
        finally:
            stop()


def overhead(work: Path, engine: str, executor: Any, round_trip: Callable[[int], Any], grid: list[dict],
             loop_s: float, workers: int) -> None:
    """Engine overhead per shipped task: no-op steps against the executor's own no-op round trip."""
    for options in [{}, {"batch_size": 1}] if engine == "dask" else [{}]:
        bare_s, _ = timed(lambda: round_trip(len(grid)))
        tracker = Tracker(run_dir=work / f"noop-{engine}-{len(options)}", progress=False)
        mapped_s, batch = timed(lambda: tracker.map(noop_step, grid, executor=executor, **options))
        tracker.records.wait_for_compaction()  # its CPU must not land in the next figure
        assert batch.shipped == len(grid), batch
        extra = (mapped_s - bare_s) / len(grid) * 1000
        # The step's own recording (a loop pays it too) is spread over the workers.
        beyond = extra - loop_s / len(grid) * 1000 / workers
        label = "".join(f", {k}={v}" for k, v in options.items())
        print(f"  overhead{label}: map {mapped_s / len(grid) * 1000:6.2f} ms/task, executor alone "
              f"{bare_s / len(grid) * 1000:6.2f} ms/task: +{extra:5.2f} ms per task (target <= 2 ms); "
              f"{beyond:+5.2f} ms beyond recording the step")


def cached_remap(work: Path, client: Any, grid: list[dict], loops: int) -> None:
    """A fully cached re-map on Dask: nothing shipped, time per config in the client."""
    tracker = Tracker(run_dir=work / "speed-dask-dask", progress=False)  # every config ran there (see speedups)
    seconds, batch = timed(lambda: tracker.map(busy, grid, executor=client, runtime_kwargs={"loops": loops}))
    compact_s, _ = timed(tracker.records.wait_for_compaction)
    print(f"  fully cached re-map: {batch.shipped} tasks shipped, {batch.hits} hits, "
          f"{seconds / len(grid) * 1000:.3f} ms per config in the client (target <= 1 ms); "
          f"the background compaction of their records took {compact_s * 1000:.0f} ms more")

if __name__ == "__main__":
    main()
