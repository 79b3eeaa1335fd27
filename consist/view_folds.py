"""Folds: many small artifacts of one key copied into one Parquet file, for cross-run reads.

DuckDB and Polars pay for every file a query opens (a path resolved, a footer read, a
scan started: about a millisecond a file here), whatever the query. A sweep of 10,000
runs that each log a 20-row table therefore costs seconds per query while the rows fit
in one small file. So small Parquet artifacts of a key read by a view or scan are
*folded*: their rows are copied, with the ``consist_*`` provenance columns, into
``<run_dir>/.consist/folds/<key>/fold-<time>-<token>.parquet``, sorted by scenario,
year, iteration, run and artifact (so a filter on those columns skips row groups by their
statistics). The artifact files stay the artifacts; a fold is a read cache of them.

A fold is two files: ``fold-...sources.json`` lists every folded source (artifact id,
run id, file path, size and mtime when folded) and, in its schema metadata, the fold's
column types, the Parquet file's size and BLAKE3 digest, and the folds it replaces. It is
written first; renaming the Parquet file into place publishes the fold. A reader uses a
folded source's rows only while its file still has the size and mtime it had when
folded; otherwise the file is read as itself. A fold whose Parquet bytes do not match
its digest (torn, truncated, flipped bits) or whose list is unreadable is moved to
``damaged/`` and ignored: its sources are read from their files again. A merge names the
folds it replaces; readers ignore replaced folds even while their files still exist, so
a merge killed before deleting them never shows a row twice. Two processes folding the
same sources at once would show rows twice too; a source listed by two live folds is
served by the older one only.

This module only writes and reads folds; which sources a view or scan folds, and when,
is :mod:`consist.views`'s and :mod:`consist.scans`'s business (:func:`serve`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import blake3
import msgspec

from consist.atomic import temp_name, unlink_quietly, write_bytes
from consist.errors import SchemaConflictError
from consist.sources import PROVENANCE, Source, file_schemas, no_gc, unify

log = logging.getLogger("consist.views")

FOLD_MIN = 64  # unfolded small files of a key before they are folded
FOLD_MAX_BYTES = 1 << 20  # larger files are read as themselves
MAX_FOLDS = 8  # live folds of a key before they are merged into one
FOLD_CHUNK = 8_192  # files read into one new fold at most
ROW_GROUP = 16_384
VERSION = 1
_META = b"consist.fold"
_ORDER = ("consist_scenario_id", "consist_year", "consist_iteration", "consist_run_id", "consist_artifact_id")


class FoldInfo(msgspec.Struct, frozen=True):
    version: int
    key: str
    columns: dict[str, str]
    parquet_size: int
    digest: str
    replaces: list[str] = []


@dataclass(frozen=True)
class Fold:
    """One published fold: its file, column types and the sources it holds."""

    path: str
    info: FoldInfo
    # (artifact id, run id) -> (file path, size, mtime in ns) when folded
    sources: dict[tuple[str, str], tuple[str, int, int]] = field(repr=False)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


@dataclass
class Served:
    """What a fold gives a view or scan: its file, the folded sources to show, and those not to."""

    fold: Fold
    shown: set[tuple[str, str]] = field(repr=False)
    hide: list[tuple[str, str]] = field(repr=False)

    @property
    def used(self) -> int:
        return len(self.shown)


def fold_store(tracker: Any) -> FoldStore:
    """The tracker's (cached) fold store, shared by its views and scans."""
    found = tracker.__dict__.get("_consist_folds")
    if found is None:
        found = tracker.__dict__["_consist_folds"] = FoldStore(tracker.layout.root)
    return found


def sources_path(parquet: str) -> str:
    return parquet[: -len(".parquet")] + ".sources.json"


class FoldStore:
    """The folds of one metadata folder (``<root>/folds``), read once per process."""

    def __init__(self, root: Path) -> None:
        self.root = root / "folds"
        self._known: dict[tuple[str, int, int], Fold | None] = {}  # (path, size, mtime) -> fold
        self._owners: dict[tuple[str, ...], dict[tuple[str, str], tuple[int, str, int, int]]] = {}

    def folder(self, key: str) -> Path:
        return self.root / quote(key, safe="")

    def live(self, key: str) -> list[Fold]:
        """The published, intact, unreplaced folds of ``key``, oldest first."""
        folder = self.folder(key)
        try:
            names = sorted(n for n in os.listdir(folder) if n.startswith("fold-") and n.endswith(".parquet"))
        except FileNotFoundError:
            return []
        folds = [f for f in (self._load(str(folder / n)) for n in names) if f is not None]
        replaced = {name for f in folds for name in f.info.replaces}
        return [f for f in folds if f.name not in replaced]

    def _load(self, path: str) -> Fold | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        token = (path, st.st_size, st.st_mtime_ns)
        if token in self._known:
            return self._known[token]
        fold = _read_fold(path, st.st_size)
        if fold is None:
            _quarantine(Path(path))
        self._known[token] = fold
        return fold

    # -- serving -----------------------------------------------------------------------

    def serve(self, con: Any, key: str, sources: list[Source], schemas: Any, what: str) -> tuple[list[Served], list[Source]]:
        """Split ``sources`` (all of exact ``key``, Parquet, not ingested) into fold reads and files.

        Returns the folds to read (with the folded sources to hide) and the sources to
        read from their own files. Folds the small unfolded files first when there are
        enough of them, and merges the key's folds when there are too many.
        """
        folds = self.live(key)
        served, rest = _split(folds, sources, self._owner_map(folds))
        pending = [s for s in rest if _small(s.uri)]
        # In chunks: DuckDB holds a chunk's rows in memory to sort them.
        chunks = [pending[i : i + FOLD_CHUNK] for i in range(0, len(pending), FOLD_CHUNK)]
        if len(pending) >= FOLD_MIN and any([self._try_fold(con, key, chunk, schemas, what) for chunk in chunks]):
            folds = self.live(key)
            if len(folds) > MAX_FOLDS:
                self._try_merge(con, key, folds)
                folds = self.live(key)
            served, rest = _split(folds, sources, self._owner_map(folds))
        return served, rest

    def _owner_map(self, folds: list[Fold]) -> dict[tuple[str, str], tuple[int, str, int, int]]:
        names = tuple(f.path for f in folds)
        found = self._owners.get(names)
        if found is None:
            if len(self._owners) > 8:
                self._owners.clear()
            found = self._owners[names] = _owners(folds)
        return found

    def _try_fold(self, con: Any, key: str, pending: list[Source], schemas: Any, what: str) -> bool:
        found = file_schemas(schemas, pending, what)
        pending = [s for s in pending if s.artifact_id in found and not set(found[s.artifact_id].types) & set(PROVENANCE)]
        try:
            columns = unify({s.uri: found[s.artifact_id].types for s in pending}, None, what)
        except SchemaConflictError:
            return False  # files that disagree are read as themselves, and the view says why
        try:
            return write_fold(con, self.folder(key), key, pending, {n: t for n, t in columns.items() if t}) is not None
        except Exception as exc:  # a fold is only a cache: the files are read instead
            log.warning("%s: could not fold %d files of %r: %s", what, len(pending), key, exc)
            return False

    def _try_merge(self, con: Any, key: str, folds: list[Fold]) -> None:
        try:
            merge_folds(con, self.folder(key), key, folds)
        except Exception as exc:
            log.warning("could not merge the folds of %r: %s", key, exc)


def serve_sources(
    store: FoldStore, con: Any, sources: list[Source], schemas: Any, what: str
) -> tuple[list[Served], list[Source]]:
    """The folds serving some of ``sources`` (not ingested) and the sources to read from their files.

    Only Parquet files are folded, per exact key.
    """
    by_key: dict[str, list[Source]] = {}
    rest = []
    for s in sources:
        if s.driver == "parquet":
            by_key.setdefault(s.key, []).append(s)
        else:
            rest.append(s)
    served: list[Served] = []
    for key, group in by_key.items():
        used, unfolded = store.serve(con, key, group, schemas, what)
        served.extend(used)
        rest.extend(unfolded)
    return served, rest


def _small(uri: str) -> bool:
    try:
        return os.stat(uri).st_size <= FOLD_MAX_BYTES
    except OSError:
        return False


def _owners(folds: list[Fold]) -> dict[tuple[str, str], tuple[int, str, int, int]]:
    """(artifact id, run id) -> (fold number, path, size, mtime); a source held twice (two
    processes folded it at once) is served by the older fold."""
    owner: dict[tuple[str, str], tuple[int, str, int, int]] = {}
    for number, fold in reversed(list(enumerate(folds))):
        owner.update(zip(fold.sources, ((number, *v) for v in fold.sources.values())))
    return owner


def _split(folds: list[Fold], sources: list[Source], owner: dict[tuple[str, str], tuple[int, str, int, int]] | None = None
           ) -> tuple[list[Served], list[Source]]:  # fmt: skip
    """Which sources each fold serves (file unchanged since it was folded), and the rest."""
    with no_gc():
        return _split_sources(folds, sources, _owners(folds) if owner is None else owner)


def _split_sources(folds: list[Fold], sources: list[Source], owner: dict[tuple[str, str], tuple[int, str, int, int]]
                   ) -> tuple[list[Served], list[Source]]:  # fmt: skip
    shown: list[set[tuple[str, str]]] = [set() for _ in folds]
    rest = []
    stat = os.stat
    for s in sources:
        pair = (s.artifact_id, s.run_id)
        found = owner.get(pair)
        if found is not None and found[1] == s.uri:
            try:
                st = stat(s.uri)
            except OSError:
                st = None
            if st is not None and st.st_size == found[2] and st.st_mtime_ns == found[3]:
                shown[found[0]].add(pair)
                continue
        rest.append(s)
    served = []
    for fold, pairs in zip(folds, shown):
        if pairs:
            # What a fold holds but must not show now: changed or gone files, sources owned by an older fold.
            hide = [] if len(pairs) == len(fold.sources) else [p for p in fold.sources if p not in pairs]
            served.append(Served(fold, pairs, hide))
    return served, rest


def hide_sql(hide: Iterable[tuple[str, str]]) -> str:
    """A filter leaving out the given (artifact id, run id) rows of a fold ('' when none)."""
    pairs = [f"{run}/{artifact}" for artifact, run in hide]  # run ids never hold a '/'
    if not pairs:
        return ""
    return f"consist_run_id || '/' || consist_artifact_id NOT IN ({', '.join(_literal(p) for p in pairs)})"


# -- writing ------------------------------------------------------------------------------


class _Manifest(msgspec.Struct):
    info: FoldInfo
    artifact_ids: list[str]
    run_ids: list[str]
    uris: list[str]
    sizes: list[int]
    mtimes: list[int]


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Manifest)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _folding(folder: Path) -> Iterator[bool]:
    """One process folds a key at a time; False when another one is at it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _copy(con: Any, select: str, target: Path) -> tuple[int, str]:
    order = ", ".join(f"{name} NULLS FIRST" for name in _ORDER)
    con.execute(f"COPY ({select} ORDER BY {order}) TO {_literal(str(target))} (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP})")
    hasher = blake3.blake3()
    hasher.update_mmap(target)
    return os.path.getsize(target), hasher.hexdigest()


def _publish(folder: Path, tmp: Path, manifest: _Manifest) -> Path:
    """Write the source list, then rename the Parquet file into place (the fold appears whole)."""
    target = folder / f"fold-{time.time_ns():020d}-{secrets.token_hex(4)}.parquet"
    write_bytes(Path(sources_path(str(target))), _encoder.encode(manifest))
    os.replace(tmp, target)
    return target


def write_fold(con: Any, folder: Path, key: str, sources: list[Source], columns: dict[str, str]) -> Path | None:
    """Copy the rows of ``sources`` (Parquet files of ``key``) into a new fold; None if another process folds."""
    import polars as pl

    with _folding(folder) as mine:
        if not mine:
            return None
        stats = [os.stat(s.uri) for s in sources]  # before reading: a file changed meanwhile no longer matches
        files: dict[str, int] = {}
        prov = {"fi": [files.setdefault(s.uri, len(files)) for s in sources]}
        for name in PROVENANCE:
            prov[name] = [s.provenance()[name] for s in sources]
        types = {"fi": pl.Int64, **{n: pl.Int64 if t == "BIGINT" else pl.String for n, t in PROVENANCE.items()}}
        con.register("_consist_fold_prov", pl.DataFrame(prov, schema=types))
        cols = ", ".join(f"CAST(d.{_ident(n)} AS {t}) AS {_ident(n)}" for n, t in columns.items())
        listed = ", ".join(_literal(f) for f in files)
        select = (
            f"SELECT {cols}, {', '.join('p.' + n for n in PROVENANCE)} "
            f"FROM read_parquet([{listed}], union_by_name = true, hive_partitioning = false) AS d "
            "JOIN _consist_fold_prov AS p ON p.fi = d.file_index"
        )
        tmp = temp_name(folder / "fold.parquet")
        try:
            size, digest = _copy(con, select, tmp)
            manifest = _Manifest(
                FoldInfo(VERSION, key, columns, size, digest),
                [s.artifact_id for s in sources], [s.run_id for s in sources], [s.uri for s in sources],
                [st.st_size for st in stats], [st.st_mtime_ns for st in stats],
            )  # fmt: skip
            return _publish(folder, tmp, manifest)
        finally:
            con.unregister("_consist_fold_prov")
            unlink_quietly(tmp)


def merge_folds(con: Any, folder: Path, key: str, folds: list[Fold]) -> Path | None:
    """Rewrite ``folds`` as one fold replacing them (each source once), then delete them."""
    with _folding(folder) as mine:
        if not mine:
            return None
        columns = {n: t for n, t in unify({f.path: f.info.columns for f in folds}, None, f"folds of {key!r}").items() if t}
        seen: set[tuple[str, str]] = set()
        parts, kept = [], []
        for fold in folds:
            own = [p for p in fold.sources if p not in seen]
            seen.update(own)
            kept.extend((p, fold.sources[p]) for p in own)
            cols = ", ".join(
                f"CAST({_ident(n) if n in fold.info.columns else 'NULL'} AS {t}) AS {_ident(n)}" for n, t in columns.items()
            )
            where = hide_sql(p for p in fold.sources if p not in set(own))
            parts.append(f"SELECT {cols}, {', '.join(PROVENANCE)} FROM read_parquet({_literal(fold.path)})"
                         + (f" WHERE {where}" if where else ""))  # fmt: skip
        tmp = temp_name(folder / "fold.parquet")
        try:
            size, digest = _copy(con, f"SELECT * FROM ({' UNION ALL '.join(parts)})", tmp)
            replaces = sorted({f.name for f in folds} | {n for f in folds for n in f.info.replaces})
            manifest = _Manifest(
                FoldInfo(VERSION, key, columns, size, digest, replaces),
                [p[0] for p, _ in kept], [p[1] for p, _ in kept], [v[0] for _, v in kept],
                [v[1] for _, v in kept], [v[2] for _, v in kept],
            )  # fmt: skip
            target = _publish(folder, tmp, manifest)
        finally:
            unlink_quietly(tmp)
        for fold in folds:  # a reader still on one retries once with the merged fold
            unlink_quietly(Path(fold.path), Path(sources_path(fold.path)))
        return target


# -- reading ------------------------------------------------------------------------------


def _read_fold(path: str, size: int) -> Fold | None:
    """A published fold, or None when its list is unreadable or its bytes are not the ones listed."""
    try:
        with no_gc():
            manifest = _decoder.decode(Path(sources_path(path)).read_bytes())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    info = manifest.info
    columns = (manifest.artifact_ids, manifest.run_ids, manifest.uris, manifest.sizes, manifest.mtimes)
    if info.version != VERSION or info.parquet_size != size or len({len(c) for c in columns}) != 1:
        return None
    hasher = blake3.blake3()
    try:
        hasher.update_mmap(path)
    except OSError:
        return None
    if hasher.hexdigest() != info.digest:
        return None
    with no_gc():
        sources = dict(zip(zip(manifest.artifact_ids, manifest.run_ids), zip(manifest.uris, manifest.sizes, manifest.mtimes)))
    return Fold(path, info, sources)


def _quarantine(path: Path) -> None:
    """Move a damaged fold aside (its sources are read from their files again)."""
    target = path.parent / "damaged" / path.name
    try:
        target.parent.mkdir(exist_ok=True)
        os.replace(path, target)
    except OSError:
        return  # gone meanwhile: merged away by another process, not damaged
    try:
        os.replace(sources_path(str(path)), sources_path(str(target)))
    except OSError:
        pass
    log.warning("fold %s is damaged (its bytes do not match its source list); moved it to %s", path, target.parent)
