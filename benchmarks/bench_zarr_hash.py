"""Hashing a Zarr store: consist's threaded chunk hashing vs the same hasher on one thread.

Run: ``python benchmarks/bench_zarr_hash.py [--side 4000 --chunk 500 --repeats 9]``.
Writes one float64 array (side x side) chunked chunk x chunk under ``TMPDIR``, then
hashes it with ``Hasher(strict=True).hash_path`` (no memo, so every chunk is read) as
consist does, and with threads turned off (same hasher, same digest). Stores of small
chunks (``--chunk 100``: 70 KiB each) stay on one thread by design, so both figures
match there. The two
are measured alternately, so a busy machine slows both alike. Prints medians, the
ratio, and the load average (threads only help with idle cores or a slow disk).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

import consist.identity.parallel_hash as parallel
from consist.identity.hashing import Hasher, walk_files


def once(hasher: Hasher, store: Path, threads: bool) -> tuple[float, str]:
    parallel.MAX_THREADS = 8 if threads else 1
    t0 = time.perf_counter()
    value = hasher.hash_path(store)
    return time.perf_counter() - t0, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=4000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        store = Path(work) / "skims.zarr"
        shape, chunks = (args.side, args.side), (args.chunk, args.chunk)
        array = zarr.create_array(store=str(store), shape=shape, chunks=chunks, dtype="f8")
        array[:] = np.random.default_rng(0).random((args.side, args.side))
        files = sum(1 for _ in walk_files(store))
        mib = sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / 2**20
        hasher = Hasher(None, strict=True)
        one, threads = [], []
        for _ in range(args.repeats):
            seconds, base = once(hasher, store, False)
            one.append(seconds)
            seconds, ours = once(hasher, store, True)
            threads.append(seconds)
            assert base == ours, "threaded and one-thread digests differ"
        base_s, ours_s = statistics.median(one), statistics.median(threads)
        print(f"store: {files} files, {mib:.1f} MiB; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        print(f"one thread (baseline): {base_s * 1e3:8.1f} ms  ({mib / base_s:7.1f} MiB/s)")
        print(f"threads (consist):     {ours_s * 1e3:8.1f} ms  ({mib / ours_s:7.1f} MiB/s)")
        print(f"speed-up: {base_s / ours_s:.2f}x")


if __name__ == "__main__":
    main()
