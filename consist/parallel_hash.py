"""Hashing the many files of one folder (a Zarr store's chunks) on several threads.

A Zarr store is a folder of thousands of small chunk files; hashing them one after the
other leaves the disk and all but one core idle. Reading a file and blake3 both release
the GIL, so threads overlap them. Results come back in the order given, so a folder's
hash never depends on which thread finished first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

# Below this many files, starting threads costs more than it saves.
PARALLEL_MIN_FILES = 16
MAX_THREADS = 8


def hash_many(paths: Sequence[str], hash_one: Callable[[str], str]) -> list[str]:
    """``hash_one`` of each path, in order, on up to :data:`MAX_THREADS` threads."""
    workers = min(MAX_THREADS, os.cpu_count() or 1, len(paths))
    if len(paths) < PARALLEL_MIN_FILES or workers < 2:
        return [hash_one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="consist-hash") as pool:
        return list(pool.map(hash_one, paths))
