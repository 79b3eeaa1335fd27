"""What differs between two runs: fields, config leaves, facets, inputs, code and outputs.

:func:`diff_runs` compares two recorded runs (``tracker.diff(a, b)``, ``consist diff A B``):
the run fields that place them (step, scenario, year...), each config leaf, facets
that are not config leaves, each input and output by key (its content hash and file),
and their code (its identity, the module constants it reads and, when both sources
were kept, a unified diff of the source text).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.display.html import esc, table
from consist.identity.digests import flatten

if TYPE_CHECKING:
    from consist.catalog.reader import CatalogHost
    from consist.models import Artifact, Run

ABSENT = "(absent)"
SECTIONS = ("run", "config", "facets", "inputs", "code", "outputs")
_RUN_FIELDS = ("name", "model", "kind", "parent_id", "year", "iteration", "status", "cache_mode")


@dataclass(frozen=True)
class Change:
    """One difference: in ``section``, ``key`` is ``a`` in the first run and ``b`` in the second."""

    section: str
    key: str
    a: Any
    b: Any


@dataclass(frozen=True)
class RunDiff:
    """The differences between runs ``a`` and ``b`` (empty when they match everywhere compared).

    Attributes
    ----------
    a, b
        The two runs.
    changes
        Every difference, in the order of :data:`SECTIONS`.
    source_diff
        Unified diff lines of the two runs' code, when it differs and both sources
        were kept (empty otherwise).
    """

    a: Run
    b: Run
    changes: list[Change] = field(default_factory=list)
    source_diff: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def section(self, name: str) -> dict[str, tuple[Any, Any]]:
        """The changes of one section as ``{key: (a, b)}``."""
        return {c.key: (c.a, c.b) for c in self.changes if c.section == name}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON): the run ids, each section's changes, the source diff."""
        out: dict[str, Any] = {"a": self.a.id, "b": self.b.id}
        for name in SECTIONS:
            out[name] = {k: {"a": a, "b": b} for k, (a, b) in self.section(name).items()}
        out["source_diff"] = self.source_diff
        return out

    def text(self) -> str:
        """A readable report: one line per difference, grouped by section."""
        lines = [f"a: {self.a.id}", f"b: {self.b.id}"]
        if not self.changes:
            return "\n".join([*lines, "no differences in fields, config, facets, inputs, code or outputs"])
        for name in SECTIONS:
            changes = self.section(name)
            if changes:
                lines.append(name)
                width = max(len(k) for k in changes)
                lines += [f"  {k.ljust(width)}  {_show(a, name)} -> {_show(b, name)}" for k, (a, b) in changes.items()]
        if self.source_diff:
            lines += ["source", *("  " + line for line in self.source_diff)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"RunDiff({self.a.id!r}, {self.b.id!r}, {len(self.changes)} changes)"

    def _repr_html_(self) -> str:
        rows = [[c.section, c.key, _show(c.a, c.section), _show(c.b, c.section)] for c in self.changes]
        body = table(("section", "key", self.a.id, self.b.id), rows or [["", "(no differences)", "", ""]], title="Run diff")
        if self.source_diff:
            body += f"<pre style='font-size:11px'>{esc(chr(10).join(self.source_diff))}</pre>"
        return body


def _show(value: Any, section: str) -> str:
    # Config strings quoted (so "1" and 1 differ visibly); hashes and paths as they are.
    quoted = isinstance(value, str) and value is not ABSENT and section in ("run", "config", "facets")
    return repr(value) if quoted else str(value)


def _compare(section: str, a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    keys = list(dict.fromkeys([*a, *b]))
    return [Change(section, k, a.get(k, ABSENT), b.get(k, ABSENT)) for k in keys if a.get(k, ABSENT) != b.get(k, ABSENT)]


def _artifact(artifact: Artifact, run_dir: Path) -> str:
    """``hash path``, the path relative to the run folder when it is inside it."""
    path = Path(artifact.uri)
    try:
        path = path.relative_to(run_dir)
    except ValueError:
        pass
    return f"{artifact.hash[:12]} {path}"


def _by_content(section: str, a: dict[str, Artifact], b: dict[str, Artifact], run_dir: Path) -> list[Change]:
    """Inputs or outputs that differ in content (hash); a file that only moved is not a change."""
    same = {k for k in a.keys() & b.keys() if a[k].hash == b[k].hash}
    return _compare(section, {k: _artifact(v, run_dir) for k, v in a.items() if k not in same},
                    {k: _artifact(v, run_dir) for k, v in b.items() if k not in same})  # fmt: skip


def _code(a: Run, b: Run) -> list[Change]:
    info = {}
    for run in (a, b):
        code = run.code
        where = f"{code.module}.{code.qualname}" if code and code.qualname else (code.kind if code else None)
        info[run.id] = {"hash": run.code_hash[:12] if run.code_hash else None, "function": where}
        info[run.id].update({f"constant {k}": v for k, v in ((code.globals or {}) if code else {}).items()})
    return _compare("code", info[a.id], info[b.id])


def _source(tracker: CatalogHost, a: Run, b: Run) -> list[str]:
    if a.code_hash == b.code_hash:
        return []
    texts = []
    for run in (a, b):
        path = tracker.layout.code_path(run.code_hash) if run.code_hash else None
        if path is None or not path.exists():
            return []
        texts.append(path.read_text(encoding="utf-8").splitlines())
    return list(difflib.unified_diff(texts[0], texts[1], a.id, b.id, lineterm=""))


def diff_runs(tracker: CatalogHost, a: Any, b: Any) -> RunDiff:
    """Compare two runs (ids, :class:`Run` or :class:`RunResult`); see :class:`RunDiff`."""
    from consist.catalog.queries import get_run

    first, second = get_run(tracker, a), get_run(tracker, b)
    fields_a = {f: getattr(first, f) for f in _RUN_FIELDS}
    fields_b = {f: getattr(second, f) for f in _RUN_FIELDS}
    leaves_a, leaves_b = flatten(first.config), flatten(second.config)
    changes = _compare("run", fields_a, fields_b)
    changes += _compare("config", leaves_a, leaves_b)
    changes += _compare("facets", {k: v for k, v in first.facets.items() if k not in leaves_a and k not in _RUN_FIELDS},
                        {k: v for k, v in second.facets.items() if k not in leaves_b and k not in _RUN_FIELDS})  # fmt: skip
    run_dir = Path(tracker.run_dir).resolve()
    changes += _by_content("inputs", first.input_map, second.input_map, run_dir)
    changes += _code(first, second)
    changes += _by_content("outputs", first.output_map, second.output_map, run_dir)
    return RunDiff(first, second, changes, _source(tracker, first, second))
