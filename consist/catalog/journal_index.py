"""Reading record journals (:mod:`consist.catalog.journal`): complete lines only, incrementally.

Only complete lines count: a line is complete once its newline is written, so a reader
that meets a record being written, or the tail a killed writer left, reads the lines
before it and nothing else, silently. A complete line that does not decode is damage,
reported like a damaged record file. A later line of one journal with the same run id
replaces an earlier one.

A journal is **sealed** once its writer is gone: no process holds its ``flock``
(without working locks: untouched for :data:`STALE_S`; writers move to a new journal
after :data:`IDLE_S` of quiet). Compaction deletes only sealed journals.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from consist.catalog.codec import JOURNAL_PREFIX, decode_id
from consist.errors import CatalogError
from consist.file_lock import soft_locks

try:
    import fcntl
except ImportError:  # Windows: no flock; the age of a journal alone says it is sealed
    fcntl = None  # type: ignore[assignment]

PREFIX = JOURNAL_PREFIX
SUFFIX = ".json"
IDLE_S = 600.0  # a writer quiet this long starts a new journal before its next record
STALE_S = 2 * IDLE_S  # without locks: a journal untouched this long has no writer


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


def line_key(name: str, offset: int, line: bytes) -> str:
    """A name for one journal line beside record file names: ``<journal>@<offset>+<length>``.

    It holds the length: a replaced line (same offset, never the same length) is a new key.
    """
    return f"{name}@{offset}+{len(line)}"


def key_precedence(key: str) -> tuple[int, int, str, int]:
    """:func:`precedence` of a record file's name or of a :func:`line_key`, lines of a journal in order."""
    name, _, where = key.rpartition("@")
    if name and is_journal(name):
        return (*precedence(name), int(where.partition("+")[0]))
    return (*precedence(key), 0)


def sealed(path: Path) -> bool:
    """Whether no writer may append to the journal at ``path`` any more (see the module docstring)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        age = time.time() - os.fstat(fd).st_mtime
        if fcntl is None or soft_locks():  # OS locks that may not reach other machines: the age decides
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
    sealed: bool = False  # known to have no writer (see :func:`read_journal`)

    def add(self, data: bytes, base: int, is_sealed: Callable[[], bool]) -> list[str]:
        """Take the complete lines of ``data`` (read from offset ``base``); the run ids new to this journal.

        A line that does not decode is noted in :attr:`damaged`, and reading stops before
        it while the journal may still be written: on a network file system another
        machine's appends can reach the file out of order, leaving a hole that fills in
        later. Once ``is_sealed()`` (asked only then), the damage is final and the lines
        after it are read.
        """
        new = []
        lines, _ = split_lines(data, base)
        for offset, line in lines:
            try:
                run_id = decode_id(line)
            except msgspec.DecodeError:
                if offset not in self.damaged:
                    self.damaged.append(offset)
                if not (self.sealed or is_sealed()):
                    return new  # read again from here next time
                self.sealed = True
            else:
                if offset in self.damaged:
                    self.damaged.remove(offset)  # the hole filled in
                if self.records.pop(run_id, None) is None:  # keep insertion order: the replacing line is the newest
                    new.append(run_id)
                self.records[run_id] = (offset, line)
            self.end = offset + len(line) + 1
            self.tail = line + b"\n"
        return new


def read_journal(path: Path, *, sealed_first: bool = False) -> JournalFile:
    """Every complete line of the journal at ``path`` (empty when it is gone).

    ``sealed_first``: set :attr:`JournalFile.sealed`, asked before reading: a sealed
    journal never grows, so nothing appended after the read can be deleted with it.
    """
    found = JournalFile(sealed=sealed_first and sealed(path))
    data = _read_from(path, 0)
    if data is not None:
        found.add(data, 0, lambda: sealed(path))
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
        added = known.add(data[len(known.tail) :], known.end, lambda: sealed(self.folder / name))
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

    def damage(self) -> Iterator[tuple[str, int]]:
        """(journal name, offset) of every complete line read that does not decode."""
        for name, found in self.files.items():
            for offset in found.damaged:
                yield name, offset
