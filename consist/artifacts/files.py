"""Making :class:`Artifact` values from files and frames.

Owns the rules for logging bytes: where a frame is written inside a run folder, how a
file's hash is obtained (computed, memoised, or supplied and checked), and key safety.
"""

from __future__ import annotations

import os
import re
import stat
import time
import weakref
from pathlib import Path
from typing import Any

from consist.artifacts.formats.drivers import driver_for
from consist.artifacts.formats.frames import frame_kind, write_parquet
from consist.catalog.record_values import record_mapping
from consist.errors import ConfigError, InputNotFoundError, UnsafeKeyError
from consist.identity.digests import digest
from consist.identity.hashing import Hasher, file_fingerprint, has_ctime, hash_bytes, stat_fingerprint, walk_files
from consist.models import Artifact
from consist.user_warnings import warn

_HASH = re.compile(r"[0-9a-f]{64}")  # a blake3 hex digest, as ``Artifact.hash`` holds
# The longest key, in UTF-8 bytes (see check_key).
MAX_KEY_BYTES = 200


def check_key(key: Any, what: str = "output key") -> str:
    """Return ``key`` if it is safe to use as a file name inside a run folder."""
    if type(key) is str and key in _SAFE_KEYS:
        return key  # checked before: the answer for a given string never changes
    if not isinstance(key, str) or not key.strip():
        raise UnsafeKeyError(f"{what} {key!r} must be a non-empty string.")
    if key.startswith(".") or "/" in key or "\\" in key or "\x00" in key:  # ".", ".." too
        raise UnsafeKeyError(
            f"{what} {key!r} cannot be used: keys become file names inside the run folder, "
            "so they may not contain '/', '\\' or NUL, or start with '.'. "
            "Choose a plain name such as 'persons_2030'."
        )
    # Bytes, not characters: file systems cap a name at 255 bytes, and the key also
    # carries an extension and a temporary-name prefix while it is written.
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise UnsafeKeyError(
            f"{what} {key[:40]!r}... is {size} bytes long in UTF-8 ({len(key)} characters); keys become "
            f"file names, so they may be at most {MAX_KEY_BYTES} bytes (about {MAX_KEY_BYTES // 3} "
            "characters of CJK text). Choose a shorter name."
        )
    if type(key) is str:
        if len(_SAFE_KEYS) >= 4096:
            _SAFE_KEYS.clear()
        _SAFE_KEYS.add(key)
    return key


# Keys (plain strs) that passed check_key: a step checks its output keys several times.
_SAFE_KEYS: set[str] = set()


def truncate_name(name: str, limit: int) -> str:
    """``name`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    return name.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


def artifact_id(run_id: str | None, key: str, content: str) -> str:
    """A stable id: produced artifacts by (run, key), raw files by (path, hash)."""
    return digest("consist.artifact/1", run_id, key, content)[:32]


def content_size(path: Path) -> int:
    """Bytes of a file, or of all files under a folder."""
    if path.is_dir():
        return sum(os.path.getsize(full) for _, full in walk_files(path) if os.path.exists(full))
    return path.stat().st_size


def file_artifact(
    path: Path,
    key: str,
    *,
    run_id: str | None,
    hasher: Hasher,
    meta: dict[str, Any] | None = None,
    content_hash: str | None = None,
    force_hash_override: bool = False,
    validate_content_hash: bool = False,
    kind: str | None = None,
) -> Artifact:
    """An artifact for an existing file or folder.

    ``content_hash`` reuses a hash you already have (after a copy or move) instead of
    reading the bytes. One that contradicts a hash consist already knows for the
    unchanged file is ignored with a warning (the known hash is kept) unless
    ``force_hash_override``; ``validate_content_hash`` checks it against the bytes on
    disk and raises on a mismatch.
    """
    meta = record_mapping(meta, f"metadata of {key!r}")  # before any hashing: refused at the call
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"cannot log {key!r}: {path} does not exist.")
    path = path.resolve()
    _utf8_name(str(path), f"cannot log {key!r}")
    if content_hash is None:
        value = hasher.hash_path(path)
    else:
        value = _checked_hash(path, key, hasher, content_hash, force_hash_override, validate_content_hash)
    return _hashed(
        path,
        str(path),
        key,
        value,
        artifact_id(run_id, key, value if run_id is None else ""),
        run_id=run_id,
        frame_kind=kind,
        meta=meta,
        stat=stat_fingerprint(path),
        created_at=time.time(),
    )


def raw_artifact(path: str | os.PathLike[str], name: str, hasher: Hasher, mounts: Any) -> Artifact:
    """An input artifact for a file nobody logged: hashed by content (stat-memoised).

    ``mounts`` (:class:`~consist.mounts.Mounts`) names the file portably when it lies under one.
    A file seen before under the same name, path and inode, whose content hash (from the
    hasher's stat memo) and size are unchanged, gets the artifact made then: everything
    in it follows from those (see :data:`_RAW`).
    """
    given = os.fspath(path)
    local = os.path.expanduser(given) if given[:1] == "~" else given  # "~/data/raw.csv", as run_dir= takes
    try:
        st = os.stat(local)  # a plain string: building a Path costs more than this stat
    except OSError:
        st = None  # "", "data.csv/" and the like: as a Path spells them (below)
    if st is None or stat.S_ISDIR(st.st_mode):
        return _raw_artifact(Path(given).expanduser(), name, hasher, mounts)
    absolute = os.path.abspath(local)
    value = hasher.hash_file(local, st, absolute)
    key = (absolute, st.st_dev, st.st_ino, name)
    known = _RAW.get(key)
    if known is not None and known[0]() is mounts and known[1].hash == value and known[1].size == st.st_size:
        return known[1]
    artifact = _input_artifact(Path(local), name, value, st.st_size, mounts, st)
    if len(_RAW) >= 4096:
        _RAW.clear()
    _RAW[key] = (weakref.ref(mounts), artifact)
    return artifact


# (absolute path as given, device, inode, input name) -> (mount table, artifact): a raw
# input artifact is its name, its real path (see real_path) as the tracker's mounts name
# it, its content hash and size, and a driver read from the file name. An entry is served
# only through the mount table it was named with (weakly held: a live table decides
# where mount URIs resolve) and while the hash and size are unchanged.
_RAW: dict[tuple[str, int, int, str], tuple[weakref.ref[Any], Artifact]] = {}


def _raw_artifact(path: Path, name: str, hasher: Hasher, mounts: Any) -> Artifact:
    # Folders (hashed by walking them), and paths a plain string does not stat.
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            value, size = hasher.hash_path(path), content_size(path)
        else:
            value, size = hasher.hash_file(path, st), st.st_size
    except FileNotFoundError:
        raise InputNotFoundError(
            f"Input {name!r} points to {path}, which does not exist "
            f"(resolved from {Path.cwd()}). Check the path, or produce it in an earlier step."
        ) from None
    return _input_artifact(path, name, value, size, mounts, st)


def _input_artifact(path: Path, name: str, value: str, size: int, mounts: Any, st: os.stat_result) -> Artifact:
    uri = _utf8_name(mounts.uri_for(real_path(path, st), f"input {name!r}"), f"input {name!r}")
    return Artifact(
        id=artifact_id(None, uri, value), key=name, uri=uri, hash=value, size=size, driver=driver_for(path)
    )


_REAL_PATHS: dict[tuple[str, int, int], Path] = {}


def real_path(path: Path, st: os.stat_result) -> Path:
    """``path.resolve()``, remembered for the file (device and inode) the same path named before.

    An input is named by its real path on every call; resolving walks every folder of
    it (an ``lstat`` each). A path whose links now lead to another file finds another
    inode and is resolved again; one leading to the very same file (a hard link) names
    the same bytes either way.
    """
    key = (os.path.abspath(path), st.st_dev, st.st_ino)
    real = _REAL_PATHS.get(key)
    if real is None:
        if len(_REAL_PATHS) >= 4096:
            _REAL_PATHS.clear()
        real = _REAL_PATHS[key] = path.resolve()
    return real


def _utf8_name(path: str, what: str) -> str:
    """``path`` if a run record can hold it; a name in another encoding is refused, naming ``what``."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"{what}: the file name {path!r} is not valid UTF-8 (it was written in another encoding), so a run "
            "record cannot name it. Rename the file to a UTF-8 name (e.g. with `convmv`)."
        ) from None
    return path


def _hashed(path: Path, uri: str, key: str, value: str, id_: str, **fields: Any) -> Artifact:
    # Every artifact made from a file on disk: where it is, its content hash, size and driver.
    return Artifact(id=id_, key=key, uri=uri, hash=value, size=content_size(path), driver=driver_for(path), **fields)


def _checked_hash(
    path: Path, key: str, hasher: Hasher, supplied: str, force: bool, validate: bool
) -> str:
    if not isinstance(supplied, str) or not _HASH.fullmatch(supplied.lower()):
        # Like a contradicting hash, not worth failing a long step over: the file's bytes decide.
        warn(
            f"log_artifact({key!r}): content_hash={supplied!r} is not a content hash (64 hex digits of "
            f"blake3, as an artifact's .hash holds); hashing {path} instead. Pass the .hash of the artifact "
            "you copied, or drop content_hash=."
        )
        return hasher.hash_path(path)
    supplied = supplied.lower()
    if validate:
        actual = hasher.hash_path(path)
        if actual != supplied:
            raise ConfigError(
                f"content_hash for {key!r} does not match {path}: supplied {supplied[:16]}..., "
                f"file hashes to {actual[:16]}.... Drop content_hash= to hash the file."
            )
        return supplied
    known = hasher.known_hash(path)
    if known is not None and known != supplied and not force:
        # Failing here would throw away a step that may have run for hours: keep what is known.
        warn(
            f"log_artifact({key!r}): content_hash={supplied} differs from the hash already recorded for "
            f"{path} ({known}); keeping the recorded hash. Pass force_hash_override=True to replace it, "
            "or validate_content_hash=True to check it against the file."
        )
        return known
    if path.is_file():
        hasher.remember(path, supplied)
    return supplied


def frame_artifact(
    obj: Any, key: str, folder: Path, *, run_id: str, hasher: Hasher, meta: dict[str, Any] | None = None,
    real_folder: bool = False,
) -> Artifact:
    """Write frame ``obj`` as ``<folder>/<key>.parquet`` and return its artifact.

    ``real_folder``: ``folder`` is a run folder just created under the resolved run
    directory: the file's path needs no resolving, and nothing reads the folder before
    the run's record names the file, so it is written in place, without a rename.
    """
    kind = frame_kind(obj)
    if kind is None:
        raise ConfigError(
            f"{key!r} is a {type(obj).__name__}, not a frame; log_dataframe takes a pandas or "
            "Polars DataFrame, a Polars LazyFrame or a pyarrow Table."
        )
    check_key(key)
    meta = record_mapping(meta, f"metadata of {key!r}")  # before the frame is written
    target = folder / f"{key}.parquet"
    data = write_parquet(obj, kind, target, fresh=real_folder)
    if data is None:
        return file_artifact(target, key, run_id=run_id, hasher=hasher, meta=meta, kind=kind)
    # Encoded in memory: hashed from the bytes just written, with one stat for its fingerprint.
    path = target if real_folder else target.resolve()
    value = hash_bytes(data)
    st = os.stat(path)
    hasher.remember(path, value, st)
    uri = _utf8_name(str(path), f"cannot log {key!r}")
    return Artifact(
        id=artifact_id(run_id, key, value if run_id is None else ""), key=key, uri=uri, hash=value, size=st.st_size, driver="parquet",
        run_id=run_id, frame_kind=kind, meta=meta, stat=file_fingerprint(st), created_at=time.time(),
    )


def bytes_problem(hasher: Hasher, artifact: Artifact, mode: str = "stat") -> str | None:
    """Why an artifact's file no longer holds its recorded bytes (missing or modified), or None.

    ``mode`` is a ``verify_outputs`` value: ``"stat"`` re-hashes only when size, mtime or
    ctime changed since it was recorded, ``"hash"`` always, ``"exists"`` never.
    """
    uri = artifact.uri
    where = uri if "://" not in uri else os.fspath(artifact.path)  # a plain path needs no Path object
    try:
        st = os.stat(where)
    except FileNotFoundError:
        return f"output {artifact.key!r} is missing at {where}"
    if mode == "exists":
        return None
    if mode == "stat":
        # In the recorded token's own form (records made before ctimes were keep theirs).
        # A file's fingerprint from this one stat; a folder's needs a walk (stat_fingerprint).
        ctime = has_ctime(artifact.stat)
        if stat.S_ISDIR(st.st_mode):
            token = stat_fingerprint(Path(where), ctime=ctime)
        else:
            token = file_fingerprint(st, ctime=ctime)
        if token == artifact.stat:
            return None
    path = Path(where)
    try:
        found = hasher.hash_path(path)
    except OSError as exc:  # unreadable (permissions, a bad sector): damaged, so the step runs again
        return f"output {artifact.key!r} at {path} cannot be read ({exc.strerror or exc}), so it counts as damaged"
    if found != artifact.hash:
        return f"output {artifact.key!r} at {path} no longer matches its recorded hash (modified after it was recorded)"
    return None
