"""Freeing disk space: deleting the output files of old or unwanted runs, keeping their records.

:func:`collect` picks runs (ended before a time, and/or not in a keep-list) and deletes
what they own inside the run folder: their ``<run_dir>/<run_id>/`` folders and the
output files they produced there. Records, the cache index and everything under
``.consist`` stay, so the history remains queryable and :meth:`Tracker.recover` can
regenerate a collected output later; a cache entry whose outputs were collected is a
miss the next time (outputs are checked on every hit).

It never deletes a file that a kept run still references (as an input or an output: a
cache hit refers to the files of the run it reused), nor anything outside ``run_dir``
(raw inputs, ``capture_dir`` folders and container host paths belong to the user).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.errors import ConfigError

if TYPE_CHECKING:
    from consist.catalog.reader import CatalogHost


@dataclass
class CollectedRun:
    """What one run owned that was (or, in a dry run, would be) deleted."""

    run_id: str
    ended_at: float
    paths: list[Path] = field(default_factory=list)
    bytes: int = 0


@dataclass
class CollectReport:
    """The outcome of :func:`collect`.

    Attributes
    ----------
    dry_run
        True when nothing was deleted.
    runs
        Each selected run that owned something on disk, oldest first.
    selected
        How many runs the selection matched (owning files or not).
    protected
        Paths left in place because a kept run references them.
    outside
        Output files of selected runs left in place because they are outside ``run_dir``.
    orphans
        Run folders no record names (a worker killed mid-step), unchanged for
        :data:`consist.catalog.orphans.ORPHAN_GRACE_S` and not held by a running step; listed in
        ``runs`` under their folder name.
    """

    dry_run: bool
    runs: list[CollectedRun] = field(default_factory=list)
    selected: int = 0
    protected: int = 0
    outside: int = 0
    orphans: int = 0

    @property
    def freed(self) -> int:
        """Bytes deleted (or that a dry run would delete)."""
        return sum(r.bytes for r in self.runs)

    @property
    def paths(self) -> int:
        """Files and folders deleted (or that a dry run would delete)."""
        return sum(len(r.paths) for r in self.runs)

    def __str__(self) -> str:
        from consist.display.html import human_size

        verb = "would free" if self.dry_run else "freed"
        line = (
            f"{verb} {human_size(self.freed)} in {self.paths} files and folders of {len(self.runs)} runs "
            f"({self.selected} runs selected; their records are kept)"
        )
        notes = []
        if self.protected:
            notes.append(f"{self.protected} paths kept because kept runs use them")
        if self.outside:
            notes.append(f"{self.outside} output files outside the run folder left alone")
        if self.orphans:
            notes.append(f"{self.orphans} of the folders belonged to no recorded run (a worker killed mid-step)")
        return line + (f"; {'; '.join(notes)}" if notes else "")


def _size(path: Path) -> int:
    try:
        if path.is_dir() and not path.is_symlink():
            return sum(os.path.getsize(os.path.join(r, f)) for r, _, files in os.walk(path) for f in files)
        return path.lstat().st_size
    except OSError:
        return 0


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def collect(
    tracker: CatalogHost,
    *,
    older_than: float | None = None,
    keep: Iterable[str] = (),
    keep_scenarios: Iterable[str] = (),
    dry_run: bool = False,
) -> CollectReport:
    """Delete the files of runs that ended before ``older_than`` and are not kept.

    Run folders no record names (left by a worker killed mid-step) are deleted too, once
    unchanged for a day (and since ``older_than``), never while their step still runs.

    Parameters
    ----------
    tracker
        Whose run folder to tidy.
    older_than
        A Unix time: only runs that ended before it are collected. ``None`` selects by
        the keep-lists alone (every run not kept).
    keep
        Run ids never collected.
    keep_scenarios
        Scenario names whose runs (and scenario records) are never collected.
    dry_run
        Report what would be deleted and delete nothing.

    Returns
    -------
    CollectReport
        ``str(report)`` is a one-line summary.

    Raises
    ------
    ConfigError
        Neither ``older_than`` nor a keep-list was given (that would select every run).

    Examples
    --------
    >>> import time                                                   # doctest: +SKIP
    >>> print(collect(tracker, older_than=time.time() - 30 * 86400, dry_run=True))
    would free 1.2 GiB in 340 files and folders of 170 runs (170 runs selected; their records are kept)
    """
    keep, keep_scenarios = sorted(set(keep)), sorted(set(keep_scenarios))
    if older_than is None and not keep and not keep_scenarios:
        raise ConfigError(
            "say which runs to collect: an age (older_than=, --older-than 30d) and/or a keep-list "
            "(keep=, --keep RUN); collecting every run is never the default."
        )
    chosen, params = _chosen_sql(older_than, keep, keep_scenarios)
    catalog = tracker.catalog
    selected = {
        row["id"]: row["ended_at"]
        for row in catalog.arrow(f"SELECT id, epoch(ended_at) AS ended_at FROM runs WHERE id IN ({chosen})", params).to_pylist()
    }
    used = catalog.arrow(
        "SELECT DISTINCT a.uri FROM run_artifacts ra JOIN artifacts a ON a.id = ra.artifact_id "
        f"WHERE ra.run_id NOT IN ({chosen})",
        params,
    ).column("uri").to_pylist()
    owned = catalog.arrow(
        f"SELECT run_id, uri FROM artifacts WHERE run_id IN ({chosen}) ORDER BY run_id, uri", params
    ).to_pylist()
    run_dir = tracker.run_dir.resolve()
    protected = _protected(used, run_dir)
    report = CollectReport(dry_run=dry_run, selected=len(selected))
    targets = _run_folders(selected, run_dir)
    kept_paths: set[Path] = set()
    for row in owned:
        path = Path(row["uri"]).resolve()
        if not _inside(path, run_dir) or _inside(path, run_dir / ".consist") or path == run_dir:
            report.outside += 1
        elif row["run_id"] in selected:
            targets.setdefault(row["run_id"], []).append(path)
    for run_id in sorted(targets, key=lambda r: (selected[r], r)):
        entry = CollectedRun(run_id, selected[run_id])
        for path in dict.fromkeys(targets[run_id]):
            if path in protected:
                kept_paths.add(path)
                continue
            if any(_inside(path, done) for done in entry.paths) or not os.path.lexists(path):
                continue  # already inside a deleted folder, or gone
            entry.bytes += _size(path)
            entry.paths.append(path)
        if entry.paths:
            report.runs.append(entry)
    report.protected = len(kept_paths)
    _add_orphans(tracker, report, older_than)
    if not dry_run:
        for path in (path for entry in report.runs for path in entry.paths):
            _delete(path)
    return report


def _run_folders(selected: Mapping[str, Any], run_dir: Path) -> dict[str, list[Path]]:
    """The selected runs' own folders under ``run_dir``, by run id (the first paths to collect)."""
    targets: dict[str, list[Path]] = {}
    for run_id in selected:
        folder = run_dir / run_id
        if not run_id.startswith(".") and folder.parent == run_dir and folder.is_dir():
            targets.setdefault(run_id, []).append(folder)
    return targets


def _chosen_sql(older_than: float | None, keep: list[str], keep_scenarios: list[str]) -> tuple[str, list[Any]]:
    """The query selecting the ids of the runs to collect, and its parameters."""
    conds: list[str] = []
    params: list[Any] = []
    if older_than is not None:
        conds.append("epoch(ended_at) < ?")
        params.append(float(older_than))
    if keep:
        conds.append("NOT list_contains(?, id)")
        params.append(keep)
    if keep_scenarios:
        conds.append("NOT (coalesce(list_contains(?, parent_id), false) OR (kind = 'scenario' AND list_contains(?, name)))")
        params += [keep_scenarios, keep_scenarios]
    return f"SELECT id FROM runs WHERE {' AND '.join(conds)}", params


def _protected(used: list[str], run_dir: Path) -> set[Path]:
    """Paths a kept run's file is or lies inside: the referenced paths and their folders up to ``run_dir``."""
    protected: set[Path] = set()
    for uri in used:
        if not uri:
            continue
        path = Path(uri).resolve()
        if _inside(path, run_dir):
            protected.add(path)
            protected.update(p for p in path.parents if _inside(p, run_dir))
    return protected
def _add_orphans(tracker: CatalogHost, report: CollectReport, older_than: float | None) -> None:
    """Run folders no record names, left by a worker killed mid-step (see :mod:`consist.catalog.orphans`)."""
    from consist.catalog import orphans

    def recorded(run_id: str) -> bool:
        return tracker.records.get(run_id) is not None

    for folder, changed in orphans.find(tracker.run_dir, tracker.layout, recorded, before=older_than):
        report.runs.append(CollectedRun(folder.name, changed, [folder], _size(folder)))
        report.orphans += 1


def _delete(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
