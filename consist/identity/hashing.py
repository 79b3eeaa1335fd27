"""Content hashes of files and directories, with a stat memo.

Owns reading bytes for hashing. A file's hash is ``blake3(content)``; a directory's is
:func:`consist.identity.digests.directory_hash` over its files. Re-hashing an unchanged large
file is avoided by a memo keyed on (path, size, mtime_ns, inode, ctime_ns), kept in memory
and, when a memo folder is given, on disk so that a new process benefits too. The ctime
tells a file rewritten in place with its size and mtime put back (``cp -p`` of another
version over it): no user call can set it back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
from blake3 import blake3

from consist.atomic import write_bytes
from consist.identity.digests import directory_hash
from consist.identity.parallel_hash import PARALLEL_MIN_FILES, hash_many

# Below this size a plain read beats mapping the file and starting threads.
_MMAP_THRESHOLD = 4 * 1024 * 1024
# Files at least this large show a progress bar while hashed (when progress is on).
_PROGRESS_THRESHOLD = 256 * 1024 * 1024
_PROGRESS_CHUNK = 128 * 1024 * 1024
# A file modified this recently may change again within the same mtime tick, so its
# hash is not memoised (the "racy git" problem).
_RACY_SECONDS = 2.0


class _Memo(msgspec.Struct, array_like=True):
    size: int
    mtime_ns: int
    ino: int
    hash: str
    ctime_ns: int = -1  # -1: a memo written before ctimes were kept, which never matches

    def holds(self, st: os.stat_result) -> bool:
        """Whether this memo was taken of the file whose stat is ``st``, unchanged since."""
        return (self.size, self.mtime_ns, self.ino, self.ctime_ns) == (
            st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns
        )  # fmt: skip


def _memo_of(st: os.stat_result, value: str) -> _Memo:
    return _Memo(st.st_size, st.st_mtime_ns, st.st_ino, value, st.st_ctime_ns)


def _settled(st: os.stat_result) -> bool:
    """Whether the file last changed long enough ago that a change within the same tick is past."""
    return time.time() - max(st.st_mtime_ns, st.st_ctime_ns) / 1e9 > _RACY_SECONDS


_memo_encoder = msgspec.msgpack.Encoder()
_memo_decoder = msgspec.msgpack.Decoder(_Memo)


def hash_bytes(data: bytes) -> str:
    """Blake3 hex digest of ``data`` (any bytes-like object)."""
    if len(data) >= _MMAP_THRESHOLD:
        return blake3(data, max_threads=blake3.AUTO).hexdigest()
    return blake3(data).hexdigest()


def hash_file_uncached(path: str | Path, size: int | None = None) -> str:
    """Blake3 hex digest of a file's content, read now."""
    if size is None:
        size = os.stat(path).st_size
    if size >= _MMAP_THRESHOLD:
        hasher = blake3(max_threads=blake3.AUTO)
        hasher.update_mmap(path)
        return hasher.hexdigest()
    with open(path, "rb") as fh:
        return blake3(fh.read()).hexdigest()


def hash_file_with_progress(path: str | Path, size: int) -> str:
    """Like :func:`hash_file_uncached`, hashing in large slices to report progress."""
    import mmap

    from consist.display.progress import Progress

    hasher = blake3(max_threads=blake3.AUTO)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)
        try:
            with Progress(f"hashing {os.path.basename(path)}", size) as bar:
                for start in range(0, size, _PROGRESS_CHUNK):
                    with view[start : start + _PROGRESS_CHUNK] as chunk:
                        hasher.update(chunk)
                        bar.advance(len(chunk))
        finally:
            view.release()
    return hasher.hexdigest()


def walk_files(folder: Path) -> Iterator[tuple[str, str]]:
    """(relative POSIX path, full path) of every file under ``folder``, in sorted order.

    Symlinked sub-folders are followed: a data folder that links to a shared dataset
    depends on that dataset's content. A link back to a folder on the current path
    (a loop) is not followed.
    """
    top = os.fspath(folder)
    chains = {top: (os.path.realpath(top),)}
    for root, dirs, files in os.walk(top, followlinks=True):
        chain = chains.pop(root)
        kept = []
        for name in sorted(dirs):
            real = os.path.realpath(os.path.join(root, name))
            if real not in chain:
                kept.append(name)
                chains[os.path.join(root, name)] = (*chain, real)
        dirs[:] = kept
        rel_root = os.path.relpath(root, top)
        for name in sorted(files):
            rel = name if rel_root == "." else f"{rel_root}/{name}".replace(os.sep, "/")
            yield rel, os.path.join(root, name)


def stat_fingerprint(path: Path, *, ctime: bool = True) -> str:
    """A cheap token that changes when a file or any file under a directory changes.

    A file's is ``size:mtime_ns:ctime_ns``; a folder's is ``c:`` and a digest of the same
    for every file under it. The ctime catches bytes written over a file with its size and
    mtime put back. ``ctime=False`` makes the tokens recorded before ctimes were
    (``size:mtime_ns``, or the bare digest), for comparing with those.
    """
    st = path.stat()
    if not path.is_dir():
        return file_fingerprint(st, ctime=ctime)
    parts = []
    for rel, full in walk_files(path):
        try:
            fst = os.stat(full)
        except FileNotFoundError:  # a dangling link: its target text is what it holds
            parts.append(f"{rel}:->{os.readlink(full)}")
            continue
        parts.append(f"{rel}:{file_fingerprint(fst, ctime=ctime)}")
    digest = hash_bytes("\n".join(parts).encode())
    return f"c:{digest}" if ctime else digest


def file_fingerprint(st: os.stat_result, *, ctime: bool = True) -> str:
    """The :func:`stat_fingerprint` of the file whose stat is ``st``."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}" if ctime else f"{st.st_size}:{st.st_mtime_ns}"


def has_ctime(token: str | None) -> bool:
    """Whether a recorded :func:`stat_fingerprint` token includes ctimes (one made since they are)."""
    return token is not None and (token.startswith("c:") or token.count(":") == 2)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # a dangling link: hashed by where it points
        return 0


class Hasher:
    """Hashes files and directories, memoising by stat.

    Parameters
    ----------
    memo_dir
        Folder for the on-disk memo (shared between processes); ``None`` keeps the
        memo in memory only.
    strict
        When true, every call re-reads the bytes (no memo is consulted).
    progress
        Show a progress bar while hashing files of 256 MiB or more: True, False, or
        None to decide by interactivity (see :mod:`consist.display.progress`).
    """

    def __init__(self, memo_dir: Path | None = None, *, strict: bool = False, progress: bool | None = False) -> None:
        self.memo_dir = memo_dir
        self.strict = strict
        self.progress = progress
        self._memo: dict[str, _Memo] = {}
        # Hashes of recently modified ("racy") files: never served as a file's hash, but
        # known_hash() still reports them so a contradicting content_hash= is caught.
        self._recent: dict[str, _Memo] = {}

    def hash_path(self, path: Path) -> str:
        """Content hash of a file or directory (directories: sorted file hashes)."""
        if path.is_dir():
            files = list(walk_files(path))
            # Many large files (a Zarr store's chunks) are hashed on several threads.
            total = sum(_size(full) for _, full in files) if len(files) >= PARALLEL_MIN_FILES else None
            hashes = hash_many([full for _, full in files], self._entry_hash, total)
            return directory_hash([(rel, value) for (rel, _), value in zip(files, hashes)])
        return self.hash_file(path)

    def _entry_hash(self, full: str) -> str:
        if os.path.islink(full) and not os.path.exists(full):
            # A dangling link has no bytes; where it points is its content.
            return hash_bytes(f"symlink:{os.readlink(full)}".encode())
        return self.hash_file(Path(full))

    def hash_file(self, path: str | Path, st: os.stat_result | None = None, absolute: str | None = None) -> str:
        """Content hash of one file, served from the memo when its stat is unchanged.

        ``st`` is the file's ``os.stat`` when the caller just took it, ``absolute`` its
        ``os.path.abspath`` when the caller has it.
        """
        if st is None:
            st = os.stat(path)
        if self.strict:
            return self._read_hash(path, st.st_size)
        key = absolute or os.path.abspath(path)
        memo = self._memo.get(key) or self._read_disk(key)
        if memo is not None and memo.holds(st):
            self._memo[key] = memo
            return memo.hash
        value = self._read_hash(path, st.st_size)
        self._keep(key, _memo_of(st, value), st)
        return value

    def _keep(self, key: str, memo: _Memo, st: os.stat_result) -> None:
        if _settled(st):
            self._memo[key] = memo
            self._write_disk(key, memo)
        else:
            self._note_recent(key, memo)

    def _read_hash(self, path: str | Path, size: int) -> str:
        if size >= _PROGRESS_THRESHOLD and self.progress is not False:
            from consist.display.progress import wanted

            if wanted(self.progress):
                return hash_file_with_progress(path, size)
        return hash_file_uncached(path, size)

    def known_hash(self, path: Path) -> str | None:
        """The memoised hash of an unchanged file, without reading it; else None."""
        if not path.is_file():
            return None
        st = os.stat(path)
        key = os.path.abspath(path)
        for memo in (self._memo.get(key) or self._read_disk(key), self._recent.get(key)):
            if memo is not None and memo.holds(st):
                return memo.hash
        return None

    def remember(self, path: Path, value: str, st: os.stat_result | None = None) -> None:
        """Record a hash computed elsewhere (e.g. while writing the file); ``st`` is its stat, if taken."""
        if st is None:
            st = os.stat(path)
        self._keep(os.path.abspath(path), _memo_of(st, value), st)

    def _note_recent(self, key: str, memo: _Memo) -> None:
        if len(self._recent) >= 4096:
            self._recent.clear()  # a safety net for content_hash= checks, not a cache: stay small
        self._recent[key] = memo

    def _memo_path(self, key: str) -> Path | None:
        if self.memo_dir is None:
            return None
        name = hash_bytes(key.encode("utf-8", "surrogateescape"))[:32]  # a file name in another encoding
        return self.memo_dir / name[:2] / name

    def _read_disk(self, key: str) -> _Memo | None:
        target = self._memo_path(key)
        if target is None:
            return None
        try:
            return _memo_decoder.decode(target.read_bytes())
        except (OSError, msgspec.DecodeError):
            return None

    def _write_disk(self, key: str, memo: _Memo) -> None:
        target = self._memo_path(key)
        if target is None:
            return
        try:
            # A unique temporary name, removed on failure: a full disk leaves no partial file.
            write_bytes(target, _memo_encoder.encode(memo))
        except OSError:
            # The memo is an optimisation: a read-only cache folder must not fail a run.
            pass
