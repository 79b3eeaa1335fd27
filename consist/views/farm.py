"""Provenance in file paths: each source file reached through folders named for its context.

A source's *folder* is ``<run_dir>/.consist/links/consist_scenario_id=<s>/consist_year=<y>/
consist_iteration=<i>/consist_run_id=<r>/consist_artifact_id=<a>`` (values
percent-encoded, as DuckDB and Polars read them; a null scenario, year or iteration has
no folder at all). Readers are given ``<folder>/../../../../../<run>/<file>``: the folders
carry the provenance, and the ``..`` lead back to the real file, so no link is followed.
Reading a list of such paths with ``hive_partitioning`` gives the provenance columns as
per-file constants: a filter on them drops files before any is opened, and grouping by
them costs what grouping by any column costs, with no join. Readers group files by the
partitions their paths carry and add the missing columns as null constants.

Why this shape: DuckDB resolves the real path of every file it opens, twice per file per
query, at about a microsecond per path component, and a symbolic link costs that again
for the target. A path through plain folders and back costs only its folder names (the
``..`` are resolved without a system call), which measured 1.6-2.3 ms less per query
over 100 files than symbolic links in the same folders (see ``benchmarks/README.md``).
The ``..`` are computed between real paths, so folders reached through symbolic links
lead back correctly; the path is checked once when made.

Where the way back would pass a folder whose name has an ``=`` (a reader would take it
for one more partition), a relative symbolic link ``<folder>/<file name>`` is made
instead, atomically (made under a temporary name, then renamed). Where neither works (a
value too long for a file name) :meth:`LinkFarm.link` returns None and callers attach the
provenance by other means. Callers list only sources whose file exists.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from consist.artifacts.formats.literal import has_glob
from consist.views.sources import PROVENANCE, Source

if TYPE_CHECKING:
    from consist.artifacts.layout import Layout

# Partition order: the usual filters first (a shallower tree to list).
HIVE_ORDER = ("consist_scenario_id", "consist_year", "consist_iteration", "consist_run_id", "consist_artifact_id")
NULL_VALUE = "__HIVE_DEFAULT_PARTITION__"


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")  # what ``quote(..., safe='')`` leaves as it is


def _component(name: str, value: object) -> str:
    text = str(value)
    return f"{name}={text if _PLAIN.fullmatch(text) else quote(text, safe='')}"


def partitions(source: Source) -> tuple[str, ...]:
    """The provenance columns ``source``'s link path carries (those with a value), in path order."""
    values = source.provenance()
    return tuple(name for name in HIVE_ORDER if values[name] is not None)


def foreign_partitions(root: Path) -> tuple[str, ...]:
    """Names a hive reader would take from folders *above* the farm (``/data/exp=1/runs``).

    Polars reads every ``name=value`` folder of a path and refuses one its schema lacks,
    so scans declare these (and leave them out of the frame).
    """
    return tuple(part.split("=", 1)[0] for part in root.parts if "=" in part)


def hive_types_sql(names: tuple[str, ...]) -> str:
    """The ``hive_types`` argument for DuckDB readers of links carrying partitions ``names``."""
    return "{" + ", ".join(f"'{name}': {PROVENANCE[name]}" for name in names) + "}"


class LinkFarm:
    """The provenance folders of one metadata folder (see the module docstring).

    Parameters
    ----------
    layout
        The tracker's metadata folder; the folders live under ``links``.
    """

    def __init__(self, layout: Layout) -> None:
        self.root = layout.links
        self._made: dict[tuple[object, ...], str] = {}
        # Real paths of folders, so a new process resolves each shared folder (the run
        # folder, the farm) once rather than once per file: 10,000 files otherwise cost
        # some 200,000 ``lstat`` calls on the first query.
        self._real: dict[str, str] = {}

    def _folder(self, source: Source) -> tuple[str, list[str]]:
        values = source.provenance()
        parts = [_component(name, values[name]) for name in partitions(source)]
        return os.path.join(str(self.root), *parts), parts

    def folder(self, source: Source) -> Path:
        """The folder whose path names ``source``'s provenance (whether or not it exists yet)."""
        return Path(self._folder(source)[0])

    def link(self, source: Source) -> str | None:
        """A path to ``source``'s file through its provenance folder; None when none can be made."""
        # Keyed by the values the folder is named from: a view rebuild asks again for every file.
        key = (source.scenario_id, source.year, source.iteration, source.run_id, source.artifact_id, source.uri)
        found = self._made.get(key)
        if found is not None:
            return found
        if str(source.scenario_id) == NULL_VALUE or str(source.run_id) == NULL_VALUE:
            return None  # would read back as null
        folder, parts = self._folder(source)
        try:
            # The folders below the farm's root are plain ones this farm makes (no links, no ``..``).
            real_folder = os.path.join(self._real_dir(str(self.root)), *parts)
            path = _through(folder, real_folder, self._real_file(source.uri))
            if path is None:
                os.makedirs(folder, exist_ok=True)
                path = _through(folder, real_folder, self._real_file(source.uri)) or _symlink(Path(folder), source.uri)
        except (OSError, NotImplementedError, ValueError):
            return None
        self._made[key] = path
        return path

    def _real_dir(self, folder: str) -> str:
        """``os.path.realpath(folder)``, remembering every folder on the way."""
        found = self._real.get(folder)
        if found is None:
            parent, name = os.path.split(folder)
            if not name or name in (os.curdir, os.pardir) or not os.path.isabs(folder):
                found = os.path.realpath(folder)
            else:
                full = os.path.join(self._real_dir(parent), name)
                found = os.path.realpath(full) if os.path.islink(full) else full
            self._real[folder] = found
        return found

    def _real_file(self, uri: str) -> str:
        parent, name = os.path.split(uri)
        if not name or name in (os.curdir, os.pardir) or not os.path.isabs(uri):
            return os.path.realpath(uri)
        full = os.path.join(self._real_dir(parent), name)
        return os.path.realpath(full) if os.path.islink(full) else full


def _through(folder: str, real_folder: str, real_uri: str) -> str | None:
    """``<folder>/../../<file>``, or None if the way back names a folder with an ``=`` or the path a glob character."""
    back = _relative(real_uri, real_folder)
    if any("=" in part for part in back.split(os.sep)[:-1] if part != os.pardir):
        return None
    path = f"{folder}{os.sep}{back}"
    if has_glob(path):
        # Readers are given such a path escaped, as a pattern, and DuckDB drops the ``..``
        # (and the partitions with them) when it expands one: use a symbolic link instead.
        return None
    return path if os.path.exists(path) else None


def _relative(target: str, start: str) -> str:
    """``os.path.relpath(target, start)`` for two normalised absolute paths, without its re-normalising."""
    to, start_parts = target.split(os.sep), start.split(os.sep)
    common = 0
    for a, b in zip(to, start_parts):
        if a != b:
            break
        common += 1
    return os.sep.join([os.pardir] * (len(start_parts) - common) + to[common:]) or os.curdir


def _symlink(folder: Path, uri: str) -> str:
    """A relative symbolic link to ``uri`` in ``folder`` (made atomically, kept if already right)."""
    path = folder / os.path.basename(uri)
    target = os.path.relpath(uri, folder)
    try:
        current = os.readlink(path)
    except FileNotFoundError:
        current = None
    if current != target:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        os.symlink(target, tmp)
        os.replace(tmp, path)
    return str(path)
