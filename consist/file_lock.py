"""Portable inter-process file locks (compaction, hot-database writers).

One lock is a file next to what it guards, held through the ``filelock`` library: an OS
lock (``flock`` on Unix, ``msvcrt`` on Windows) where the file system supports one,
else a lock file created exclusively (``SoftFileLock``). ``CONSIST_SOFT_LOCKS=1`` chooses
the lock-file form everywhere, for shared file systems whose OS locks do not work
across machines (and for testing that path).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SOFT_ENV = "CONSIST_SOFT_LOCKS"


def soft_locks() -> bool:
    """Whether lock files are used instead of OS locks (``CONSIST_SOFT_LOCKS=1``)."""
    return os.environ.get(SOFT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def file_lock(path: Path) -> Any:
    """A ``filelock`` lock on ``path`` (not yet acquired), of the kind :func:`soft_locks` picks."""
    import filelock

    cls = filelock.SoftFileLock if soft_locks() else filelock.FileLock
    return cls(str(path), thread_local=False)


def acquire(path: Path, *, blocking: bool = True, timeout: float = -1) -> Any:
    """The lock on ``path``, acquired; ``None`` when busy and ``blocking`` is False.

    ``timeout`` (seconds, -1 waits for ever) applies when blocking; a wait that runs out
    raises ``filelock.Timeout``. A file system that cannot lock raises ``OSError``.
    """
    import filelock

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = file_lock(path)
    try:
        lock.acquire(timeout=timeout, blocking=blocking)
    except filelock.Timeout:
        if blocking:
            raise
        return None
    return lock


@contextmanager
def attempt(path: Path, *, blocking: bool = False, on_error: Any = None) -> Iterator[bool]:
    """Hold the lock on ``path`` for the block if it can be had: yields False when another
    process holds it (with ``blocking=False``) or the file system cannot lock, in which
    case ``on_error(exc)`` is called first (for a one-time warning)."""
    try:
        lock = acquire(path, blocking=blocking)
    except OSError as exc:
        if on_error is not None:
            on_error(exc)
        lock = None
    if lock is None:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


@contextmanager
def held(path: Path, *, timeout: float = -1) -> Iterator[None]:
    """Hold the lock on ``path`` for the block, waiting at most ``timeout`` seconds (-1: for ever).

    Raises
    ------
    CatalogError
        The wait ran out: the message names the lock file.
    """
    import filelock

    from consist.errors import CatalogError

    try:
        lock = acquire(path, timeout=timeout)
    except filelock.Timeout:
        raise CatalogError(
            f"waited {timeout:g} s for the lock {path}, which another process holds. If no consist process is "
            f"running (a lock file left by a killed process, with {SOFT_ENV}=1), delete that file and retry."
        ) from None
    try:
        yield
    finally:
        lock.release()
