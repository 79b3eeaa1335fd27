"""Why a cache hit costs more between other work: the hit after each kind of interruption.

Run: ``python benchmarks/bench_hit_interleaved.py [--repeats 400]``.

``bench_core.py`` times consist's hit interleaved with a ``joblib.Memory`` hit, and it
comes out about twice the hit timed in a loop of hits alone. This script times the same
hit (``tracker.run`` of the peer step, 1,000-row CSV input) right after each of several
interruptions, to tell the candidate causes apart:

- garbage collection: the joblib hit with the collector off;
- the file system: 200 ``stat`` calls, or creating and deleting 20 files;
- CPU caches: reading or writing 8 MiB of memory (no allocation, no system call),
  or 16 KiB 50 times (stays in cache);
- the processor idling: sleeping 1.5 ms.

Each figure is the median hit time (ms) and its CPU time; wall and CPU agree when the
hit waits on nothing, so a slower hit is one that executes slower.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench_core import peer_step  # noqa: E402

from consist import Tracker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        raw = work / "peer.csv"
        pd.DataFrame({"id": range(1000), "value": [i / 1000 for i in range(1000)]}).to_csv(raw, index=False)
        old = time.time() - 10
        os.utime(raw, (old, old))
        time.sleep(2.1)  # the hash memo takes a file 2 s after its last change (its ctime)
        tracker = Tracker(run_dir=work / "runs")
        cached = joblib.Memory(work / "joblib", verbose=0).cache(peer_step)
        big = np.ones(8 << 20, dtype=np.uint8)
        small = np.ones(16 << 10, dtype=np.uint8)
        scratch = work / "scratch"
        scratch.mkdir()

        def hit() -> bool:
            result = tracker.run(fn=peer_step, inputs={"raw": raw}, config={"threshold": 0.5}, outputs=["out"])
            return result.cache_hit

        def joblib_hit() -> None:
            cached(pd.read_csv(raw), 0.5)

        def files() -> None:
            for i in range(20):
                (scratch / str(i)).write_bytes(b"x")
            for i in range(20):
                (scratch / str(i)).unlink()

        hit()  # the miss that fills the cache
        joblib_hit()
        cases = [
            ("nothing (hits alone)", None, False),
            ("a joblib hit", joblib_hit, False),
            ("a joblib hit, collector off", joblib_hit, True),
            ("200 stat calls", lambda: [os.stat(raw) for _ in range(200)], False),
            ("20 files created and deleted", files, False),
            ("reading 8 MiB", big.sum, False),
            ("writing 8 MiB", lambda: big.fill(1), False),
            ("reading 16 KiB x 50", lambda: [small.sum() for _ in range(50)], False),
            ("sleeping 1.5 ms", lambda: time.sleep(0.0015), False),
        ]
        print(f"consist cache hit after each interruption, median of {args.repeats} (ms)")
        for label, before, collector_off in cases:
            wall, cpu = [], []
            if collector_off:
                gc.disable()
            try:
                for _ in range(args.repeats):
                    if before is not None:
                        before()
                    t0, c0 = time.perf_counter(), time.process_time()
                    assert hit()
                    wall.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
            finally:
                gc.enable()
            print(f"  after {label:32} {statistics.median(wall) * 1e3:6.3f} (CPU {statistics.median(cpu) * 1e3:6.3f})")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
