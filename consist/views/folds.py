"""Folds: many small artifacts of one key copied into one Parquet file, for cross-run reads.

DuckDB and Polars pay for every file a query opens (a path resolved, a footer read, a
scan started: about a millisecond a file here), whatever the query. A sweep of 10,000
runs that each log a 20-row table therefore costs seconds per query while the rows fit
in one small file. So small Parquet artifacts of a key read by a view or scan are
*folded*: their rows are copied, with the ``consist_*`` provenance columns, into
``<run_dir>/.consist/folds/<key>/fold-<time>-<token>.parquet``, sorted by scenario,
year, iteration, run and artifact (so a filter on those columns skips row groups by their
statistics). The artifact files stay the artifacts; a fold is a read cache of them.

How a fold is written, published, checked and merged is :mod:`consist.views.fold_files`. A
reader uses a folded source's rows only while its file still has the size, mtime and ctime it
had when folded; otherwise the file is read as itself. A damaged fold is set aside and
its sources are read from their files again. A source listed by two live folds (two
processes folded it at once) is served by the older one only.

This module decides which sources a fold serves and when small files are folded or
folds merged; :mod:`consist.views.namespace` and :mod:`consist.views.scans` call :func:`serve_sources`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from consist.errors import SchemaConflictError
from consist.views.fold_files import Fold, merge_folds, read_fold, write_fold
from consist.views.sources import PROVENANCE, Source, file_schemas, no_gc, unify

if TYPE_CHECKING:
    from consist.views.state import ViewState

log = logging.getLogger("consist.views")

FOLD_MIN = 64  # unfolded small files of a key before they are folded
FOLD_MAX_BYTES = 64 << 10  # larger files are read as themselves (their rows outweigh opening them)
MAX_FOLDS = 8  # live folds of a key before they are merged into one
FOLD_CHUNK = 2_048  # files read into one new fold at most
FOLD_CHUNK_BYTES = 256 << 20  # and bytes of them
MERGE_BYTES = 512 << 20  # folds merged into one at most


# "run id/artifact id/file path" -> fold number * _ROWS + row in its listing. Strings and
# ints, not tuples: the collector never walks them (100,000 sources at a time).
Owners = dict[str, int]
_ROWS = 1 << 40


def _owner_key(artifact_id: str, run_id: str, uri: str) -> str:
    return f"{run_id}/{artifact_id}/{uri}"  # run and artifact ids never hold a '/'


@dataclass
class Served:
    """What a fold gives a view or scan: its file, the folded sources to show, and those not to."""

    fold: Fold
    rows: list[int] = field(repr=False)  # rows of the fold's listing to show
    hide: list[tuple[str, str]] = field(repr=False)

    @property
    def used(self) -> int:
        return len(self.rows)

    @functools.cached_property
    def shown(self) -> set[tuple[str, str]]:
        """(artifact id, run id) of the folded sources to show."""
        m = self.fold.listed
        return {(m.artifact_ids[row], m.run_ids[row]) for row in self.rows}


def fold_store(state: ViewState) -> FoldStore:
    """The (cached) fold store of a tracker's views state, shared by its views and scans."""
    if state.fold_store is None:
        state.fold_store = FoldStore(state.layout.root)
    return state.fold_store


class FoldStore:
    """The folds of one metadata folder (``<root>/folds``), read once per process."""

    def __init__(self, root: Path) -> None:
        self.root = root / "folds"
        self._known: dict[tuple[str, int, int], Fold | None] = {}  # (path, size, mtime) -> fold
        self._owners: dict[tuple[str, ...], Owners] = {}

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
        fold = read_fold(path, st.st_size)
        self._known[token] = fold
        return fold

    # -- serving -----------------------------------------------------------------------

    def serve(self, key: str, sources: list[Source], schemas: Any, what: str) -> tuple[list[Served], list[Source]]:
        """Split ``sources`` (all of exact ``key``, Parquet, not ingested) into fold reads and files.

        Returns the folds to read (with the folded sources to hide) and the sources to
        read from their own files. Folds the small unfolded files first when there are
        enough of them, and merges the key's folds when there are too many.
        """
        folds = self.live(key)
        served, rest = _split(folds, sources, self._owner_map(folds))
        pending = [(s, size) for s in rest if (size := _size(s.uri)) is not None and size <= FOLD_MAX_BYTES]
        if len(pending) >= FOLD_MIN:
            with _connection() as con:
                if any([self._try_fold(con, key, chunk, schemas, what) for chunk in _chunks(pending)]):
                    folds = self.live(key)
                    small = _mergeable(folds)
                    if len(folds) > MAX_FOLDS and len(small) > 1:
                        self._try_merge(con, key, small)
                        folds = self.live(key)
                    served, rest = _split(folds, sources, self._owner_map(folds))
        return served, rest

    def _owner_map(self, folds: list[Fold]) -> Owners:
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


@contextmanager
def _connection() -> Iterator[Any]:
    """A connection of its own for folding: it reads thousands of footers, which must not
    stay in the query connection's metadata cache (1 GiB at 100,000 files)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        yield con
    finally:
        con.close()


def serve_sources(store: FoldStore, sources: list[Source], schemas: Any, what: str) -> tuple[list[Served], list[Source]]:
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
        used, unfolded = store.serve(key, group, schemas, what)
        served.extend(used)
        rest.extend(unfolded)
    return served, rest


def _mergeable(folds: list[Fold]) -> list[Fold]:
    """The smallest folds, oldest first, up to ``MERGE_BYTES`` together (large ones stay as they are)."""
    chosen, total = set(), 0
    for fold in sorted(folds, key=lambda f: f.info.parquet_size):
        if total + fold.info.parquet_size > MERGE_BYTES:
            break
        chosen.add(fold.path)
        total += fold.info.parquet_size
    return [f for f in folds if f.path in chosen]


def _size(uri: str) -> int | None:
    try:
        return os.stat(uri).st_size
    except OSError:
        return None


def _chunks(pending: list[tuple[Source, int]]) -> Iterator[list[Source]]:
    """Groups of at most ``FOLD_CHUNK`` files and ``FOLD_CHUNK_BYTES``: DuckDB sorts a group in memory."""
    chunk: list[Source] = []
    total = 0
    for source, size in pending:
        if chunk and (len(chunk) >= FOLD_CHUNK or total + size > FOLD_CHUNK_BYTES):
            yield chunk
            chunk, total = [], 0
        chunk.append(source)
        total += size
    if chunk:
        yield chunk


def _owners(folds: list[Fold]) -> Owners:
    """Who serves each folded source: see :data:`Owners`.

    A source held twice (two processes folded it at once) is served by the older fold.
    The path is part of the key: after the run folder moved, a fold made before the move
    serves nothing, and one made after serves its sources.
    """
    owner: Owners = {}
    for number, fold in reversed(list(enumerate(folds))):
        m = fold.listed
        first = number * _ROWS
        owner.update(zip(map(_owner_key, m.artifact_ids, m.run_ids, m.uris), range(first, first + fold.count)))
    return owner


def _split(folds: list[Fold], sources: list[Source], owner: Owners | None = None) -> tuple[list[Served], list[Source]]:
    """Which sources each fold serves (file unchanged since it was folded), and the rest."""
    with no_gc():
        return _split_sources(folds, sources, _owners(folds) if owner is None else owner)


def _split_sources(folds: list[Fold], sources: list[Source], owner: Owners) -> tuple[list[Served], list[Source]]:
    shown: list[list[int]] = [[] for _ in folds]
    listed = [fold.listed for fold in folds]
    rest = []
    stat, get = os.stat, owner.get
    for s in sources:
        found = get(_owner_key(s[0], s[5], s[2]))  # artifact id, run id, file path
        if found is not None:
            number, row = divmod(found, _ROWS)
            try:
                st = stat(s[2])
            except OSError:
                st = None
            m = listed[number]
            if (
                st is not None and st.st_size == m.sizes[row] and st.st_mtime_ns == m.mtimes[row]
                and (not m.ctimes or m.ctimes[row] in (-1, st.st_ctime_ns))
            ):  # fmt: skip
                shown[number].append(row)
                continue
        rest.append(s)
    served = []
    for fold, rows in zip(folds, shown):
        if rows:
            # What a fold holds but must not show now: changed or gone files, sources owned by an older fold.
            one = Served(fold, rows, [])
            if len(rows) != fold.count:
                one.hide = [p for p in fold.sources if p not in one.shown]
            served.append(one)
    return served, rest
