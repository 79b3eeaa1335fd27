"""A folder of many files (a Zarr store) hashes on several threads to the same digest as one thread."""

from __future__ import annotations

from pathlib import Path

from consist.hashing import Hasher, hash_file_uncached, walk_files
from consist.identity import directory_hash
from consist.parallel_hash import PARALLEL_MIN_FILES, hash_many


def _store(root: Path, files: int) -> Path:
    for i in range(files):
        chunk = root / "skims.zarr" / "m" / "c" / str(i % 7) / str(i)
        chunk.parent.mkdir(parents=True, exist_ok=True)
        chunk.write_bytes(bytes([i % 256]) * (1000 + i))
    return root / "skims.zarr"


def test_threaded_folder_hash_equals_the_one_thread_hash(tmp_path):
    """Hashing many chunk files in parallel gives the digest of hashing them in order, and it changes with a chunk."""
    store = _store(tmp_path, PARALLEL_MIN_FILES * 4)
    expected = directory_hash([(rel, hash_file_uncached(Path(full))) for rel, full in walk_files(store)])
    hasher = Hasher(None, strict=True)
    assert hasher.hash_path(store) == expected
    (store / "m" / "c" / "1" / "1").write_bytes(b"changed")
    assert hasher.hash_path(store) != expected


def test_results_come_back_in_the_order_given():
    """hash_many keeps the input order whichever thread finishes first."""
    paths = [str(i) for i in range(PARALLEL_MIN_FILES * 3)]
    assert hash_many(paths, lambda p: p * 2) == [p * 2 for p in paths]
