"""A folder of many large files (a Zarr store) hashes on several threads to the same digest as one thread."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from consist.identity.hashing import Hasher, hash_file_uncached, walk_files
from consist.identity.digests import directory_hash
from consist.identity.parallel_hash import PARALLEL_MIN_FILES, PARALLEL_MIN_MEAN_BYTES, hash_many


def _store(root: Path, files: int, size: int) -> Path:
    for i in range(files):
        chunk = root / "skims.zarr" / "m" / "c" / str(i % 7) / str(i)
        chunk.parent.mkdir(parents=True, exist_ok=True)
        chunk.write_bytes(bytes([i % 256]) * (size + i))
    return root / "skims.zarr"


@pytest.mark.parametrize("size", [1000, PARALLEL_MIN_MEAN_BYTES])
def test_folder_hash_equals_the_one_thread_hash(tmp_path, size):
    """Small or large chunks, the folder's digest is that of hashing each file in order, and changes with a chunk."""
    store = _store(tmp_path, PARALLEL_MIN_FILES + 1, size)
    expected = directory_hash([(rel, hash_file_uncached(Path(full))) for rel, full in walk_files(store)])
    hasher = Hasher(None, strict=True)
    assert hasher.hash_path(store) == expected
    (store / "m" / "c" / "1" / "1").write_bytes(b"changed")
    assert hasher.hash_path(store) != expected


def test_large_files_use_threads_and_small_ones_do_not():
    """Many large files are hashed on worker threads, in order; many small ones on the calling thread."""
    paths = [str(i) for i in range(PARALLEL_MIN_FILES * 2)]
    seen: list[str] = []

    def hash_one(path: str) -> str:
        seen.append(threading.current_thread().name)
        return path * 2

    big = hash_many(paths, hash_one, total_bytes=PARALLEL_MIN_MEAN_BYTES * len(paths))
    assert big == [p * 2 for p in paths]
    assert (os.cpu_count() or 1) < 2 or all(name.startswith("consist-hash") for name in seen)
    seen.clear()
    assert hash_many(paths, hash_one, total_bytes=1000 * len(paths)) == [p * 2 for p in paths]
    assert set(seen) == {threading.current_thread().name}
