"""Portable paths: named mounts so records say ``inputs://zones.parquet``, not a machine's path.

``Tracker(project_root=".", mounts={"inputs": "/data/inputs"})`` names folders. A file
under a mount is recorded by the mount's name and its place inside it
(``inputs://zones.parquet``); a file under ``project_root`` and no other mount as
``project://...``. Another machine (or the same data folder moved) opens the same
records with its own ``mounts={"inputs": "/mnt/shared/inputs"}`` and every recorded
file is found there. Files inside the tracker's run folder keep their paths: a moved
run folder is found by :mod:`consist.artifacts.relocate`.

Once any mount (or ``project_root``) is configured, a step's input, ``depends_on`` file
or logged output outside every mount and outside the run folder is refused, since its
record would only be valid on this machine, unless the tracker was made with
``allow_external_paths=True``. Identity never depends on paths (files count by content),
so mounts change what records say, never a signature.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from consist.errors import ConfigError

PROJECT = "project"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)://(.*)\Z", re.S)
# Live mount tables, newest last: what an Artifact's path resolves a mount URI through.
_tables: list[weakref.ref[Mounts]] = []


class Mounts:
    """The mount table of one tracker: names to folders, and whether other paths are allowed."""

    def __init__(
        self,
        mounts: Mapping[str, str | os.PathLike[str]] | None,
        project_root: str | os.PathLike[str] | None,
        run_dir: Path,
        allow_external_paths: bool | None,
    ) -> None:
        base = Path(project_root).expanduser().resolve() if project_root is not None else None
        roots: dict[str, Path] = {}
        if mounts is not None and not isinstance(mounts, Mapping):
            raise ConfigError(
                f"mounts= takes a mapping of name -> folder, e.g. {{'inputs': '/data/inputs'}}; got {mounts!r}."
            )
        for name, folder in (mounts or {}).items():
            if not isinstance(name, str) or not _NAME.match(name) or name == PROJECT:
                raise ConfigError(
                    f"mount name {name!r} cannot be used: names are letters, digits, '_' and '-', start with a "
                    f"letter, and {PROJECT!r} is taken by project_root=."
                )
            if not isinstance(folder, (str, os.PathLike)):
                raise ConfigError(f"mount {name!r} must be a folder path; got a {type(folder).__name__}.")
            root = Path(folder).expanduser()
            roots[name] = (base / root if base is not None and not root.is_absolute() else root).resolve()
        if base is not None:
            roots[PROJECT] = base
        self.roots = roots
        self.run_dir = run_dir
        self.allow_external = not roots if allow_external_paths is None else bool(allow_external_paths)
        _tables.append(weakref.ref(self))

    def __bool__(self) -> bool:
        return bool(self.roots)

    def uri_for(self, path: Path, what: str) -> str:
        """How a record names the absolute ``path``: a mount URI, or the path itself.

        Raises
        ------
        ConfigError
            ``path`` is outside every mount and the run folder, and external paths are not allowed.
        """
        if not self.roots or _inside(path, self.run_dir):
            return str(path)
        # The deepest mount wins: {"data": "/d", "skims": "/d/skims"} names /d/skims/x as skims://x.
        for name, root in sorted(self.roots.items(), key=lambda item: len(item[1].parts), reverse=True):
            if _inside(path, root):
                return f"{name}://{path.relative_to(root).as_posix()}"
        if self.allow_external:
            return str(path)
        listed = ", ".join(f"{name}={root}" for name, root in sorted(self.roots.items()))
        raise ConfigError(
            f"{what} is {path}, outside every mount ({listed}) and the run folder, so its record would only "
            "be valid on this machine. Move it under a mount, add a mount for its folder "
            "(Tracker(mounts={...})), or allow it with Tracker(allow_external_paths=True)."
        )

    def resolve(self, uri: str) -> Path | None:
        """The local path of a mount URI, or None when this table has no such mount."""
        found = _SCHEME.match(uri)
        if found is None or found.group(1) not in self.roots:
            return None
        rel = PurePosixPath(found.group(2))
        if rel.is_absolute() or ".." in rel.parts:
            raise ConfigError(f"{uri!r} climbs out of its mount; a recorded mount URI names a file inside it.")
        return self.roots[found.group(1)].joinpath(*rel.parts)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def is_mount_uri(uri: str) -> bool:
    """Whether ``uri`` names a file through a mount (``inputs://zones.parquet``)."""
    return _SCHEME.match(uri) is not None


def resolve_uri(uri: str, preferred: Any = None) -> Path:
    """The local path of a mount URI through ``preferred`` (a Mounts), else the newest live table.

    Raises
    ------
    ConfigError
        No live tracker has that mount.
    """
    tables = [preferred] if preferred is not None else []
    tables += [t for ref in reversed(_tables) if (t := ref()) is not None and t is not preferred]
    _tables[:] = [ref for ref in _tables if ref() is not None]
    first = None
    for table in tables:
        path = table.resolve(uri)
        if path is not None and os.path.lexists(path):
            return path
        first = first or path
    if first is not None:
        return first
    name = uri.split("://", 1)[0]
    raise ConfigError(
        f"{uri} is recorded through the mount {name!r}, which no tracker in this process has; "
        f"open the catalog with Tracker(..., mounts={{{name!r}: '/where/that/folder/is/here'}})."
    )
