"""Is the disk in its slow state? Microseconds to create, write and rename one small file.

Run: ``python benchmarks/disk_probe.py [--files 300] [folder]`` (default: ``$TMPDIR``).

Creates ``files`` 100-byte files in a new folder under ``folder`` (each written to a
temporary name, then renamed, as consist writes a cache entry), prints the mean cost of
one, and deletes them again. On the development VM (ext4 mounted with ``discard``) this
is 20-40 us while the disk is fast and 100-700 us in its "slow state", which follows
many or large deletions; benchmark figures that create files are comparable only within
one state, so print this before and after a benchmark.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time


def probe(folder: str, files: int) -> float:
    """Mean microseconds to create, write and rename one small file in a new folder under ``folder``."""
    base = tempfile.mkdtemp(prefix="probe-", dir=folder)
    try:
        start = time.perf_counter()
        for i in range(files):
            target = os.path.join(base, f"f{i}")
            fd = os.open(target + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b"x" * 100)
            os.close(fd)
            os.replace(target + ".tmp", target)
        return (time.perf_counter() - start) / files * 1e6
    finally:
        shutil.rmtree(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=tempfile.gettempdir())
    parser.add_argument("--files", type=int, default=300)
    args = parser.parse_args()
    print(f"create+rename probe in {args.folder}: {probe(args.folder, args.files):.0f} us a file ({args.files} files)")


if __name__ == "__main__":
    main()
