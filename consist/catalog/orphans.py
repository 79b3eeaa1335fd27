"""Orphan run folders: what a worker killed mid-step leaves behind.

Every execution claims its run id and creates ``<run_dir>/<run_id>/`` before the step
starts; its record is written when it ends. A worker killed in between (Dask or Ray
re-running the step elsewhere, an out of memory kill) leaves a folder no record will
ever name.

**Claims.** An id the user chose (``run_id=``, a scenario's name) is claimed with an
exclusive create of ``ids/<shard>/<id>`` and then checked against the records. A
generated id (``<step>-<YYYYmmdd>-<HHMMSS>-<8 hex>``) needs no such check: it carries
the second it was drawn in and 32 random bits, so only a run drawing in the same second
can collide with it (a cache hit's id, unclaimed, at odds of 1 in 4 billion). It is
claimed by creating its run folder with an exclusive ``mkdir`` (:func:`claim_folder`),
which is atomic on every local and network file system; a name already taken (by
another process, or by a user's folder) draws a new id. That saves the claim file, a
quarter of the files and folders an execution creates.

**Which folders consist made.** Users keep folders of their own in ``run_dir``, and
``consist gc`` must never delete one. A claim file says "this catalog handed out this
name". A folder claimed by ``mkdir`` carries the same statement in an extended
attribute, :data:`MARK`: a keyed hash of the folder's name under this catalog's random
key (``ids/key``). A name of the generated shape alone would not do: a run folder
copied in from another catalog, or kept after ``.consist`` was deleted, has that shape
and no record here. The keyed mark is written by no one but this catalog, binds the
name (a renamed folder loses it) and goes with ``ids/`` (deleting ``ids/`` forgets
every claim, old and new, as before). Where extended attributes cannot be set
(non-Linux systems, some network file systems) or the key cannot be made, the folder
gets the claim file as before; old catalogs' claim files keep working unchanged.

**Running steps.** While a step runs, its process holds an ``flock`` on the claim file
when there is one, otherwise on the run folder itself (Linux locks a directory opened
read-only like a file); the kernel drops it when the process dies, however it dies. A
folder is an orphan when consist claimed its name (claim file or mark), no record has
that id, nobody holds either lock, and nothing in it changed for :data:`ORPHAN_GRACE_S`
(the grace also covers a step running on another machine, whose lock this one cannot
see, and Windows, which has no ``flock``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from consist.artifacts.layout import Layout
from consist.atomic import create_exclusive, open_exclusive, read_small, temp_name, unlink_quietly, write_new

try:
    import fcntl
except ImportError:  # Windows: no flock; the grace period alone protects running steps
    fcntl = None  # type: ignore[assignment]

ORPHAN_GRACE_S = 24 * 3600.0
MARK = "user.consist.claim"  # the extended attribute on a run folder claimed by mkdir

_held: dict[str, int] = {}
_lock = threading.Lock()
_keys: dict[str, bytes] = {}  # catalog key by key file, read once per process
_KEY_BYTES = 32
_can_mark = fcntl is not None and hasattr(os, "setxattr")


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


def claim_folder(layout: Layout, folder: str, run_id: str) -> bool:
    """Create ``folder`` as the claim on the generated id ``run_id``, marked and held running; False when taken.

    The folder is created with an exclusive ``mkdir`` (and ``run_dir`` again if it was
    removed). Where it cannot carry the mark, the id's claim file is made as well.
    """
    try:
        os.mkdir(folder)
    except FileExistsError:
        return False
    except FileNotFoundError:
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        return claim_folder(layout, folder, run_id)
    if _mark(layout, folder, run_id) or claim(layout, run_id):
        return True
    os.rmdir(folder)  # an old claim file holds the name
    return False


def _mark(layout: Layout, folder: str, run_id: str) -> bool:
    key = _key(layout) if _can_mark else None
    if key is None:
        return False
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.setxattr(fd, MARK, _tag(key, run_id))
    except OSError:
        os.close(fd)
        return False
    _lock_claim(run_id, fd)
    return True


def _tag(key: bytes, name: str) -> bytes:
    return hashlib.blake2b(name.encode(), key=key, digest_size=12).hexdigest().encode()


def _marked(key: bytes, folder: str, name: str) -> bool:
    try:
        return os.getxattr(folder, MARK, follow_symlinks=False) == _tag(key, name)
    except OSError:
        return False


def _key(layout: Layout) -> bytes | None:
    """This catalog's key for marking (made on first use, then remembered), or None when it cannot be had."""
    path = layout.claim_key
    key = _keys.get(path)
    if key is None:
        key = _read_key(path) or _new_key(path)
        if key is None:
            return None  # a key file cut short, or no hard links: claim files, as before
        _keys[path] = key
    return key


def _read_key(path: str) -> bytes | None:
    key = read_small(path)
    return key if key is not None and len(key) == _KEY_BYTES else None


def _new_key(path: str) -> bytes | None:
    # Written whole under a temporary name, then linked into place: a reader never sees
    # half a key, and of two processes making one at once the first link wins for both.
    temp = str(temp_name(Path(path)))
    try:
        write_new(temp, secrets.token_hex(_KEY_BYTES // 2).encode())
        os.link(temp, path)
    except FileExistsError:
        pass
    except OSError:
        return None  # no hard links here: claim files, as before
    finally:
        unlink_quietly(temp)
    return _read_key(path)


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


def _running(path: str) -> bool:
    """Whether a live process holds the running lock on ``path`` (a claim file or a run folder)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
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
    # Read afresh, never remembered: a catalog whose .consist was deleted meanwhile has
    # forgotten the folders it marked, even in a process that knew its old key.
    key = _read_key(layout.claim_key) if _can_mark else None
    for entry in entries:
        name = entry.name
        if name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        claim = layout.id_claim_file(name)
        claimed = os.path.exists(claim)
        if not claimed and (key is None or not _marked(key, entry.path, name)):
            continue  # not a name this catalog handed out: a user's folder, never touched
        folder = Path(entry.path)
        changed = _newest_change(folder)
        # Running first: a step records its run before it drops its lock.
        if changed >= cutoff or _running(entry.path) or (claimed and _running(claim)) or recorded(name):
            continue
        yield folder, changed
