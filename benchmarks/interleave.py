"""Run a benchmark against two trees of consist alternately and print the medians of its figures.

On a shared machine the load and the disk's state drift within minutes, so "before" and
"after" are measured in turns (before, after, after, before, then the mirror), each run
in a fresh ``TMPDIR``, with the tree put first on ``PYTHONPATH``::

    git archive <commit> | tar -x -C /path/to/before
    python benchmarks/interleave.py --before /path/to/before --after . --rounds 2 \\
        bench_core.py --gib 0.1 --repeats 300

The benchmark script itself is taken from ``--after``. Every figure of the form
``<label> ... <number> ms`` / ``<number>x`` the parsers below know is collected.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PATTERNS = {
    "hit_loop_ms": r"cache hit \(.*median ([\d.]+) ms",
    "hit_ms": r"cache hit: consist ([\d.]+) ms vs joblib",
    "hit_x": r"cache hit: consist [\d.]+ ms vs joblib hit [\d.]+ ms = ([\d.]+)x",
    "hit_load_ms": r"hit \+ load ([\d.]+) ms",
    "hit_load_x": r"hit \+ load [\d.]+ ms = ([\d.]+)x",
    "cold_joblib_x": r"consist / joblib ([\d.]+)x",
    "cold_hand_x": r"consist / hand-written ([\d.]+)x",
    "chain_first_x": r"cold sc.run / bare work:\s+([\d.]+)x",
    "chain_last_x": r"cold sc.run / bare work:\s+[\d.]+x / ([\d.]+)x",
    "over_first_ms": r"cold sc.run over the work:\s+([\d.]+) /",
    "over_last_ms": r"cold sc.run over the work:\s+[\d.]+ / ([\d.]+) ms",
    "cached_first_ms": r"cached sc.run per step:\s+([\d.]+) /",
    "cached_last_ms": r"cached sc.run per step:\s+[\d.]+ / ([\d.]+) ms",
    "chain_wall_x": r"cold sc.run chain wall / by hand: ([\d.]+)x",
    "chain_wall_ms": r"chain wall a step: by hand [\d.]+ ms, sc.run ([\d.]+) ms",
}


def figures(text: str) -> dict[str, float]:
    found = {}
    for name, pattern in PATTERNS.items():
        match = re.search(pattern, text)
        if match:
            found[name] = float(match[1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, type=Path)
    parser.add_argument("--after", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tmp", type=Path, default=None, help="where each run's TMPDIR is made")
    parser.add_argument("bench")
    args, rest = parser.parse_known_args()
    script = args.after.resolve() / "benchmarks" / args.bench
    order: list[str] = []
    for k in range(args.rounds):
        order += ["before", "after", "after", "before"] if k % 2 == 0 else ["after", "before", "before", "after"]
    seen: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for which in order:
        tree = (args.before if which == "before" else args.after).resolve()
        tmp = tempfile.mkdtemp(dir=args.tmp)
        load = os.getloadavg()[0]
        env = {**os.environ, "TMPDIR": tmp, "PYTHONPATH": str(tree)}
        done = subprocess.run([sys.executable, str(script), *rest], env=env, cwd=tree, capture_output=True, text=True)
        shutil.rmtree(tmp, ignore_errors=True)
        if done.returncode:
            print(f"{which}: failed\n{done.stderr[-2000:]}", flush=True)
            continue
        found = figures(done.stdout)
        seen[which].append(found)
        print(f"{which:6} load {load:5.2f}  {found}", flush=True)
    for which, runs in seen.items():
        names = sorted({k for run in runs for k in run})
        print(which, "medians:", {k: round(statistics.median(r[k] for r in runs if k in r), 3) for k in names})


if __name__ == "__main__":
    main()
