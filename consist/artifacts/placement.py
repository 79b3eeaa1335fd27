"""All-or-nothing placement of copied files: every target is in place, or none changed.

Each source is first copied to a temporary sibling of its target; only when every copy
succeeded are they renamed into place (an existing target is kept aside and put back if
a later rename fails). Used by cache hydration, ``output_paths=`` delivery, recovery and
container output checks. This module copies and renames only; it decides nothing about
which files to copy or whether replacing a target is allowed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from consist.atomic import temp_name


class PlacementError(OSError):
    """Copying to ``target`` failed; everything placed so far was removed again."""

    def __init__(self, target: Path, cause: BaseException) -> None:
        super().__init__(f"could not place {target}: {cause}")
        self.target = target
        self.cause = cause


def copy_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Copy one file at kernel speed (``shutil.copyfile``), keeping its modification time.

    Keeping the mtime keeps the copy's stat fingerprint equal to the original's and lets
    its hash be memoised at once (a file just written is "racy" and would be re-read).
    """
    shutil.copyfile(source, target)
    st = os.stat(source)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, copy_function=copy_file)
    else:
        copy_file(source, target)


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def _make_parents(folder: Path, created: list[Path]) -> None:
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours to remove
        created.append(path)


def place(pairs: Sequence[tuple[Path, Path]]) -> None:
    """Copy each ``(source, target)`` so that either every target is in place or none changed.

    Targets that exist are replaced (callers decide whether that is allowed); their old
    content is restored if a later step fails.

    Raises
    ------
    PlacementError
        A copy or rename failed; no target changed and no temporary file remains.
    """
    created: list[Path] = []
    temps: list[Path] = []
    backups: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    current: Path | None = None
    try:
        for source, target in pairs:
            current = target
            _make_parents(target.parent, created)
            temp = temp_name(target)
            temps.append(temp)
            _copy(source, temp)
        for (_, target), temp in zip(pairs, temps):
            current = target
            if target.exists() or target.is_symlink():
                backup = temp_name(target)
                os.replace(target, backup)
                backups.append((target, backup))
            os.replace(temp, target)
            placed.append(target)
    except BaseException as exc:
        for target in placed:
            _remove(target)
        for target, backup in backups:
            try:
                os.replace(backup, target)
            except OSError:
                pass
        for temp in temps:
            _remove(temp)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise PlacementError(current or Path(), exc) from exc
        raise
    for _, backup in backups:
        _remove(backup)
