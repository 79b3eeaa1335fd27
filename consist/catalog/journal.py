"""Record journals: each process appends its run records to a file of its own, one line each.

A run record used to be a file of its own (an id claim, a temporary file, a rename: three
file-system entries a run). A journal is one file a process opens once, in
``records/fresh`` beside the record files, named ``~journal-<time>-<pid>-<tag>.json``;
each record is one ``write`` of its JSON bytes and a newline (``O_APPEND``). The format
is newline-delimited JSON, so the catalog file's DuckDB views read journals with the
same glob as record files.

Only complete lines count: a line is complete once its newline is written, so a reader
that meets a record being written, or the tail a killed writer left, reads the lines
before it and nothing else, silently. A complete line that does not decode is damage,
reported like a damaged record file. A later line of one journal with the same run id
replaces an earlier one (a run recorded completed, then failed because its bookkeeping
failed).

A journal is **sealed** once its writer is gone: the writer holds an ``flock`` on it
for as long as it may append (the kernel drops it when the process dies, however it
dies) and the file is published by a rename only once locked, so no reader sees an
unlocked live journal. Without working locks, a journal untouched for
:data:`STALE_S` is sealed (writers move to a new journal after :data:`IDLE_S` of
quiet). Compaction folds the lines of every journal into segments and deletes a journal
only once it is sealed and a segment holds each of its records (see
:mod:`consist.catalog.compaction`). A writer moves to a new journal every
``max_records`` records, so sealed journals keep coming while a process runs.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from consist.atomic import name_target
from consist.catalog.codec import JOURNAL_PREFIX, decode_id
from consist.errors import CatalogError

try:
    import fcntl
except ImportError:  # Windows: no flock; the age of a journal alone says it is sealed
    fcntl = None  # type: ignore[assignment]

PREFIX = JOURNAL_PREFIX
SUFFIX = ".json"
IDLE_S = 600.0  # a writer quiet this long starts a new journal before its next record
STALE_S = 2 * IDLE_S  # without locks: a journal untouched this long has no writer
_COUNTER = itertools.count()
_generation = 0  # bumped in a forked child: a child never appends to its parent's journal


def _forked() -> None:
    global _generation
    _generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def is_journal(name: str) -> bool:
    """Whether the fresh file ``name`` is a journal (else a one-record file named after its run id)."""
    return name.startswith(PREFIX) and name.endswith(SUFFIX)


def journal_names(folder: Path) -> list[str]:
    """Names of the journals in ``folder`` (the fresh record folder), in :func:`precedence` order."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted((n for n in names if is_journal(n)), key=precedence)


def precedence(name: str) -> tuple[int, int, str]:
    """Sort key of fresh files: when two hold one run id differently, the first read wins.

    Record files come first (among them, the one named after its id wins, see the
    readers); then journals, shorter names first: a sync tool's copy of a journal
    (``... (conflicted copy).json``) has a longer name than the original.
    """
    return (1, len(name), name) if is_journal(name) else (0, 0, name)


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


def sealed(path: Path) -> bool:
    """Whether no writer may append to the journal at ``path`` any more (see the module docstring)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        age = time.time() - os.fstat(fd).st_mtime
        if fcntl is None:
            return age > STALE_S
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError:
            return age > STALE_S  # no working locks here
        return True
    finally:
        os.close(fd)


def split_lines(data: bytes, base: int = 0) -> tuple[list[tuple[int, bytes]], int]:
    """The complete lines of ``data`` with their offsets (``base`` + position), and the end of the last one."""
    end = data.rfind(b"\n") + 1
    lines = []
    pos = 0
    while pos < end:
        nl = data.index(b"\n", pos)
        if nl > pos:
            lines.append((base + pos, data[pos:nl]))
        pos = nl + 1
    return lines, base + end


@dataclass
class JournalFile:
    """What has been read of one journal: its records by run id (the last line of each wins)."""

    ino: int = -1
    end: int = 0
    records: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # run id -> (offset, line)
    damaged: list[int] = field(default_factory=list)  # offsets of complete lines that do not decode
    tail: bytes = b""  # the last complete line read, with its newline: a replaced one is noticed
    mtime_ns: int = 0

    def add(self, data: bytes, base: int) -> list[str]:
        """Take the complete lines of ``data`` (read from offset ``base``); the run ids new to this journal."""
        lines, self.end = split_lines(data, base)
        new = []
        if lines:
            self.tail = data[lines[-1][0] - base : self.end - base]
        for offset, line in lines:
            try:
                run_id = decode_id(line)
            except msgspec.DecodeError:
                self.damaged.append(offset)
                continue
            if self.records.pop(run_id, None) is None:  # keep insertion order: the replacing line is the newest
                new.append(run_id)
            self.records[run_id] = (offset, line)
        return new


def read_journal(path: Path) -> JournalFile:
    """Every complete line of the journal at ``path`` (empty when it is gone)."""
    found = JournalFile()
    data = _read_from(path, 0)
    if data is not None:
        found.add(data, 0)
    return found


def _read_from(path: Path, offset: int) -> bytes | None:
    """The bytes of ``path`` from ``offset``; None when it is gone. A failed read is a :class:`CatalogError` naming it."""
    try:
        with open(path, "rb") as fh:
            if offset:
                fh.seek(offset)
            return fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CatalogError(
            f"cannot read the run records in {path}: {exc.strerror or exc}. Check the file's permissions and the "
            "disk; `consist rebuild` re-reads the catalog once it is readable."
        ) from exc


class JournalIndex:
    """The records of every journal in a folder, read incrementally (only bytes appended since the last look)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, JournalFile] = {}
        self._where: dict[str, str] = {}  # run id -> journal name

    def refresh(self) -> tuple[list[str], list[str]]:
        """Read what was appended to every journal since the last refresh; forget deleted ones.

        Returns the run ids first read now and those whose journal went away.
        """
        try:
            entries = [e for e in os.scandir(self.folder) if is_journal(e.name)]
        except FileNotFoundError:
            entries = []
        present = {e.name for e in entries}
        added: list[str] = []
        removed: list[str] = []
        for gone in [n for n in self.files if n not in present]:
            removed += self.forget(gone)
        for entry in sorted(entries, key=lambda e: precedence(e.name)):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            known = self.files.get(entry.name)
            if known is not None and (known.ino, known.end, known.mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns):
                continue
            if known is not None and (known.ino != st.st_ino or st.st_size < known.end):
                removed += self.forget(entry.name)  # replaced under the same name: read it anew
                known = None
            added += self._read(entry.name, known, st)
            if entry.name in self.files:
                self.files[entry.name].mtime_ns = st.st_mtime_ns
        return added, removed

    def forget(self, name: str) -> list[str]:
        """Drop what was read of journal ``name`` (read anew by the next refresh); its run ids."""
        ids = list(self.files.pop(name).records)
        for run_id in ids:
            if self._where.get(run_id) == name:
                del self._where[run_id]
        return ids

    def _read(self, name: str, known: JournalFile | None, st: os.stat_result) -> list[str]:
        if known is None:
            known = self.files[name] = JournalFile(ino=st.st_ino)
        start = known.end - len(known.tail)  # the last line again: its writer may have replaced it
        data = _read_from(self.folder / name, start)
        if data is None:
            return []
        if not data.startswith(known.tail):
            self.forget(name)
            return self._read(name, None, st)  # cut back and rewritten: read it all again
        added = known.add(data[len(known.tail) :], known.end)
        for run_id in added:
            self._where.setdefault(run_id, name)
        return added

    def find(self, run_id: str) -> bytes | None:
        """The record of ``run_id`` among the journals read so far, or None."""
        name = self._where.get(run_id)
        if name is None:
            return None
        found = self.files.get(name)
        entry = found.records.get(run_id) if found is not None else None
        return entry[1] if entry is not None else None

    def lines(self) -> Iterator[tuple[str, int, str, bytes]]:
        """(journal name, offset, run id, record bytes) of every record read, journals by name."""
        for name in sorted(self.files, key=precedence):
            for run_id, (offset, line) in self.files[name].records.items():
                yield name, offset, run_id, line

    def count(self) -> int:
        """Records read so far (one per run id and journal)."""
        return sum(len(f.records) for f in self.files.values())
