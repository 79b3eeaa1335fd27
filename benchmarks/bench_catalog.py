"""Catalog speed at scale: write latency, find_run(s), pivot_facets.

Builds a catalog of N runs (default 100,000) and prints the issue's figures:

- per-run write latency (``tracker.run`` of a trivial step, a cache miss that writes a
  record and a cache entry; and ``RecordStore.append`` alone) at 100 runs and at N,
  with the ratio of the medians (target <= 1.5);
- ``find_runs(model=, year=)`` (target <= 50 ms), ``find_run`` by id for a fresh and a
  compacted run (target <= 5 ms), ``pivot_facets`` over 3 keys through ``run_query``
  (target <= 200 ms): warm medians, plus the first query of a new process (cold);
- in a new process: ``find_runs(model=, year=)`` first call with imports (target <= 1 s),
  warm (target <= 20 ms) and peak RSS (target <= 200 MB); the first ``find_run(id=)`` of a
  compacted run.

How the bulk is generated: every record goes through the real append path
(``RecordStore.append``: one JSON file per run, written atomically, with automatic
compaction into Parquet segments and segment merges exactly as in production), from
two worker processes at once. Only the Run objects are synthesised instead of executing
100,000 steps; the latency figures above do run real steps.

Run: ``python benchmarks/bench_catalog.py [--runs 100000] [--dir PATH]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from consist import Tracker
from consist.catalog.records import RecordStore
from consist.models import Artifact, Run
from consist.artifacts.layout import Layout

MODELS = [f"model_{i}" for i in range(9)] + ["simulate"]
YEARS = list(range(2020, 2070, 5))


def synth_run(i: int) -> Run:
    """The i-th synthetic run: 1000 scenarios x 10 models x 10 years, realistic size."""
    scenario = f"scen-{i // 100:04d}"
    model = MODELS[(i // 10) % 10]
    year = YEARS[i % 10]
    rid = f"{scenario}-{model}-{year}-{i:07d}"
    config = {"alpha": (i % 97) / 97, "beta": i % 13, "mode": ["car", "bus", "bike"][i % 3],
              "solver": {"tol": 1e-6, "max_iter": 100 + i % 7}, "seed": i, "label": f"variant {i % 11}"}  # fmt: skip
    out = Artifact(id=f"a{i:012d}", key="persons", uri=f"/data/runs/{rid}/persons.parquet",
                   hash=f"{i:064x}", size=1000 + i, driver="parquet", run_id=rid, frame_kind="pandas")  # fmt: skip
    raw = Artifact(id="raw0", key="population", uri="/data/population.csv", hash="f" * 64, size=0, driver="csv")
    facets = {"alpha": config["alpha"], "beta": config["beta"], "mode": config["mode"],
              "solver.tol": 1e-6, "solver.max_iter": config["solver"]["max_iter"], "seed": i, "year": year}  # fmt: skip
    now = time.time()
    return Run(id=rid, name=model, model=model, status="completed", signature=f"{i:064x}", code_hash="c" * 64,
               config_hash="d" * 64, inputs_hash="e" * 64, parent_id=scenario, year=year, config=config,
               facets=facets, inputs=[raw], outputs=[out], started_at=now, ended_at=now + 0.5)  # fmt: skip


def _writer(root: str, start: int, stop: int) -> None:
    store = RecordStore(Layout(Path(root)))
    for i in range(start, stop):
        store.append(synth_run(i))


def generate(root: Path, start: int, stop: int, procs: int = 2) -> float:
    """Append runs [start, stop) through RecordStore.append from ``procs`` processes."""
    t0 = time.perf_counter()
    step = (stop - start + procs - 1) // procs
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(str(root), s, min(stop, s + step))) for s in range(start, stop, step)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
        if w.exitcode != 0:
            raise SystemExit(f"writer failed with exit code {w.exitcode}")
    return time.perf_counter() - t0


def median_ms(fn, n: int = 30) -> float:
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def latency(small: Tracker, big: Tracker, n: int) -> dict[str, float]:
    """Median ms per write on each catalog, interleaved so both see the same machine state.

    ``step``: ``tracker.run`` of a trivial step (a miss: a run record and a cache entry).
    ``append``: ``RecordStore.append`` alone.
    """
    def trivial(x: int) -> None:
        return None

    times: dict[str, list[float]] = {}
    for tracker in (small, big):
        tracker.records.auto_compact = False  # time the write path, not a compaction
    for j in range(n):
        for label, tracker in (("small", small), ("big", big)):
            t0 = time.perf_counter()
            tracker.run(trivial, name="latency_probe", config={"x": j, "t": time.time_ns()})
            times.setdefault(f"step_{label}", []).append(time.perf_counter() - t0)
            run = msgspec.structs.replace(synth_run(10_000_000 + j), id=f"probe-{label}-{time.time_ns()}")
            t0 = time.perf_counter()
            tracker.records.append(run)
            times.setdefault(f"append_{label}", []).append(time.perf_counter() - t0)
    for tracker in (small, big):
        tracker.records.auto_compact = True
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


COLD = """
import time, sys, resource
t0 = time.perf_counter()
import consist
from sqlmodel import select
tracker = consist.Tracker(run_dir=sys.argv[1])
t1 = time.perf_counter()
runs = tracker.find_runs(model="simulate", year=2030)
t2 = time.perf_counter()
params = consist.pivot_facets(namespace="simulate", keys=["alpha", "beta", "mode"], value_columns={"mode": "value_str"})
df = consist.run_query(select(params.c.run_id, params.c.alpha, params.c.beta, params.c.mode), tracker=tracker)
t3 = time.perf_counter()
warm = []
for _ in range(20):
    t4 = time.perf_counter()
    tracker.find_runs(model="simulate", year=2030)
    warm.append(time.perf_counter() - t4)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
warm_ms = sorted(warm)[len(warm) // 2] * 1000
print(f"{(t1-t0)*1000:.0f} {(t2-t1)*1000:.0f} {(t3-t2)*1000:.0f} {len(runs)} {df.height} {warm_ms:.1f} {rss:.0f}")
"""

# find_runs alone in a new process: imports included, then warm, then peak RSS (the docs' promise).
COLD_FIND = """
import time, sys, resource
t0 = time.perf_counter()
import consist
tracker = consist.Tracker(run_dir=sys.argv[1])
runs = tracker.find_runs(model="simulate", year=2030)
t1 = time.perf_counter()
warm = []
for _ in range(20):
    t2 = time.perf_counter()
    tracker.find_runs(model="simulate", year=2030)
    warm.append(time.perf_counter() - t2)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{(t1-t0)*1000:.0f} {sorted(warm)[10]*1000:.1f} {rss:.0f} {len(runs)}")
"""

# find_run of a compacted run by id, first call of a new process (imports excluded).
COLD_ID = """
import time, sys
import consist
tracker = consist.Tracker(run_dir=sys.argv[1])
t0 = time.perf_counter()
run = tracker.find_run(id=sys.argv[2])
print(f"{(time.perf_counter()-t0)*1000:.0f}")
"""


def count(tracker: Tracker) -> int:
    return int(tracker.run_query("SELECT count(*) AS n FROM runs")["n"][0])


def settle(tracker: Tracker, small: Tracker) -> None:
    """Wait out the grace period folded fresh files keep for outside readers, then let compaction delete them.

    Right after a bulk load every folded record file is still there (listed by every
    query for up to GRACE_S): the transient figure is printed, the steady state measured.
    """
    from consist.catalog import compaction

    left = sum(1 for n in os.listdir(tracker.layout.fresh) if not n.startswith("."))
    if not left:
        return
    t_find = median_ms(lambda: tracker.find_runs(model="simulate", year=2030), n=5)
    print(f"folded fresh files still kept for outside readers: {left:,}; find_runs meanwhile: {t_find:.1f} ms "
          f"(transient: they are deleted {compaction.GRACE_S:.0f} s after folding)")  # fmt: skip
    time.sleep(compaction.GRACE_S + 1)
    tracker.compact()
    small.compact()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="keep the catalog here (reused if present)")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench_catalog_"))
    small = Tracker(run_dir=base / "small")
    tracker = Tracker(run_dir=base / "big")
    run_dir = tracker.run_dir
    print(f"catalogs: {base}  (small: 100 runs, large: {args.runs:,} runs)")
    if count(small) < 100:
        generate(small.layout.root, 0, 100)
    have = count(tracker)
    if have < args.runs:
        gen = generate(tracker.layout.root, have, args.runs)
        print(f"generated {args.runs - have:,} runs via RecordStore.append from 2 processes in {gen:.1f} s")
    t0 = time.perf_counter()
    tracker.compact()
    small.compact()
    tracker.catalog.refresh()
    print(f"final compaction {time.perf_counter() - t0:.2f} s; live segments: {len(tracker.catalog.segments.live)}")
    settle(tracker, small)
    n_small, n_big = count(small), count(tracker)
    lat = latency(small, tracker, args.samples)
    print(f"write latency, small catalog ({n_small:,} runs at start): step {lat['step_small']:.2f} ms, "
          f"append {lat['append_small']:.3f} ms")  # fmt: skip
    print(f"write latency, large catalog ({n_big:,} runs at start): step {lat['step_big']:.2f} ms, "
          f"append {lat['append_big']:.3f} ms")  # fmt: skip
    print(f"  ratio of medians (large/small): step {lat['step_big'] / lat['step_small']:.2f}, "
          f"append {lat['append_big'] / lat['append_small']:.2f}  (target <= 1.5)")  # fmt: skip
    total = count(tracker)

    from sqlmodel import select

    import consist

    n_found = len(tracker.find_runs(model="simulate", year=2030))
    t_find = median_ms(lambda: tracker.find_runs(model="simulate", year=2030))
    print(f"find_runs(model='simulate', year=2030): {t_find:.1f} ms, {n_found} runs  (target <= 50 ms)")
    t_one = median_ms(lambda: tracker.find_runs(parent_id="scen-0500", model="simulate", index_by="year"))
    print(f"find_runs(parent_id=, model=, index_by='year'): {t_one:.1f} ms")
    seg_id = synth_run(args.runs // 2).id
    t_id_seg = median_ms(lambda: tracker.find_run(id=seg_id), n=200)
    fresh_id = tracker.find_runs(name="latency_probe", limit=1)[0].id
    t_id_fresh = median_ms(lambda: tracker.find_run(id=fresh_id), n=200)
    print(f"find_run(id=) compacted: {t_id_seg:.2f} ms, fresh: {t_id_fresh:.2f} ms  (target <= 5 ms)")
    params = consist.pivot_facets(namespace="simulate", keys=["alpha", "beta", "mode"], value_columns={"mode": "value_str"})
    stmt = select(params.c.run_id, params.c.alpha, params.c.beta, params.c.mode)
    rows = consist.run_query(stmt, tracker=tracker).height
    t_pivot = median_ms(lambda: consist.run_query(stmt, tracker=tracker), n=15)
    print(f"pivot_facets(3 keys, namespace='simulate') via run_query: {t_pivot:.1f} ms, {rows} rows  (target <= 200 ms)")
    allp = consist.pivot_facets(keys=["alpha", "beta", "mode"], value_columns={"mode": "value_str"})
    stmt_all = select(allp.c.run_id, allp.c.alpha, allp.c.beta, allp.c.mode)
    t_pivot_all = median_ms(lambda: consist.run_query(stmt_all, tracker=tracker), n=10)
    print(f"pivot_facets(3 keys, all {total:,} runs): {t_pivot_all:.1f} ms")
    out = subprocess.run([sys.executable, "-c", COLD, str(run_dir)], capture_output=True, text=True, check=True)
    imp, find, piv, n, m, _, _ = out.stdout.split()
    print(f"new process: import+Tracker {imp} ms, first find_runs {find} ms ({n} runs), then pivot {piv} ms ({m} rows)")
    out = subprocess.run([sys.executable, "-c", COLD_FIND, str(run_dir)], capture_output=True, text=True, check=True)
    first, warm, rss, n = out.stdout.split()
    print(f"new process, find_runs(model=, year=) alone: first {first} ms imports included (target <= 1000), "
          f"warm {warm} ms (target <= 20), peak RSS {rss} MB (target <= 200), {n} runs")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", COLD_ID, str(run_dir), seg_id], capture_output=True, text=True, check=True)
    print(f"new process, first find_run(id=) of a compacted run: {out.stdout.strip()} ms (imports excluded)")
    if args.dir is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
