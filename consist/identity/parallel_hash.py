"""Hashing the many files of one folder (a Zarr store's chunks) on several threads.

A Zarr store is a folder of many chunk files; hashing them one after the other leaves
all but one core idle. Reading a file and blake3 over a large buffer both release the
GIL, so threads overlap them. Small files do not gain: per file, the Python work (open,
stat, the memo) holds the GIL, and threads then only take turns, so folders of small
files stay on one thread (``benchmarks/bench_zarr_hash.py`` measures both). Results
come back in the order given, so a folder's hash never depends on which thread
finished first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

# Below this many files, or this mean file size, starting threads costs more than it saves.
PARALLEL_MIN_FILES = 16
PARALLEL_MIN_MEAN_BYTES = 512 * 1024
MAX_THREADS = 8


def hash_many(paths: Sequence[str], hash_one: Callable[[str], str], total_bytes: int | None = None) -> list[str]:
    """``hash_one`` of each path, in order, on up to :data:`MAX_THREADS` threads when that pays.

    ``total_bytes`` (the files' summed size) keeps folders of small files on one thread.
    """
    workers = min(MAX_THREADS, os.cpu_count() or 1, len(paths))
    small = total_bytes is not None and total_bytes < PARALLEL_MIN_MEAN_BYTES * len(paths)
    if len(paths) < PARALLEL_MIN_FILES or workers < 2 or small:
        return [hash_one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="consist-hash") as pool:
        return list(pool.map(hash_one, paths))
