"""The runs table: ``tracker.runs_table(model=...)`` against the hand-written SQL it replaces.

Builds a catalog of N synthetic runs (default 20,000; the catalog benchmark's
generator: real appends, compaction and merges) and times, warm, the median of:

- ``tracker.runs_table(model="simulate")``: one Polars row per run with its fields,
  config leaves and facets as typed columns;
- the baseline an analyst writes by hand for the same table: ``SELECT * FROM runs``
  for that model, a ``pivot_facets`` of its six facet keys through ``run_query``, and a
  Polars join of the two.

Prints both in ms, the ratio, and the rows. Run:
``python benchmarks/bench_runs_table.py [--runs 20000] [--dir PATH]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_catalog import generate, median_ms  # noqa: E402

from consist import Tracker  # noqa: E402

KEYS = ["alpha", "beta", "mode", "solver.tol", "solver.max_iter", "seed"]


def by_hand(tracker: Tracker):
    from sqlmodel import select

    runs = tracker.run_query("SELECT * FROM runs WHERE model = ? AND status = 'completed' ORDER BY ended_at", ["simulate"])
    facets = tracker.pivot_facets("simulate", KEYS)
    return runs.join(tracker.run_query(select(facets)), left_on="id", right_on="run_id", how="left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="consist-runs-table-", dir="/root/btmp" if Path("/root/btmp").is_dir() else None))
    try:
        seconds = generate(root / "runs" / ".consist", 0, args.runs)
        print(f"generated {args.runs} runs in {seconds:.1f} s")
        tracker = Tracker(run_dir=root / "runs", db_path=root / "c.duckdb")
        tracker.compact()
        table = tracker.runs_table(model="simulate")
        baseline = by_hand(tracker)
        ours, theirs = median_ms(lambda: tracker.runs_table(model="simulate"), 10), median_ms(lambda: by_hand(tracker), 10)
        print(f"runs_table(model='simulate'): {ours:.1f} ms  ({table.height} rows x {table.width} columns)")
        print(f"hand-written SQL + pivot + join: {theirs:.1f} ms  ({baseline.height} rows x {baseline.width} columns)")
        print(f"ratio runs_table / by hand: {ours / theirs:.2f}")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
