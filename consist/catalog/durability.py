"""When written files reach the disk: the durability policy of a tracker.

A cache entry need not survive a power loss (losing one costs a re-run), but a hit must
never be served from a torn output. Renames already make every file appear whole to
other processes; only a power loss or kernel crash can lose bytes the page cache held.
So fsync is spent according to ``durability``:

- ``"batch"`` (default): files written by finished steps are fsynced by a background
  thread in groups, and whatever is left when the process exits. A step pays no fsync.
  After a power loss the last moments' entries may name outputs whose bytes never
  reached the disk; on journaling file systems that write a file's data before its new
  size (ext4 ``data=ordered``, XFS, btrfs) such a file is short or empty, so the hit's
  size check (``verify_outputs="stat"``) re-hashes it and re-runs the step.
- ``"step"``: each step's outputs, record and cache entry are fsynced before the entry
  is renamed into place: no entry ever names bytes that are not on disk.
- ``"none"``: never fsync (scratch folders, tests on tmpfs).

A killed process (SIGKILL, OOM) loses nothing the kernel already holds, in any mode: every
file appears by rename, and the cache entry is renamed last. The full reasoning is in
``docs/performance.md``. This module owns only the policy and the flushing thread; it
never decides what to write.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Iterable

from consist.errors import ConfigError

MODES = ("batch", "step", "none")
_INTERVAL_S = 0.5


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"durability={mode!r}; expected one of {', '.join(repr(m) for m in MODES)}.")
    return mode


def fsync_path(path: str | os.PathLike[str] | None) -> None:
    """fsync one file, or every file under a folder; a path that vanished (or none) is skipped."""
    if path is None:
        return
    try:
        if os.path.isdir(path):
            for root, _dirs, files in os.walk(path):
                for name in files:
                    _fsync_file(os.path.join(root, name))
            return
        _fsync_file(os.fspath(path))
    except OSError:
        pass  # deleted or unreadable since it was written: nothing left to protect


def _fsync_file(name: str) -> None:
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Flusher:
    """Collects written paths and fsyncs them per the tracker's ``durability`` mode."""

    def __init__(self, mode: str) -> None:
        self.mode = check_mode(mode)
        self._pending: list[str | os.PathLike[str]] = []
        self._lock = threading.Lock()
        self._syncing = threading.Lock()  # held while a batch is fsynced: flush() waits for it
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def written(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        """Note files a step wrote: synced now (``"step"``) or soon (``"batch"``)."""
        if self.mode == "none":
            return
        if self.mode == "step":
            for path in paths:
                fsync_path(path)
            return
        self.later(paths)

    def later(self, paths: Iterable[str | os.PathLike[str] | None]) -> None:
        """Note files to fsync in the background soon, in ``"batch"`` and ``"step"`` modes alike.

        For files no cache entry depends on: a hit's record, in its process's journal
        (the flush also hands its lines to the server of a network file system, where
        other machines read them).
        """
        if self.mode == "none":
            return
        with self._lock:
            self._pending.extend(paths)
            if self._thread is None or self._pid != os.getpid():  # none yet, or forked: threads do not follow
                self._pid = os.getpid()
                self._start()
        if not self._wake.is_set():  # already woken: the coming flush takes these too
            self._wake.set()

    def flush(self) -> None:
        """fsync everything noted so far, in the order it was noted.

        Returns only when the batch the background thread may be syncing is done too.
        """
        with self._syncing:
            with self._lock:
                batch, self._pending = self._pending, []
            for path in dict.fromkeys(batch):  # a journal noted by every hit is synced once
                fsync_path(path)

    def _start(self) -> None:
        self._thread = threading.Thread(target=_run, args=(weakref.ref(self),), name="consist-flush", daemon=True)
        self._thread.start()
        _FLUSHERS.add(self)


def _run(ref: weakref.ref[Flusher]) -> None:
    while True:
        flusher = ref()
        if flusher is None:
            return
        wake = flusher._wake
        del flusher  # hold no strong reference while waiting
        wake.wait()
        wake.clear()
        flusher = ref()
        if flusher is None:
            return
        flusher.flush()
        del flusher
        threading.Event().wait(_INTERVAL_S)  # group the next burst of steps


_FLUSHERS: weakref.WeakSet[Flusher] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    for flusher in list(_FLUSHERS):
        flusher.flush()
