"""Orphan run folders: what a worker killed mid-step leaves behind.

Every execution claims its run id with an exclusive create (``ids/<shard>/<id>``) and
creates ``<run_dir>/<run_id>/`` before the step starts; its record is written when it
ends. A worker killed in between (Dask or Ray re-running the step elsewhere, an out of
memory kill) leaves a folder no record will ever name.

While a step runs, its process holds an ``flock`` on the id's claim file; the kernel
drops it when the process dies, however it dies. A folder is an orphan when consist
claimed its name as a run id, no record has that id, nobody holds the claim's lock,
and nothing in it changed for :data:`ORPHAN_GRACE_S` (the grace also covers a step
running on another machine, whose lock this one cannot see, and Windows, which has no
``flock``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from consist.artifacts.layout import Layout
from consist.atomic import create_exclusive, open_exclusive

try:
    import fcntl
except ImportError:  # Windows: no flock; the grace period alone protects running steps
    fcntl = None  # type: ignore[assignment]

ORPHAN_GRACE_S = 24 * 3600.0

_held: dict[str, int] = {}
_lock = threading.Lock()


def hold(layout: Layout, run_id: str) -> None:
    """Mark ``run_id`` as running in this process (until :func:`release` or process death)."""
    if fcntl is None:
        return
    try:
        fd = os.open(layout.id_claim_file(run_id), os.O_RDONLY)
    except OSError:
        return  # no claim file to lock: the grace period alone protects this run
    _lock_claim(run_id, fd)


def claim(layout: Layout, run_id: str) -> bool:
    """Create ``run_id``'s claim file exclusively and :func:`hold` it in the same open; False when taken."""
    path = layout.id_claim_file(run_id)
    if fcntl is None:
        return create_exclusive(path)
    fd = open_exclusive(path, os.O_RDONLY)
    if fd is None:
        return False
    _lock_claim(run_id, fd)
    return True


def _lock_claim(run_id: str, fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return
    with _lock:
        _held[run_id] = fd


def release(run_id: str) -> None:
    """The run ``run_id`` ended (recorded or failed): drop its running mark."""
    with _lock:
        fd = _held.pop(run_id, None)
    if fd is not None:
        os.close(fd)


def _running(claim: Path) -> bool:
    if fcntl is None:
        return False
    try:
        fd = os.open(claim, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False  # a file system without locks: the grace period decides
    finally:
        os.close(fd)
    return False


def _newest_change(folder: Path) -> float:
    newest = folder.stat().st_mtime
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:
                continue
    return newest


def find(
    run_dir: Path, layout: Layout, recorded: Callable[[str], bool], *, before: float | None = None
) -> Iterator[tuple[Path, float]]:
    """Orphan run folders in ``run_dir`` with the time they last changed (oldest grace: now - ORPHAN_GRACE_S).

    ``recorded(run_id)`` says whether a record has that id; ``before`` (a Unix time)
    narrows to folders unchanged since then.
    """
    cutoff = time.time() - ORPHAN_GRACE_S
    if before is not None:
        cutoff = min(cutoff, before)
    try:
        entries = list(os.scandir(run_dir))
    except FileNotFoundError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        claim = layout.id_claim_path(name)
        if not claim.exists():
            continue
        folder = Path(entry.path)
        changed = _newest_change(folder)
        # Running first: a step records its run before it drops its lock.
        if changed < cutoff and not _running(claim) and not recorded(name):
            yield folder, changed
