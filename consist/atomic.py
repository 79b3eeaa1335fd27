"""Atomic file writes: write to a unique temporary name, then rename.

A reader never sees a half-written file: it sees the old content, the new content, or
no file. ``durable=True`` also fsyncs the bytes before the rename, for files whose loss
after a crash would lose a cache entry. :func:`read_small` is the read these files
are made for.
"""

from __future__ import annotations

import itertools
import os
import secrets
from pathlib import Path

# Temporary names are unique by process id, a random tag drawn once per process (two
# containers may share a pid and a folder) and a counter: no random draw per write.
_TAG = secrets.token_hex(4)
_COUNTER = itertools.count()


def _suffix() -> str:
    return f"{os.getpid()}.{_TAG}{next(_COUNTER):x}.tmp"


def temp_name(target: Path) -> Path:
    """A unique sibling name for writing ``target`` before renaming it into place."""
    return target.with_name(f".{target.name}.{_suffix()}")


def write_bytes(target: str | os.PathLike[str], data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` (any bytes-like object) to ``target`` atomically, creating parent folders as needed."""
    target = os.fspath(target)
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.{_suffix()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    write_all(fd, data, written=tmp, target=target, durable=durable)
    try:
        os.replace(tmp, target)
    except BaseException as exc:
        unlink_quietly(tmp)
        name_target(exc, target)
        raise


def write_new(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` straight to ``target``, which must not exist yet: one create, no rename.

    Only for a folder no other process looks into before the writer says so (a run's own
    folder, just created; its record names the file once it is whole). A failed write
    removes what it wrote; an existing ``target`` is replaced atomically
    (:func:`write_bytes`).
    """
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except (FileExistsError, FileNotFoundError):
        write_bytes(target, data)
        return
    write_all(fd, data, written=target, target=target)


def write_all(
    fd: int, data: bytes, *, written: str | os.PathLike[str], target: str | os.PathLike[str], durable: bool = False
) -> None:
    """Write ``data`` to the open ``fd`` and close it; on failure remove ``written`` and name ``target``."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    except BaseException as exc:
        os.close(fd)
        unlink_quietly(written)
        name_target(exc, target)
        raise
    os.close(fd)


def name_target(exc: BaseException, target: str | os.PathLike[str]) -> None:
    """Name ``target`` in an OSError raised while writing it, when the error names no file."""
    # os.write on a descriptor raises "[Errno 28] No space left on device" with no path:
    # name the file being written, so a full disk says where.
    if isinstance(exc, OSError) and exc.filename is None:
        exc.filename = os.fspath(target)


def open_exclusive(target: str | os.PathLike[str], flags: int = os.O_WRONLY) -> int | None:
    """Create ``target`` (and its folder) exclusively and return its open descriptor; None when it existed."""
    try:
        return os.open(target, flags | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return None
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return open_exclusive(target, flags)


def create_exclusive(target: str | os.PathLike[str]) -> bool:
    """Create an empty ``target`` if it does not exist; False when it already did."""
    fd = open_exclusive(target)
    if fd is None:
        return False
    os.close(fd)
    return True


def read_small(path: str | os.PathLike[str]) -> bytes | None:
    """The bytes of the small file at ``path``, or None when it does not exist.

    Three system calls (open, read, close) where ``open(path, "rb").read()`` makes nine
    (it also asks the size twice, whether the file is a terminal, and its position): the
    cache entry read by every step and the step history read by every execution.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:
            return data  # a short read of a regular file is its end
        chunks = [data]
        while data:
            data = os.read(fd, _CHUNK)
            chunks.append(data)
        return b"".join(chunks)
    finally:
        os.close(fd)


_CHUNK = 256 * 1024


def unlink_quietly(*paths: str | os.PathLike[str]) -> None:
    """Remove each of ``paths`` that exists (leftovers of an interrupted write)."""
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass
