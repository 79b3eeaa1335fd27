"""Lineage: which run made an artifact, from which inputs, recursively.

Walks recorded runs by id (no DuckDB, except to resolve an artifact id or path), so it
costs one record read per producing run upstream.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.errors import ConfigError, RunNotFoundError
from consist.models import Artifact, Run

if TYPE_CHECKING:
    from consist.catalog.reader import CatalogHost
    from consist.display.graph import LineageGraph


@dataclass(frozen=True)
class Lineage:
    """Where an artifact came from: the run that wrote it and, recursively, its inputs.

    Attributes
    ----------
    artifact
        The artifact this node describes.
    run
        The run that produced it, or ``None`` for a raw input (or an unknown producer).
    inputs
        The lineage of each input of ``run``, by input key.
    truncated
        True when ``run``'s inputs were not followed because ``max_depth`` was reached.
    """

    artifact: Artifact
    run: Run | None = None
    inputs: dict[str, Lineage] = field(default_factory=dict)
    truncated: bool = False

    def walk(self) -> Iterator[Lineage]:
        """This node and every node upstream of it, depth first."""
        yield self
        for child in self.inputs.values():
            yield from child.walk()

    def runs(self) -> list[Run]:
        """Every producing run upstream (each once), nearest first."""
        seen: dict[str, Run] = {}
        for node in self.walk():
            if node.run is not None:
                seen.setdefault(node.run.id, node.run)
        return list(seen.values())

    def format(self, indent: int = 0) -> str:
        """A readable tree, one artifact per line."""
        producer = f"<- {self.run.name} ({self.run.id})" if self.run else "(raw input)"
        lines = [f"{'  ' * indent}{self.artifact.key} [{self.artifact.hash[:12]}] {producer}"]
        lines += [child.format(indent + 1) for child in self.inputs.values()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        # The tree, not the nested dataclass fields: `tracker.lineage(a)` at a prompt reads well.
        return f"Lineage of {self.artifact.key!r}:\n{self.format(1)}"

    def graph(self) -> LineageGraph:
        """This lineage as a :class:`~consist.display.graph.LineageGraph` (SVG, Mermaid, text tree)."""
        from consist.display.graph import LineageGraph

        return LineageGraph(self)

    def _repr_html_(self) -> str:
        # `tracker.lineage(artifact)` as the last line of a notebook cell draws the graph.
        return self.graph()._repr_html_()


def lineage(tracker: CatalogHost, artifact: Artifact | str | os.PathLike[str], *, max_depth: int | None = None) -> Lineage:
    """The lineage of ``artifact`` (an :class:`Artifact`, an artifact id, or its file's path).

    A run reached twice (a diamond in the graph) is expanded once; later mentions keep
    their run but no inputs, so the tree is finite even for odd catalogs.
    """
    if max_depth is not None and (isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0):
        raise ConfigError(
            f"max_depth must be a whole number of runs, 0 or more (None follows every run); got {max_depth!r}."
        )
    if isinstance(artifact, (str, os.PathLike)):
        artifact = _artifact_by_id(tracker, os.fspath(artifact))
    return _lineage(tracker, artifact, max_depth, set())


def _lineage(tracker: CatalogHost, artifact: Artifact, depth: int | None, seen: set[str]) -> Lineage:
    if artifact.run_id is None:
        return Lineage(artifact)
    run = tracker.records.get(artifact.run_id)
    if run is None or run.id in seen:
        return Lineage(artifact, run)
    if depth is not None and depth <= 0:
        return Lineage(artifact, run, truncated=bool(run.inputs))
    seen.add(run.id)
    nxt = None if depth is None else depth - 1
    return Lineage(artifact, run, {k: _lineage(tracker, a, nxt, seen) for k, a in run.input_map.items()})


# The newest run that wrote (else read) an artifact: by its id, else by its file's path.
_BY_ID = "SELECT run_id FROM run_artifacts WHERE artifact_id = ? ORDER BY direction = 'out' DESC LIMIT 1"
_BY_PATH = (
    "SELECT ra.run_id, a.id FROM artifacts a JOIN run_artifacts ra ON ra.artifact_id = a.id "
    "JOIN runs r ON r.id = ra.run_id WHERE a.uri = ? "
    "ORDER BY ra.direction = 'out' DESC, r.ended_at DESC LIMIT 1"
)


def recorded_artifact(
    rows: Callable[[str, list[Any]], list[tuple[Any, ...]]],
    records: Any,
    ref: str,
    name_of: Callable[[Path], str] = str,
) -> Artifact | None:
    """The artifact recorded under id ``ref``, else the newest one whose file is at path ``ref``.

    ``rows(sql, params)`` runs a query on the catalog (the command line reads the catalog
    file, a tracker its live connection); ``records`` reads run records; ``name_of``
    gives how a record names a path (through a mount, for a tracker that has them).
    None when nothing recorded matches.
    """
    found, wanted = rows(_BY_ID, [ref]), ref
    if not found:
        found = rows(_BY_PATH, [name_of(Path(ref).expanduser().resolve())])
        wanted = found[0][1] if found else None
    run = records.get(found[0][0]) if found else None
    for artifact in [*run.outputs, *run.inputs] if run is not None else ():
        if artifact.id == wanted:
            return artifact
    return None


def _artifact_by_id(tracker: CatalogHost, artifact_id: str) -> Artifact:
    def rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        return [tuple(row.values()) for row in tracker.catalog.arrow(sql, params).to_pylist()]

    found = recorded_artifact(rows, tracker.records, artifact_id, lambda path: _recorded_name(tracker, path))
    if found is None:
        found = _output_in_run_folder(tracker, Path(artifact_id).expanduser().resolve())
    if found is not None:
        return found
    raise RunNotFoundError(
        f"No recorded run read or wrote an artifact with id or path {artifact_id!r}; "
        "pass an Artifact (e.g. tracker.get_artifacts_for_run(run_id).outputs[key]) or its id."
    )


def _recorded_name(tracker: CatalogHost, path: Path) -> str:
    # How a record names ``path``: through its mount (inputs://...) when it is under one.
    try:
        return tracker.mounts.uri_for(path, "the path")
    except ConfigError:
        return str(path)


def _output_in_run_folder(tracker: CatalogHost, path: Path) -> Artifact | None:
    """The output recorded for ``<run_dir>/<run_id>/<rest>``, wherever the run folder then was.

    A run folder that was moved or copied (another machine, a renamed project) keeps its
    files at the same place relative to it, while records still name the old paths.
    """
    try:
        run_id, *rest = path.relative_to(tracker.run_dir).parts
    except (ValueError, AttributeError):
        return None
    run = tracker.records.get(run_id) if rest else None
    for a in run.outputs if run is not None else ():
        parts = Path(a.uri).parts
        if run_id in parts and list(parts[len(parts) - 1 - parts[::-1].index(run_id) + 1 :]) == rest:
            return a
    return None
