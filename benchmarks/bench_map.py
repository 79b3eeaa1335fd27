"""Sweep speed: consist.map on Dask, Ray and a process pool against the inline loop.

Run: ``python benchmarks/bench_map.py [--configs 200] [--ms 50] [--workers 2]``.

Three figures, each against a baseline measured in the same run:

- speed-up: ``--configs`` configs of about ``--ms`` ms of CPU each, mapped inline
  (``executor=None``, one after the other in this process) and on ``--workers`` workers
  of Dask (a ``LocalCluster`` of single-threaded processes), Ray and a spawned process
  pool, in ``--chunks`` chunks run in rotating order (see :func:`speedups`). Target: Dask >= 1.7x the inline loop with 2 workers on an idle 2-core machine;
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


def engines(workers: int) -> dict[str, tuple[Any, Callable[[Any], None]]]:
    """Each engine's executor (as map's executor= takes it) and its no-op round trip."""
    import distributed
    import ray

    from consist.executors import RayExecutor

    cluster = distributed.LocalCluster(
        n_workers=workers, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    )
    client = distributed.Client(cluster)
    ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    remote_noop = ray.remote(num_cpus=1)(noop)
    return {  # Dask's round trip: client.submit as a map submits, without get_executor()'s conversion
        "dask": (client, lambda n: client.gather([client.submit(noop, i, pure=False) for i in range(n)])),
        "ray": (RayExecutor(), lambda n: ray.get([remote_noop.remote(i) for i in range(n)])),
        "processes": (pool, lambda n: [f.result() for f in [pool.submit(noop, i) for i in range(n)]]),
        "_stop": (None, lambda _: (client.close(), cluster.close(), ray.shutdown(), pool.shutdown())),
    }


def speedups(work: Path, running: dict[str, Any], grid: list[dict], loops: int, chunks: int) -> dict[str, float]:
    """Seconds each executor takes over ``grid``, in chunks run in rotating order.

    Chunk k of every executor maps the same configs (on its own run folder), and the
    order rotates per chunk, so a burst of load elsewhere on the machine hits all alike.
    """
    names = ["inline", "dask", "ray", "processes", "dask without consist"]
    trackers = {name: Tracker(run_dir=work / f"speed-{name.split()[0]}", progress=False) for name in names[:4]}
    client = running["dask"][0]
    seconds = dict.fromkeys(names, 0.0)
    size = -(-len(grid) // chunks)
    for k in range(chunks):
        part = grid[k * size : (k + 1) * size]
        for name in names[k % len(names) :] + names[: k % len(names)]:
            if name not in trackers:  # the same work straight through Dask's executor: the peer
                spent, _ = timed(lambda: client.gather([client.submit(busy, c, loops, pure=False) for c in part]))
            else:
                executor = None if name == "inline" else running[name][0]
                spent, batch = timed(
                    lambda: trackers[name].map(busy, part, executor=executor, runtime_kwargs={"loops": loops})
                )
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

    def sweep(label: str, executor: Any, fn: Any = busy, **options: Any) -> tuple[float, Any]:
        tracker = Tracker(run_dir=work / label, progress=False)
        out = timed(lambda: tracker.map(fn, grid, executor=executor, **options))
        tracker.records.wait_for_compaction()  # its CPU must not land in the next figure
        return out

    running = engines(args.workers)
    try:
        for name in ("dask", "ray", "processes"):
            running[name][1](4)  # warm: workers started, function shipped once
        seconds = speedups(work, running, grid, loops, args.chunks)
        print(f"\ninline loop (executor=None): {seconds['inline']:7.2f} s")
        for name in ("dask", "ray", "processes", "dask without consist"):
            print(f"{name:>9}: {seconds[name]:7.2f} s = {seconds['inline'] / seconds[name]:4.2f}x the inline loop")
        looped = Tracker(run_dir=work / "noop-loop", progress=False)
        loop_s, _ = timed(lambda: [looped.run(noop_step, config=c) for c in grid])
        print(f"\na no-op step recorded in this process (loop of tracker.run): {loop_s / args.configs * 1000:.2f} ms")
        print("engine overhead per shipped task (no-op steps vs the executor's own no-op round trip):")
        for name, options in [("dask", {}), ("ray", {}), ("processes", {}), ("dask", {"batch_size": 1})]:
            executor, round_trip = running[name]
            bare_s, _ = timed(lambda: round_trip(args.configs))
            mapped_s, batch = sweep(f"noop-{name}-{len(options)}", executor, fn=noop_step, **options)
            assert batch.shipped == args.configs, batch
            extra = (mapped_s - bare_s) / args.configs * 1000
            # The step's own recording (a loop pays it too) is spread over the workers.
            beyond = extra - loop_s / args.configs * 1000 / args.workers
            label = name + "".join(f", {k}={v}" for k, v in options.items())
            print(f"{label:>9}: map {mapped_s / args.configs * 1000:6.2f} ms/task, executor alone "
                  f"{bare_s / args.configs * 1000:6.2f} ms/task: +{extra:5.2f} ms per task (target <= 2 ms); "
                  f"{beyond:+5.2f} ms beyond recording the step")
        tracker = Tracker(run_dir=work / "speed-dask", progress=False)  # every config ran there
        seconds, batch = timed(lambda: tracker.map(busy, grid, executor=running["dask"][0], runtime_kwargs={"loops": loops}))
        compact_s, _ = timed(tracker.records.wait_for_compaction)
        print(f"\nfully cached re-map on dask: {batch.shipped} tasks shipped, {batch.hits} hits, "
              f"{seconds / args.configs * 1000:.3f} ms per config in the client (target <= 1 ms); "
              f"the background compaction of their records took {compact_s * 1000:.0f} ms more")
    finally:
        running["_stop"][1](0)


if __name__ == "__main__":
    main()
