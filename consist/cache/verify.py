"""Checking that recorded outputs still hold their recorded bytes.

:func:`verify` re-reads every output file of the chosen runs (no stat memo: a file
edited in place with its size and mtime restored is still caught) and reports each one
that is missing or whose content hash differs, naming the path and the run that produced
it. It changes nothing; :meth:`Tracker.recover` repairs what it finds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import msgspec

from consist.artifacts import relocate
from consist.errors import RunNotFoundError
from consist.identity.hashing import Hasher
from consist.models import Run

if TYPE_CHECKING:
    from consist.catalog.reader import CatalogHost


class OutputProblem(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded output that no longer holds its recorded bytes.

    Attributes
    ----------
    run_id
        The run that produced the output.
    key
        The output key.
    path
        Where the bytes should be.
    problem
        ``"missing"``, ``"modified"`` or ``"unreadable"`` (permissions, a bad sector).
    expected, actual
        The recorded content hash and, for a modified file, the one found now (for an
        unreadable one, why it could not be read).
    """

    run_id: str
    key: str
    path: str
    problem: str
    expected: str
    actual: str | None = None

    def __str__(self) -> str:
        if self.problem == "missing":
            return f"run {self.run_id}: output {self.key!r} is missing at {self.path}"
        if self.problem == "unreadable":
            return f"run {self.run_id}: output {self.key!r} at {self.path} cannot be read ({self.actual})"
        return (
            f"run {self.run_id}: output {self.key!r} at {self.path} was modified "
            f"(recorded {self.expected[:12]}, now {(self.actual or '')[:12]})"
        )


def verify(tracker: CatalogHost, run_ids: Iterable[str] | str | None = None) -> list[OutputProblem]:
    """Re-hash the outputs of ``run_ids`` (every run when None); the problems found."""
    if isinstance(run_ids, str):
        run_ids = [run_ids]
    runs: Iterable[Run] = all_runs(tracker) if run_ids is None else _chosen(tracker, run_ids)
    hasher = Hasher(None, strict=True)
    problems = []
    seen: set[str] = set()
    for run in runs:
        if run.status != "completed":
            continue  # a failed run's files were never served
        for artifact in relocate.rebase_all(tracker.run_dir, run.outputs):
            if artifact.uri in seen:
                continue  # a hit lists the outputs of the run it reused: check them once
            seen.add(artifact.uri)
            producer = artifact.run_id or run.id
            path = artifact.path
            if not path.exists():
                problems.append(
                    OutputProblem(run_id=producer, key=artifact.key, path=str(path), problem="missing", expected=artifact.hash)
                )
                continue
            try:
                actual = hasher.hash_path(path)
            except OSError as exc:
                problems.append(
                    OutputProblem(run_id=producer, key=artifact.key, path=str(path), problem="unreadable",
                                  expected=artifact.hash, actual=exc.strerror or str(exc))  # fmt: skip
                )
                continue
            if actual != artifact.hash:
                problems.append(
                    OutputProblem(
                        run_id=producer, key=artifact.key, path=str(path), problem="modified",
                        expected=artifact.hash, actual=actual,
                    )
                )
    return sorted(problems, key=lambda p: (p.run_id, p.key, p.path))


def _chosen(tracker: CatalogHost, run_ids: Iterable[str]) -> Iterator[Run]:
    for run_id in run_ids:
        run = tracker.records.get(run_id)
        if run is None:
            raise RunNotFoundError(f"no run {run_id!r} in the catalog at {tracker.layout.root}; check the id.")
        yield run


def all_runs(tracker: CatalogHost) -> list[Run]:
    """Every completed run in the catalog (fresh records and compacted segments alike)."""
    from consist.catalog.queries import find_runs

    return find_runs(tracker)
