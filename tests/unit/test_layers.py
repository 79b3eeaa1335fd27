"""The package's floors: imports run downward only and never in a circle (read with ast).

Every import counts: at module level, inside functions, and under ``TYPE_CHECKING``.
The floors are the ones ``docs/architecture.md`` draws.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import consist

PACKAGE = Path(consist.__file__).parent

# Module (or package) -> floor, top (1) to bottom (8). A module takes its longest prefix's floor.
FLOORS = {
    "consist": 1, "consist.__main__": 1, "consist.cli": 1, "consist.integrations": 1,
    "consist.api": 2, "consist.tracker": 2, "consist.tracker_cache": 2, "consist.tracker_catalog": 2,
    "consist.workflow": 3,
    "consist.cache": 4, "consist.executors": 4,
    "consist.engine": 5, "consist.views": 5,
    "consist.catalog": 6, "consist.artifacts": 6,
    "consist.identity": 7,
    "consist.models": 8, "consist.errors": 8, "consist.atomic": 8, "consist.keywords": 8, "consist.dotted": 8,
    "consist.user_warnings": 8, "consist.upstream": 8, "consist.file_lock": 8, "consist.mounts": 8,
    "consist._active": 8, "consist.display": 8,
}  # fmt: skip
FRONT = {"consist", "consist.__main__", "consist.api", "consist.tracker", "consist.tracker_cache", "consist.tracker_catalog"}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def floor(module: str) -> int | None:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in FLOORS:
            return FLOORS[".".join(parts[:i])]
    return None


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The consist modules ``module`` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {module: imports(module, path, known) for module, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_is_on_a_floor():
    """Each module of the package belongs to a floor (a new module must be placed)."""
    assert sorted(m for m in modules() if floor(m) is None) == []


def test_imports_run_downward():
    """No module imports one on a higher floor than its own."""
    upward = [
        f"{module} (floor {floor(module)}) imports {target} (floor {floor(target)})"
        for module, targets in graph().items()
        if module != "consist"
        for target in sorted(targets)
        if target != "consist" and floor(target) < floor(module)
    ]
    assert upward == []


def test_no_import_circle():
    """The import graph has no circle, counting function-level and TYPE_CHECKING imports."""
    assert cycles(graph()) == []


def test_nothing_below_the_front_imports_the_tracker():
    """Only the front (api, tracker and its mixins) imports the Tracker; lower floors get narrow hosts."""
    tracker_modules = {"consist.tracker", "consist.tracker_cache", "consist.tracker_catalog", "consist.api"}
    users = sorted(
        module
        for module, targets in graph().items()
        if floor(module) > 2 and targets & tracker_modules
    )
    assert users == []
    assert all(floor(m) <= 2 for m in FRONT)


def test_the_check_sees_a_circle_and_an_upward_import():
    """The checks above can fail: a made-up circle and an upward edge are found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert floor("consist.catalog.records") == 6 and floor("consist.workflow.scenario") == 3


def test_each_subpackage_says_what_it_owns():
    """Every subpackage's __init__ has a docstring stating what it owns."""
    missing = [
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("__init__.py")
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert missing == []


def test_run_options_are_planned_in_one_place():
    """The planner knows exactly the options Tracker.run takes (sc.run and explain use the same set)."""
    from consist.workflow.steps import RUN_OPTIONS

    params = inspect.signature(consist.Tracker.run).parameters
    assert RUN_OPTIONS == {name for name, p in params.items() if p.kind is p.KEYWORD_ONLY}
