"""Atomic file writes: write to a unique temporary name, then rename.

A reader never sees a half-written file: it sees the old content, the new content, or
no file. ``durable=True`` also fsyncs the bytes before the rename, for files whose loss
after a crash would lose a cache entry.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def temp_name(target: Path) -> Path:
    """A unique sibling name for writing ``target`` before renaming it into place."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_bytes(target: Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``target`` atomically, creating parent folders as needed."""
    tmp = temp_name(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    except BaseException as exc:
        os.close(fd)
        unlink_quietly(tmp)
        name_target(exc, target)
        raise
    os.close(fd)
    try:
        os.replace(tmp, target)
    except BaseException as exc:
        unlink_quietly(tmp)
        name_target(exc, target)
        raise


def name_target(exc: BaseException, target: Path) -> None:
    """Name ``target`` in an OSError raised while writing it, when the error names no file."""
    # os.write on a descriptor raises "[Errno 28] No space left on device" with no path:
    # name the file being written, so a full disk says where.
    if isinstance(exc, OSError) and exc.filename is None:
        exc.filename = str(target)


def create_exclusive(target: Path) -> bool:
    """Create an empty ``target`` if it does not exist; False when it already did."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        return create_exclusive(target)
    os.close(fd)
    return True


def unlink_quietly(*paths: Path) -> None:
    """Remove each of ``paths`` that exists (leftovers of an interrupted write)."""
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass
