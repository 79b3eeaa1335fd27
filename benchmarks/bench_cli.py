"""The command's speed: how long `import consist.cli` takes, and `consist runs` on a big catalog.

Prints, each as the median of several fresh processes (the way a person meets them):

- ``python -c "import consist.cli"`` against a bare ``python -c pass`` (target: the
  import itself under 300 ms);
- ``consist --run-dir DIR runs`` (the installed script, first page of 20, newest first)
  on a catalog of N runs (default 100,000; target under 1 s to the printed page), and
  ``consist runs --scenario S --year Y`` (a filtered page), against the bare interpreter.

The catalog is generated with the catalog benchmark's generator
(``benchmarks/bench_catalog.py``: every record through ``RecordStore.append`` from two
processes, compacted into Parquet segments as in production).

Run: ``python benchmarks/bench_cli.py [--runs 100000] [--dir PATH] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_catalog import generate

from consist import Tracker


def median_s(argv: list[str], repeats: int) -> float:
    """Median wall time of running ``argv`` to completion (output discarded)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def script() -> str:
    found = Path(sys.executable).parent / "consist"
    if found.exists():
        return str(found)
    which = shutil.which("consist")
    if which is None:
        raise SystemExit("the consist script is not installed: run `pip install -e .` first")
    return which


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="keep the catalog here (reused if present)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench_cli_"))
    tracker = Tracker(run_dir=base / "big")
    have = int(tracker.run_query("SELECT count(*) AS n FROM runs")["n"][0])
    if have < args.runs:
        took = generate(tracker.layout.root, have, args.runs)
        print(f"generated {args.runs - have:,} runs in {took:.1f} s")
        tracker.compact()
    # Replaced segments linger for a grace period; a later compaction deletes them.
    tracker.compact()
    total = int(tracker.run_query("SELECT count(*) AS n FROM runs")["n"][0])
    print(f"catalog: {tracker.run_dir} ({total:,} runs, {len(tracker.catalog.segments.live)} live segments)")

    bare = median_s([sys.executable, "-c", "pass"], args.repeats)
    imp = median_s([sys.executable, "-c", "import consist.cli"], args.repeats)
    print(f"bare interpreter: {bare * 1000:.0f} ms")
    print(f"import consist.cli: {imp * 1000:.0f} ms in a fresh process, {(imp - bare) * 1000:.0f} ms over bare "
          "(target: < 300 ms)")  # fmt: skip
    cmd = [script(), "--run-dir", str(tracker.run_dir)]
    subprocess.run([*cmd, "runs"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)  # builds the file if missing
    first = median_s([*cmd, "runs"], args.repeats)
    print(f"consist runs (first page of 20, {total:,} runs): {first * 1000:.0f} ms end to end, "
          f"{first / bare:.1f}x a bare interpreter (target: < 1 s)")  # fmt: skip
    filtered = median_s([*cmd, "runs", "--scenario", "scen-0500", "--year", "2030"], args.repeats)
    print(f"consist runs --scenario --year: {filtered * 1000:.0f} ms end to end")
    paged = median_s([*cmd, "runs", "--page", "500"], args.repeats)
    print(f"consist runs --page 500 (rows 9,981-10,000): {paged * 1000:.0f} ms end to end")
    if args.dir is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
