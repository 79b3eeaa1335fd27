"""Fold files: how a fold is written, published, merged and read back (see :mod:`consist.views.folds`).

A fold is two files: ``fold-<time>-<token>.sources.json`` lists every folded source
(artifact id, run id, file path, and its size, mtime and ctime when folded) and the fold's column
types, the Parquet file's size and BLAKE3 digest, and the folds it replaces; it is written
first, and renaming ``fold-<time>-<token>.parquet`` into place publishes the fold. A fold
whose Parquet bytes do not match its digest, or whose list is unreadable, is moved to
``damaged/``. One process writes a key's folds at a time (a lock file beside them).
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import msgspec

from consist.artifacts.formats.literal import sql_path
from consist.atomic import temp_name, unlink_quietly, write_bytes
from consist.file_lock import attempt
from consist.views.sources import PROVENANCE, Source, no_gc, unify

log = logging.getLogger("consist.views")

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
    """One published fold: its file, column types and the sources it holds (as listed)."""

    path: str
    info: FoldInfo
    listed: _Manifest = field(repr=False)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def count(self) -> int:
        return len(self.listed.artifact_ids)

    @functools.cached_property
    def sources(self) -> dict[tuple[str, str], tuple[str, int, int, int]]:
        """(artifact id, run id) -> (file path, size, mtime in ns, ctime in ns or -1) when folded."""
        m = self.listed
        with no_gc():
            return dict(zip(zip(m.artifact_ids, m.run_ids), zip(m.uris, m.sizes, m.mtimes, m.ctimes_or_unknown())))


def sources_path(parquet: str) -> str:
    return parquet[: -len(".parquet")] + ".sources.json"


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
    ctimes: list[int] = []  # empty in folds written before ctimes were kept; -1 for a source of one

    def ctimes_or_unknown(self) -> list[int]:
        return self.ctimes or [-1] * len(self.mtimes)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Manifest)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _folding(folder: Path) -> AbstractContextManager[bool]:
    """One process folds a key at a time; False when another one is at it (or nothing can lock)."""
    folder.mkdir(parents=True, exist_ok=True)
    return attempt(folder / ".lock")


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
        listed = ", ".join(sql_path(f) for f in files)
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
                [st.st_size for st in stats], [st.st_mtime_ns for st in stats], [st.st_ctime_ns for st in stats],
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
            parts.append(f"SELECT {cols}, {', '.join(PROVENANCE)} FROM read_parquet({sql_path(fold.path)})"
                         + (f" WHERE {where}" if where else ""))  # fmt: skip
        tmp = temp_name(folder / "fold.parquet")
        try:
            size, digest = _copy(con, f"SELECT * FROM ({' UNION ALL '.join(parts)})", tmp)
            replaces = sorted({f.name for f in folds} | {n for f in folds for n in f.info.replaces})
            manifest = _Manifest(
                FoldInfo(VERSION, key, columns, size, digest, replaces),
                [p[0] for p, _ in kept], [p[1] for p, _ in kept], [v[0] for _, v in kept],
                [v[1] for _, v in kept], [v[2] for _, v in kept], [v[3] for _, v in kept],
            )  # fmt: skip
            target = _publish(folder, tmp, manifest)
        finally:
            unlink_quietly(tmp)
        for fold in folds:  # a reader still on one retries once with the merged fold
            unlink_quietly(Path(fold.path), Path(sources_path(fold.path)))
        return target


# -- reading ------------------------------------------------------------------------------


def read_fold(path: str, size: int) -> Fold | None:
    """A published fold, or None (and the fold moved aside) when its list is unreadable or its bytes are not the ones listed."""
    fold = _read(path, size)
    if fold is None:
        _quarantine(Path(path))
    return fold


def _read(path: str, size: int) -> Fold | None:
    try:
        with no_gc():
            manifest = _decoder.decode(Path(sources_path(path)).read_bytes())
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    info = manifest.info
    columns = (manifest.artifact_ids, manifest.run_ids, manifest.uris, manifest.sizes, manifest.mtimes,
               manifest.ctimes_or_unknown())
    if info.version != VERSION or info.parquet_size != size or len({len(c) for c in columns}) != 1:
        return None
    hasher = blake3.blake3()
    try:
        hasher.update_mmap(path)
    except OSError:
        return None
    if hasher.hexdigest() != info.digest:
        return None
    return Fold(path, info, manifest)


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
