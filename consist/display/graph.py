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
from typing import Any

# Layout in SVG user units: columns of nodes, inputs on the left, the artifact on the right.
_NODE_W, _NODE_H, _COL_GAP, _ROW_GAP, _PAD = 190, 42, 60, 18, 12
_FILL = {"artifact": "#e8f1fb", "raw": "#f2f2f2", "run": "#fdf0dc"}
_STROKE = {"artifact": "#4a7ab5", "raw": "#8a8a8a", "run": "#c08a2d"}


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


def _levels(nodes: list[Node], edges: list[tuple[str, str]]) -> dict[str, int]:
    # Distance to the target along the longest path: a node sits left of everything it feeds.
    level = {n.id: 0 for n in nodes}
    for _ in range(len(nodes)):
        changed = False
        for src, dst in edges:
            if level[src] < level[dst] + 1:
                level[src] = level[dst] + 1
                changed = True
        if not changed:
            break
    return level


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _clip(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


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
        names = {n.id: f"n{i}" for i, n in enumerate(self.nodes)}
        lines = ["flowchart LR"]
        for node in self.nodes:
            label = f"{_mermaid_text(node.title)}<br/><small>{_mermaid_text(node.detail)}</small>"
            shape = f'[["{label}"]]' if node.kind == "run" else f'(["{label}"])'
            lines.append(f"  {names[node.id]}{shape}:::{node.kind}")
        lines += [f"  {names[a]} --> {names[b]}" for a, b in self.edges]
        lines += [f"  classDef {k} fill:{_FILL[k]},stroke:{_STROKE[k]}" for k in ("artifact", "raw", "run")]
        return "\n".join(lines)

    def svg(self) -> str:
        """The graph as a standalone SVG document (inputs left, the artifact right)."""
        level = _levels(self.nodes, self.edges)
        depth = max(level.values(), default=0)
        columns: dict[int, list[Node]] = {}
        for node in self.nodes:
            columns.setdefault(level[node.id], []).append(node)
        tallest = max((len(c) for c in columns.values()), default=1)
        width = _PAD * 2 + (depth + 1) * _NODE_W + depth * _COL_GAP
        height = _PAD * 2 + tallest * _NODE_H + (tallest - 1) * _ROW_GAP
        where: dict[str, tuple[float, float]] = {}
        for lvl, members in columns.items():
            x = _PAD + (depth - lvl) * (_NODE_W + _COL_GAP)
            block = len(members) * _NODE_H + (len(members) - 1) * _ROW_GAP
            top = (height - block) / 2
            for i, node in enumerate(members):
                where[node.id] = (x, top + i * (_NODE_H + _ROW_GAP))
        parts = [
            (
                f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'
            ),
            (
                '<defs><marker id="consist-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
                'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>'
            ),
        ]
        for src, dst in self.edges:
            (x1, y1), (x2, y2) = where[src], where[dst]
            sx, sy, ex, ey = x1 + _NODE_W, y1 + _NODE_H / 2, x2, y2 + _NODE_H / 2
            mid = (sx + ex) / 2
            parts.append(
                f'<path d="M{sx:.0f},{sy:.0f} C{mid:.0f},{sy:.0f} {mid:.0f},{ey:.0f} {ex:.0f},{ey:.0f}" '
                'fill="none" stroke="#666" stroke-width="1.2" marker-end="url(#consist-arrow)"/>'
            )
        for node in self.nodes:
            x, y = where[node.id]
            radius = 4 if node.kind == "run" else 14
            parts.append(
                f'<g><title>{_esc(node.title)}: {_esc(node.detail)}</title>'
                f'<rect x="{x:.0f}" y="{y:.0f}" width="{_NODE_W}" height="{_NODE_H}" rx="{radius}" '
                f'fill="{_FILL[node.kind]}" stroke="{_STROKE[node.kind]}"/>'
                f'<text x="{x + _NODE_W / 2:.0f}" y="{y + 17:.0f}" text-anchor="middle" font-weight="600">'
                f"{_esc(_clip(node.title))}</text>"
                f'<text x="{x + _NODE_W / 2:.0f}" y="{y + 32:.0f}" text-anchor="middle" fill="#555" '
                f'font-size="10">{_esc(_clip(node.detail, 31))}</text></g>'
            )
        parts.append("</svg>")
        return "".join(parts)

    def text(self) -> str:
        """The lineage as an indented tree, the artifact first and raw inputs last."""
        lines: list[str] = []
        _tree(self.lineage, "", "", lines)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        title = f"Lineage of {_esc(self.lineage.artifact.key)}"
        return f"<div style='overflow:auto'><div style='font-weight:600;margin:4px 0'>{title}</div>{self.svg()}</div>"

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.mermaid()}\n```"


def _mermaid_text(text: str) -> str:
    # Mermaid labels are HTML inside double quotes: escape markup and the quote itself.
    return html.escape(text, quote=False).replace('"', "#quot;")


def _describe_artifact(artifact: Any) -> str:
    from consist.display.html import human_size

    raw = "" if artifact.run_id else "  (raw input)"
    return f"{artifact.key}  {artifact.hash[:12]}  {human_size(artifact.size)}  {artifact.uri}{raw}"


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
