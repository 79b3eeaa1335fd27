"""Record journals: each process appends its run records to a file of its own, one line each.

A run record used to be a file of its own (an id claim, a temporary file, a rename: three
file-system entries a run). A journal is one file a process opens once, in
``records/fresh`` beside the record files, named ``~journal-<time>-<pid>-<tag>.json``;
each record is one ``write`` of its JSON bytes and a newline (``O_APPEND``). The format
is newline-delimited JSON, so the catalog file's DuckDB views read journals with the
same glob as record files. Reading them is :mod:`consist.catalog.journal_index`.

A later line of one journal with the same run id replaces an earlier one: the writer
cuts its journal back to before its newest line when the same run is recorded again
(completed, then failed because its bookkeeping failed), with a line of another length.

A writer holds an ``flock`` on its journal for as long as it may append (the kernel
drops it when the process dies, however it dies), and publishes the file by a rename
only once locked, so no reader sees an unlocked live journal. It moves to a new journal
every ``max_records`` records, after :data:`IDLE_S` of quiet, after a fork, and when its
own process compacts, so sealed journals keep coming while a process runs.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
import weakref
from pathlib import Path

from consist.atomic import name_target
from consist.catalog.journal_index import IDLE_S, PREFIX, STALE_S, SUFFIX

try:
    import fcntl
except ImportError:  # Windows: no flock; the age of a journal alone says it is sealed
    fcntl = None  # type: ignore[assignment]

_COUNTER = itertools.count()
_generation = 0  # bumped in a forked child: a child never appends to its parent's journal


def _forked() -> None:
    global _generation
    _generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)

_writers: weakref.WeakSet[JournalWriter] = weakref.WeakSet()


def seal_own(folder: Path) -> None:
    """Seal the journals this process appends to in ``folder``: their next records start new ones.

    A compaction does this first, so it can fold and later delete every journal of its
    own process, not just those of processes that ended.
    """
    real = os.path.realpath(folder)
    for writer in list(_writers):
        if writer.real == real:
            writer.seal()


class JournalWriter:
    """Appends records to this process's journal in one folder (thread-safe)."""

    def __init__(self, folder: Path, max_records: int) -> None:
        self.folder = folder
        self.real = os.path.realpath(folder)
        self.max_records = max(1, max_records)
        self.path: str | None = None
        self._fd = -1
        self._size = 0
        self._count = 0
        self._last_at = 0.0
        self._last: tuple[str, int] | None = None  # run id and start of the newest line
        self._generation = -1
        self._lock = threading.Lock()
        _writers.add(self)

    def __del__(self) -> None:
        if self._generation == _generation:
            self._close()  # a forgotten tracker's journal is sealed, not held until the process ends

    def seal(self) -> None:
        """Append no more to the current journal (the next record starts a new one)."""
        with self._lock:
            if self._generation == _generation:
                self._close()

    def append(self, data: bytes, run_id: str) -> bool:
        """Append one record (``data``, JSON without a newline); whether it replaced a line.

        A record of the same run as the newest line replaces that line (the journal is
        cut back to before it), and is never of the same length: readers that read the
        old line notice the change by size. A failed write leaves the journal as it was
        before (or, when even that fails, it is left behind with its torn tail and the
        next record starts a new journal).
        """
        line = data + b"\n"
        with self._lock:
            now = time.monotonic()
            if (
                self._fd < 0 or self._generation != _generation or self._count >= self.max_records
                or now - self._last_at > IDLE_S
            ):  # fmt: skip
                self._open()
            replaced = self._last is not None and self._last[0] == run_id
            if replaced:
                start, old = self._last[1], self._size - self._last[1]  # type: ignore[index]
                if len(line) == old:
                    line = data + b" \n"  # JSON allows the space; the length tells readers it changed
                self._truncate(start)
                if self._fd < 0:
                    self._open()
                    replaced = False
            start = self._size
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(self._fd, view) :]
            except BaseException as exc:
                self._truncate(start)
                name_target(exc, self.path or self.folder)
                raise
            self._size, self._count, self._last_at = start + len(line), self._count + 1, now
            self._last = (run_id, start)
            return replaced

    def drop(self, run_id: str) -> bool:
        """Remove ``run_id``'s record if it is the newest line of this journal; whether it was."""
        with self._lock:
            if self._last is None or self._last[0] != run_id or self._generation != _generation:
                return False
            self._truncate(self._last[1])
            return self._fd >= 0

    def _truncate(self, size: int) -> None:
        try:
            os.ftruncate(self._fd, size)
            self._size, self._last = size, None
        except OSError:
            self._close()  # a torn tail stays behind: readers ignore it, the next record opens a new journal

    def _open(self) -> None:
        self._close()  # sealed: the lock goes with the last descriptor (a forked child's copy included)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"{PREFIX}{stamp}-{os.getpid()}-{secrets.token_hex(4)}{next(_COUNTER):x}{SUFFIX}"
        final = os.path.join(self.folder, name)
        tmp = os.path.join(self.folder, f".{name}.tmp")  # published locked: never seen unlocked while live
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        try:
            fd = os.open(tmp, flags, 0o644)
        except FileNotFoundError:
            os.makedirs(self.folder, exist_ok=True)
            fd = os.open(tmp, flags, 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    pass  # a file system without locks: the journal's age decides when it is sealed
            os.rename(tmp, final)
        except BaseException as exc:
            os.close(fd)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            name_target(exc, final)
            raise
        self._fd, self.path, self._size, self._count, self._last = fd, final, 0, 0, None
        self._generation = _generation

    def _close(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd, self._last = -1, None


def remove_abandoned_temps(folder: Path) -> int:
    """Delete journal temp files a killed writer left; how many.

    A journal is created empty under a temporary name and renamed at once (records are
    appended only after), so a temp file older than :data:`STALE_S` holds nothing and
    has no writer.
    """
    removed = 0
    cutoff = time.time() - STALE_S
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if entry.name.startswith("." + PREFIX) and entry.name.endswith(SUFFIX + ".tmp"):
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                pass
    return removed
