"""A whole scenario as one graph: every step run and every artifact it read or wrote.

``consist.scenario_graph("baseline", tracker=tracker)`` (or ``sc.graph()`` on a live
scenario) draws the scenario's steps in the order they ran, each input artifact feeding
the steps that read it and each step feeding the artifacts it wrote (for a cache hit,
the outputs it reused). Same renderings as :class:`~consist.display.graph.LineageGraph`: an
SVG in notebooks, :meth:`ScenarioGraph.mermaid`, and a text listing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consist.display.graph import Node, mermaid
from consist.errors import RunNotFoundError

if TYPE_CHECKING:
    from consist.models import Artifact, Run


def _artifact(artifact: Artifact) -> Node:
    kind = "artifact" if artifact.run_id else "raw"
    return Node(f"a:{artifact.id}", kind, artifact.key, f"{artifact.driver} {artifact.hash[:12]}")


def _run(run: Run) -> Node:
    title = f"{run.name} {run.year}" if run.year is not None else run.name
    state = " (hit)" if run.cache_hit else "" if run.status == "completed" else f" ({run.status})"
    return Node(f"r:{run.id}", "run", title + state, run.id)


class ScenarioGraph:
    """Every step of one scenario and the artifacts between them.

    Attributes
    ----------
    name
        The scenario.
    runs
        Its step runs, in the order they ran.
    nodes, edges
        Boxes (runs and artifacts) and ``(from id, to id)`` pairs, inputs to outputs.
    """

    def __init__(self, name: str, runs: list[Run]) -> None:
        self.name = name
        self.runs = runs
        nodes: dict[str, Node] = {}
        edges: dict[tuple[str, str], None] = {}
        for run in runs:
            node = nodes.setdefault(f"r:{run.id}", _run(run))
            for artifact in run.inputs:
                source = nodes.setdefault(f"a:{artifact.id}", _artifact(artifact))
                edges[(source.id, node.id)] = None
            for artifact in run.outputs:
                target = nodes.setdefault(f"a:{artifact.id}", _artifact(artifact))
                edges[(node.id, target.id)] = None
        self.nodes, self.edges = list(nodes.values()), list(edges)

    def __repr__(self) -> str:
        return f"ScenarioGraph({self.name!r}, {len(self.runs)} runs, {len(self.nodes) - len(self.runs)} artifacts)"

    def __str__(self) -> str:
        return self.text()

    def text(self) -> str:
        """One line per step: its run, what it read and what it wrote."""
        lines = [f"scenario {self.name}"]
        for run in self.runs:
            reads = ", ".join(a.key for a in run.inputs) or "-"
            writes = ", ".join(a.key for a in run.outputs) or "-"
            lines.append(f"  {_run(run).title}  ({_run(run).detail})  reads {reads}  writes {writes}")
        return "\n".join(lines)

    def mermaid(self) -> str:
        """A Mermaid ``flowchart LR`` of the scenario."""
        return mermaid(self.nodes, self.edges)

    def svg(self) -> str:
        """The scenario as a standalone SVG document (see :mod:`consist.display.graph_layout`)."""
        from consist.display.graph_layout import svg

        return svg(self.nodes, self.edges)

    def _repr_html_(self) -> str:
        from consist.display.graph_layout import html_block

        return html_block(f"Scenario {self.name}", self.svg())

    def _repr_markdown_(self) -> str:
        return f"```mermaid\n{self.mermaid()}\n```"


def scenario_graph(scenario: Any, tracker: Any) -> ScenarioGraph:
    """The graph of ``scenario`` (a scenario object or a recorded one's name) read from ``tracker``.

    :func:`consist.scenario_graph` resolves the tracker; ``tracker`` None means the
    scenario object's own.
    """
    if not isinstance(scenario, str):
        tracker = tracker if tracker is not None else scenario.tracker
        name, step_ids = scenario.name, list(scenario.steps)
    else:
        found = tracker.find_runs(kind="scenario", name=scenario, status=None, limit=1)
        if not found:
            raise RunNotFoundError(
                f"no scenario named {scenario!r} is recorded in {tracker.run_dir}; "
                "list scenarios with tracker.find_runs(kind='scenario') or `consist runs --kind scenario`."
            )
        name, step_ids = scenario, list(found[-1].meta.get("steps") or [])
    runs = [run for run in (tracker.records.get(i) for i in step_ids) if run is not None]
    return ScenarioGraph(name, runs)
