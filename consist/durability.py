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
``docs/performance.md``.

The same thread writes the run records of cache hits (:meth:`Flusher.write_later`),
except with ``"step"``: a hit's record is history, not a cache entry, so a hit returns
without waiting for a file to be created. Until written, such a record is readable through
:func:`unwritten`, and anything that lists the records folder calls :func:`drain` first;
the process writes them all at exit. A process killed meanwhile loses the last half
second of hit records, never a cache entry. This module owns only the policy and the
flushing thread; it never decides what to write.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Iterable
from pathlib import Path

from consist.atomic import write_bytes
from consist.errors import ConfigError

log = logging.getLogger("consist.catalog")

MODES = ("batch", "step", "none")
_INTERVAL_S = 0.5


# Process-wide: path -> bytes handed to write_later and not yet written (every tracker's).
_UNWRITTEN: dict[str, bytes] = {}
_UNWRITTEN_LOCK = threading.Lock()
_DRAINING = threading.Lock()


def unwritten(path: Path) -> bytes | None:
    """The bytes of ``path`` if they were handed to :meth:`Flusher.write_later` and not written yet."""
    return _UNWRITTEN.get(os.fspath(path)) if _UNWRITTEN else None


def drain() -> None:
    """Write every file handed to :meth:`Flusher.write_later` so far (call before listing their folder)."""
    if not _UNWRITTEN:
        return
    with _DRAINING:
        with _UNWRITTEN_LOCK:
            items = list(_UNWRITTEN.items())
        for name, data in items:
            try:
                write_bytes(Path(name), data)
            except OSError as exc:  # history only: a hit's record lost to a full disk
                log.warning("could not write the run record %s: %s", name, exc)
            with _UNWRITTEN_LOCK:  # dropped only once on disk: readers see it in one place or the other
                if _UNWRITTEN.get(name) is data:
                    del _UNWRITTEN[name]


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"durability={mode!r}; expected one of {', '.join(repr(m) for m in MODES)}.")
    return mode


def fsync_path(path: Path) -> None:
    """fsync one file, or every file under a folder; a path that vanished is skipped."""
    try:
        if path.is_dir():
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
        self._pending: list[Path] = []
        self._lock = threading.Lock()
        self._syncing = threading.Lock()  # held while a batch is fsynced: flush() waits for it
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def written(self, paths: Iterable[Path]) -> None:
        """Note files a step wrote: synced now (``"step"``) or soon (``"batch"``)."""
        if self.mode == "none":
            return
        if self.mode == "step":
            for path in paths:
                fsync_path(path)
            return
        with self._lock:
            self._pending.extend(paths)
        self._wake_thread()

    def write_later(self, path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` atomically soon, on the flushing thread (now with ``"step"``)."""
        if self.mode == "step":
            write_bytes(path, data)
            return
        with _UNWRITTEN_LOCK:
            _UNWRITTEN[os.fspath(path)] = data
        self._wake_thread()

    def _wake_thread(self) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():  # none yet, or forked: threads do not follow
                self._pid = os.getpid()
                self._start()
        self._wake.set()

    def flush(self) -> None:
        """Write what :meth:`write_later` holds, then fsync everything noted so far, in order.

        Returns only when the batch the background thread may be syncing is done too.
        """
        drain()
        with self._syncing:
            with self._lock:
                batch, self._pending = self._pending, []
            for path in batch:
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
    drain()
    for flusher in list(_FLUSHERS):
        flusher.flush()
