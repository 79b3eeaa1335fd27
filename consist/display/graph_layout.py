"""Layered drawing of a provenance graph as SVG: every edge visible, sized for a notebook cell.

A small Sugiyama-style layout: nodes are ranked by their longest path from a source, an
edge that spans several ranks passes through a reserved slot in each rank between (so it
never runs under a box), nodes within a rank are ordered to reduce crossings (barycenter
sweeps) and placed near the middle of their neighbours. Left to right when that fits
:data:`CELL_WIDTH`, else top to bottom; a picture wider than a cell even then keeps its
size and scrolls rather than shrinking its text below legibility. Pure string building:
every label is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CELL_WIDTH = 880  # px a notebook output cell shows without scrolling (JupyterLab, VS Code)
MIN_SCALE = 0.75  # shrink to fit down to this, no further: 12 px text stays at 9 px or more
NODE_W, NODE_H, RANK_GAP, ORDER_GAP, PAD, SLOT = 140, 40, 36, 16, 10, 14
FILL = {"artifact": "#e8f1fb", "raw": "#f2f2f2", "run": "#fdf0dc"}
STROKE = {"artifact": "#4a7ab5", "raw": "#8a8a8a", "run": "#c08a2d"}


@dataclass(frozen=True)
class Box:
    """A node to draw: ``kind`` picks the colours (``artifact``, ``raw``, ``run``)."""

    id: str
    kind: str
    title: str
    detail: str


@dataclass
class Layout:
    """Where everything goes: box corners, edge polylines (with the gap bands marked), the size."""

    corners: dict[str, tuple[float, float]]
    routes: dict[tuple[str, str], list[tuple[float, float]]]
    width: float
    height: float
    across: bool  # True: ranks run left to right


def ranks(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path rank from the sources (a node sits after everything that feeds it)."""
    rank = dict.fromkeys(ids, 0)
    for _ in range(len(ids)):
        changed = False
        for src, dst in edges:
            if rank[dst] < rank[src] + 1:
                rank[dst] = rank[src] + 1
                changed = True
        if not changed:
            break
    return rank


def _chains(ids: Sequence[str], edges: Sequence[tuple[str, str]], rank: dict[str, int]):
    """Layers with a slot per rank crossed by a long edge, and each edge's chain of slots."""
    layers: list[list[str]] = [[] for _ in range(max(rank.values(), default=0) + 1)]
    for node in ids:
        layers[rank[node]].append(node)
    chains: dict[tuple[str, str], list[str]] = {}
    for src, dst in edges:
        slots = [f"\x00{src}\x00{dst}\x00{r}" for r in range(rank[src] + 1, rank[dst])]
        for slot, r in zip(slots, range(rank[src] + 1, rank[dst])):
            layers[r].append(slot)
        chains[(src, dst)] = [src, *slots, dst]
    return layers, chains


def _neighbours(chains: dict[tuple[str, str], list[str]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for chain in chains.values():
        for a, b in zip(chain, chain[1:]):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
    return up, down


def _order(layers: list[list[str]], up: dict[str, list[str]], down: dict[str, list[str]]) -> None:
    """Barycenter sweeps, down then up, reordering each layer in place."""
    for _ in range(6):
        for sweep, near in ((range(1, len(layers)), up), (range(len(layers) - 2, -1, -1), down)):
            for r in sweep:
                other = layers[r - 1] if near is up else layers[r + 1]
                where = {n: i for i, n in enumerate(other)}
                current = {n: i for i, n in enumerate(layers[r])}

                def key(node: str) -> float:
                    linked = [where[m] for m in near.get(node, ()) if m in where]
                    return sum(linked) / len(linked) if linked else float(current[node])

                layers[r].sort(key=key)


def _size(node: str, across: bool) -> float:
    if node.startswith("\x00"):
        return SLOT
    return NODE_H if across else NODE_W


def _place(layers: list[list[str]], up: dict[str, list[str]], down: dict[str, list[str]], across: bool) -> dict[str, float]:
    """Centre of each node along the order axis: near its neighbours, never overlapping."""
    pos: dict[str, float] = {}
    for layer in layers:
        at = 0.0
        for node in layer:
            size = _size(node, across)
            pos[node] = at + size / 2
            at += size + ORDER_GAP
    for _ in range(4):
        for sweep, near in ((layers[1:], up), (layers[-2::-1], down)):
            for layer in sweep:
                wanted = []
                for node in layer:
                    linked = [pos[m] for m in near.get(node, ()) if m in pos]
                    wanted.append(sum(linked) / len(linked) if linked else pos[node])
                _spread(layer, wanted, pos, across)
    low = min((pos[n] - _size(n, across) / 2 for layer in layers for n in layer), default=0.0)
    return {n: p - low for n, p in pos.items()}


def _spread(layer: list[str], wanted: list[float], pos: dict[str, float], across: bool) -> None:
    """Put ``layer`` as near ``wanted`` as the minimum spacing allows, keeping its order."""
    placed: list[float] = []
    for i, node in enumerate(layer):
        floor = placed[-1] + (_size(layer[i - 1], across) + _size(node, across)) / 2 + ORDER_GAP if placed else -1e9
        placed.append(max(wanted[i], floor))
    shift = (sum(wanted) - sum(placed)) / len(placed) if placed else 0.0
    for node, value in zip(layer, placed):
        pos[node] = value + shift


def layout(ids: Sequence[str], edges: Sequence[tuple[str, str]], across: bool) -> Layout:
    """Lay the graph out left to right (``across``) or top to bottom."""
    rank = ranks(ids, edges)
    layers, chains = _chains(ids, edges, rank)
    up, down = _neighbours(chains)
    _order(layers, up, down)
    pos = _place(layers, up, down, across)
    step = (NODE_W if across else NODE_H) + RANK_GAP * (1 if across else 0.75)
    depth = NODE_W if across else NODE_H
    extent = max((pos[n] + _size(n, across) / 2 for layer in layers for n in layer), default=0.0)

    def point(node: str, r: int, along: float) -> tuple[float, float]:
        a, o = PAD + r * step + along, PAD + pos[node]
        return (a, o) if across else (o, a)

    corners = {}
    for node in ids:
        a, o = PAD + rank[node] * step, PAD + pos[node] - _size(node, across) / 2
        corners[node] = (a, o) if across else (o, a)
    routes = {}
    for edge, chain in chains.items():
        points = [point(chain[0], rank[chain[0]], depth)]
        for slot in chain[1:-1]:
            r = int(slot.rsplit("\x00", 1)[1])
            points += [point(slot, r, 0), point(slot, r, depth)]
        points.append(point(chain[-1], rank[chain[-1]], 0))
        routes[edge] = points
    _ports(routes, across)
    length = PAD * 2 + (max(rank.values(), default=0)) * step + depth
    breadth = PAD * 2 + extent
    width, height = (length, breadth) if across else (breadth, length)
    return Layout(corners, routes, width, height, across)


def _ports(routes: dict[tuple[str, str], list[tuple[float, float]]], across: bool) -> None:
    """Spread the ends of several edges on one side of a box, in the order they arrive."""
    o = 1 if across else 0
    side = NODE_H if across else NODE_W
    for end, near in ((0, 1), (-1, -2)):
        groups: dict[str, list[tuple[str, str]]] = {}
        for edge in routes:
            groups.setdefault(edge[0] if end == 0 else edge[1], []).append(edge)
        for group in groups.values():
            group.sort(key=lambda e: routes[e][near][o])
            for i, edge in enumerate(group):
                offset = (i + 1) / (len(group) + 1) - 0.5
                point = list(routes[edge][end])
                point[o] += offset * side * 0.7
                routes[edge][end] = (point[0], point[1])


def path_data(points: list[tuple[float, float]], across: bool) -> str:
    """An SVG path: curves across the gaps between ranks, straight through reserved slots."""
    (x, y), rest = points[0], points[1:]
    parts = [f"M{x:.1f},{y:.1f}"]
    for i in range(0, len(rest), 2):
        (x1, y1), (x2, y2) = (x, y), rest[i]
        if across:
            mid = (x1 + x2) / 2
            parts.append(f"C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}")
        else:
            mid = (y1 + y2) / 2
            parts.append(f"C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}")
        x, y = x2, y2
        if i + 1 < len(rest):
            x, y = rest[i + 1]
            parts.append(f"L{x:.1f},{y:.1f}")
    return " ".join(parts)


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _clip(text: str, n: int, *, keep_end: bool = False) -> str:
    if len(text) <= n:
        return text
    return "…" + text[len(text) - n + 1 :] if keep_end else text[: n - 1] + "…"


def choose(boxes: Sequence[Box], edges: Sequence[tuple[str, str]]) -> Layout:
    """Left to right when that fits a notebook cell, else whichever direction is narrower."""
    ids = [b.id for b in boxes]
    across = layout(ids, edges, True)
    if across.width <= CELL_WIDTH:
        return across
    down = layout(ids, edges, False)
    return down if down.width < across.width else across


def svg(boxes: Sequence[Box], edges: Sequence[tuple[str, str]]) -> str:
    """The graph as a standalone SVG document that fits a notebook cell where it can."""
    plan = choose(boxes, edges)
    w, h = round(plan.width), round(plan.height)
    fits = w * MIN_SCALE <= CELL_WIDTH
    style = "max-width:100%;height:auto" if fits else "max-width:none"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'style="{style}" font-family="sans-serif" font-size="12" role="img">',
        '<defs><marker id="consist-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>',
    ]
    for (src, dst), points in plan.routes.items():
        parts.append(
            f'<path data-edge="{_esc(src)}|{_esc(dst)}" d="{path_data(points, plan.across)}" fill="none" '
            'stroke="#666" stroke-width="1.2" marker-end="url(#consist-arrow)"/>'
        )
    for box in boxes:
        x, y = plan.corners[box.id]
        radius = 4 if box.kind == "run" else 14
        cx = x + NODE_W / 2
        parts.append(
            f'<g><title>{_esc(box.title)}: {_esc(box.detail)}</title>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="{radius}" '
            f'fill="{FILL[box.kind]}" stroke="{STROKE[box.kind]}" data-node="{_esc(box.id)}"/>'
            f'<text x="{cx:.0f}" y="{y + 16:.0f}" text-anchor="middle" font-weight="600">'
            f"{_esc(_clip(box.title, 20))}</text>"
            f'<text x="{cx:.0f}" y="{y + 31:.0f}" text-anchor="middle" fill="#555" '
            f'font-size="10">{_esc(_clip(box.detail, 25, keep_end=box.kind == "run"))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def html_block(title: str, body_svg: str) -> str:
    """The notebook form: a heading and the picture, scrolling sideways only when too wide to shrink."""
    return (
        f"<div style='overflow-x:auto;max-width:100%'><div style='font-weight:600;margin:4px 0'>{_esc(title)}</div>"
        f"{body_svg}</div>"
    )
