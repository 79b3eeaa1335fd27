"""Drawing an artifact's lineage: an SVG graph for notebooks, Mermaid text, a text tree.

:class:`LineageGraph` wraps the plain :class:`~consist.catalog.lineage.Lineage` data the catalog
returns. In a notebook cell it renders as an inline SVG (no JavaScript, so it shows in
saved notebooks and static HTML too); ``.mermaid()`` gives a flowchart to paste into
Markdown; ``str()`` is the tree the ``consist lineage`` command prints. Pure string
building: every label is escaped, nothing is read from disk.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Node:
    """One box of the graph: an artifact (``"artifact"``/``"raw"``) or a run (``"run"``)."""

    id: str
    kind: str
    title: str
    detail: str


def _artifact_node(artifact: Any) -> Node:
    kind = "artifact" if artifact.run_id else "raw"
    return Node(f"a:{artifact.id}", kind, artifact.key, f"{artifact.driver} {artifact.hash[:12]}")


def _run_node(run: Any) -> Node:
    detail = run.id if run.status == "completed" else f"{run.id} ({run.status})"
    return Node(f"r:{run.id}", "run", run.name, detail)


def graph_of(lineage: Any) -> tuple[list[Node], list[tuple[str, str]]]:
    """Nodes (in first-visit order) and edges ``input -> run -> output`` of a lineage tree."""
    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str], None] = {}
    stack = [lineage]
    while stack:
        item = stack.pop(0)
        art = _artifact_node(item.artifact)
        nodes.setdefault(art.id, art)
        if item.run is None:
            continue
        run = _run_node(item.run)
        nodes.setdefault(run.id, run)
        edges[(run.id, art.id)] = None
        for child in item.inputs.values():
            edges[(_artifact_node(child.artifact).id, run.id)] = None
            stack.append(child)
    return list(nodes.values()), list(edges)


class LineageGraph:
    """A drawable lineage: SVG in notebooks, :meth:`mermaid` text, and a text tree.

    Parameters
    ----------
    lineage
        What :meth:`Tracker.lineage` returned.

    Attributes
    ----------
    lineage
        The wrapped :class:`~consist.catalog.lineage.Lineage`.
    nodes, edges
        The graph: artifacts and runs, and ``(from id, to id)`` pairs.

    Examples
    --------
    >>> graph = consist.lineage_graph(result.outputs["analysis"], tracker=tracker)  # doctest: +SKIP
    >>> graph            # in a notebook: the graph, inputs on the left
    >>> print(graph.mermaid())
    flowchart LR
    ...

    .. versionadded:: 0.1
    """

    def __init__(self, lineage: Any) -> None:
        self.lineage = lineage
        self.nodes, self.edges = graph_of(lineage)

    def __repr__(self) -> str:
        runs = sum(1 for n in self.nodes if n.kind == "run")
        return f"LineageGraph({self.lineage.artifact.key!r}, {runs} runs, {len(self.nodes) - runs} artifacts)"

    def __str__(self) -> str:
        return self.text()

    # -- renderings ------------------------------------------------------------------

    def mermaid(self) -> str:
        """A Mermaid ``flowchart LR`` of the graph (paste it into a ```mermaid block)."""
        return mermaid(self.nodes, self.edges)

    def svg(self) -> str:
        """The graph as a standalone SVG document (inputs first; see :mod:`consist.display.graph_layout`)."""
        from consist.display.graph_layout import svg

        return svg(self.nodes, self.edges)

    def text(self) -> str:
        """The lineage as an indented tree, the artifact first and raw inputs last."""
        lines: list[str] = []
        _tree(self.lineage, "", "", lines)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from consist.display.graph_layout import html_block

        return html_block(f"Lineage of {self.lineage.artifact.key}", self.svg())

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.mermaid()}\n```"


def mermaid(nodes: list[Node], edges: list[tuple[str, str]]) -> str:
    """A Mermaid ``flowchart LR`` of boxes and edges: runs as subroutines, artifacts as pills."""
    from consist.display.graph_layout import FILL, STROKE

    names = {n.id: f"n{i}" for i, n in enumerate(nodes)}
    lines = ["flowchart LR"]
    for node in nodes:
        label = f"{_mermaid_text(node.title)}<br/><small>{_mermaid_text(node.detail)}</small>"
        shape = f'[["{label}"]]' if node.kind == "run" else f'(["{label}"])'
        lines.append(f"  {names[node.id]}{shape}:::{node.kind}")
    lines += [f"  {names[a]} --> {names[b]}" for a, b in edges]
    lines += [f"  classDef {k} fill:{FILL[k]},stroke:{STROKE[k]}" for k in ("artifact", "raw", "run")]
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    # Mermaid labels are HTML inside double quotes: escape markup and the quote itself.
    return html.escape(text, quote=False).replace('"', "#quot;")


def _describe_artifact(artifact: Any) -> str:
    from consist.display.html import human_size

    raw = "" if artifact.run_id else "  (raw input)"
    return f"{artifact.key}  {artifact.hash[:12]}  {human_size(artifact.size)}  {_near_path(artifact.uri)}{raw}"


def _near_path(uri: str) -> str:
    """``uri`` relative to the working folder when it is inside it (``runs/<run>/x.parquet``), else as recorded."""
    try:
        return Path(uri).relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return uri


def _tree(node: Any, first: str, rest: str, lines: list[str]) -> None:
    lines.append(first + _describe_artifact(node.artifact))
    if node.run is None:
        return
    run = node.run
    status = "" if run.status == "completed" else f", {run.status}"
    scenario = f", scenario {run.parent_id}" if run.parent_id else ""
    year = f", year {run.year}" if run.year is not None else ""
    expanded = bool(node.inputs) or not run.inputs
    if node.truncated:
        note = f"  ({len(run.inputs)} input(s) not followed: depth limit)"
    else:
        note = "" if expanded else "  (inputs shown above)"
    lines.append(f"{rest}└─ made by {run.name}  (run {run.id}{scenario}{year}{status}){note}")
    children = list(node.inputs.values())
    inner = rest + "   "
    for i, child in enumerate(children):
        last = i == len(children) - 1
        _tree(child, inner + ("└─ " if last else "├─ "), inner + ("   " if last else "│  "), lines)
