"""Hashing a Zarr store: consist's threaded chunk hashing vs one thread over the same files.

Run: ``python benchmarks/bench_zarr_hash.py [--side 4000 --chunk 100]``. Writes one
float64 array (side x side) chunked chunk x chunk under ``TMPDIR``, then hashes it with
``Hasher(strict=True).hash_path`` (no memo, so every chunk is read) and with the
single-threaded loop it replaced (each file read and hashed in turn, same digest).
Prints medians of a few repeats and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

from consist.hashing import Hasher, hash_file_uncached, walk_files
from consist.identity import directory_hash


def sequential(store: Path) -> str:
    return directory_hash([(rel, hash_file_uncached(Path(full))) for rel, full in walk_files(store)])


def timed(fn, repeats: int) -> tuple[float, str]:
    samples, value = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=4000)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        store = Path(work) / "skims.zarr"
        array = zarr.create_array(store=str(store), shape=(args.side, args.side), chunks=(args.chunk, args.chunk), dtype="f8")
        array[:] = np.random.default_rng(0).random((args.side, args.side))
        files = sum(1 for _ in walk_files(store))
        mib = sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / 2**20
        hasher = Hasher(None, strict=True)
        base_s, base = timed(lambda: sequential(store), args.repeats)
        ours_s, ours = timed(lambda: hasher.hash_path(store), args.repeats)
        assert base == ours, "threaded and sequential digests differ"
        print(f"store: {files} files, {mib:.1f} MiB")
        print(f"one thread (baseline): {base_s * 1e3:8.1f} ms  ({mib / base_s:7.1f} MiB/s)")
        print(f"consist hash_path:     {ours_s * 1e3:8.1f} ms  ({mib / ours_s:7.1f} MiB/s)")
        print(f"speed-up: {base_s / ours_s:.2f}x")


if __name__ == "__main__":
    main()
