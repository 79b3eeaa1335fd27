"""Container steps: a cache hit (with its one engine call) beside the same step run cold.

Run: ``python benchmarks/bench_containers.py [--hits 200] [--cold 5]`` with a Docker
engine answering (``bash scripts/start-docker.sh`` starts one and imports the test
image ``consist-test/busybox:1``). Prints medians; the target is a hit, including
the engine call that resolves the tag to its content id, in at most 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from consist import EngineUnavailableError, Tracker
from consist.executors import _docker_engine as engine
from consist.integrations.containers import run_container

IMAGE = "consist-test/busybox:1"
TARGET_MS = 20.0


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=200)
    parser.add_argument("--cold", type=int, default=5)
    args = parser.parse_args()
    try:
        engine.image_digest(IMAGE)  # connects once, as any first call in a process does
    except EngineUnavailableError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs, outputs = work / "data" / "inputs", work / "data" / "outputs"
        inputs.mkdir(parents=True)
        outputs.mkdir()
        (inputs / "input.csv").write_text("zone,pop\n" + "".join(f"{i},{i * 10}\n" for i in range(1000)))
        tracker = Tracker(run_dir=work / "runs")

        def call(cache_mode: str = "reuse"):
            return run_container(
                tracker=tracker,
                run_id="model_2030",
                image=IMAGE,
                command=["sh", "-c", "cp /inputs/input.csv /outputs/results.csv"],
                volumes={str(inputs): "/inputs", str(outputs): "/outputs"},
                inputs=[inputs / "input.csv"],
                outputs={"results": outputs / "results.csv"},
                cache_mode=cache_mode,
            )

        cold, hits, digests = [], [], []
        for _ in range(args.cold):  # "overwrite": the same step, executed every time
            t0 = time.perf_counter()
            assert not call("overwrite").cache_hit
            cold.append(time.perf_counter() - t0)
        for _ in range(args.hits):
            t0 = time.perf_counter()
            assert call().cache_hit
            hits.append(time.perf_counter() - t0)
        for _ in range(args.hits):
            t0 = time.perf_counter()
            engine.image_digest(IMAGE)
            digests.append(time.perf_counter() - t0)

    hit, cold_ms, digest = median_ms(hits), median_ms(cold), median_ms(digests)
    print(f"container step, cold run (container executes): {cold_ms:9.2f} ms median of {args.cold}")
    print(f"container step, cache hit (no container):      {hit:9.2f} ms median of {args.hits}"
          f"  (p90 {statistics.quantiles(hits, n=10)[-1] * 1e3:.2f} ms)")
    print(f"  of which the engine call (tag -> image id):  {digest:9.2f} ms median")
    print(f"hit / cold: {hit / cold_ms:.1%}   speed-up: {cold_ms / hit:.0f}x")
    verdict = "ok" if hit <= TARGET_MS else "OVER TARGET"
    print(f"target: hit <= {TARGET_MS:.0f} ms -> {verdict}")
    return 0 if hit <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
