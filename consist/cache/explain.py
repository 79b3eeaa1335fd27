"""Explaining, before running, whether a step would hit the cache and exactly why not.

:func:`explain` takes the same step description as :meth:`Tracker.run`, computes its
identity (hashing inputs as a run would, from the stat memo when unchanged), consults
the cache index, and never executes or copies anything. On a miss it compares the call
with the *closest* of the step's recently executed runs, component by component, from
the digests recorded when they ran (not a guess), and follows changed inputs upstream:
the run that produced a changed input, why *it* ran, and so on up the chain.

Everything it reads is O(1) in the size of the catalog: one cache-index file, the
step's list of recent runs, and one record per upstream hop.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consist.engine import hydration
from consist.engine.step import lookup, prepare
from consist.identity import reasons
from consist.identity.digests import diff_configs
from consist.identity.reasons import StepComponents
from consist.identity.source_check import UNMATCHED

if TYPE_CHECKING:
    from consist.engine.host import StepHost
    from consist.engine.spec import StepSpec
    from consist.models import CodeInfo

# Upstream hops followed at most (a cycle is impossible; this bounds a very long chain).
_MAX_DEPTH = 32
_DIFF_LINES = 40


@dataclass(frozen=True)
class CodeChange:
    """The step's code identity differs from the compared run's."""

    where: str
    old_kind: str
    new_kind: str
    old_hash: str
    new_hash: str
    description: str
    diff: str | None = None


@dataclass(frozen=True)
class ConfigChange:
    """One config leaf (dotted key) whose value differs; ``"<absent>"`` on a missing side."""

    key: str
    old: Any
    new: Any


@dataclass(frozen=True)
class InputChange:
    """One input whose content differs (or that was added or removed).

    ``producer`` is the run that produced the new content (None for a raw file).
    """

    name: str
    old_path: str | None
    new_path: str | None
    old_hash: str | None
    new_hash: str | None
    producer: str | None = None

    @property
    def kind(self) -> str:
        """``"changed"``, ``"added"`` or ``"removed"``."""
        return "added" if self.old_hash is None else "removed" if self.new_hash is None else "changed"


@dataclass(frozen=True)
class UpstreamCause:
    """Why an upstream run that produced a changed input ran itself.

    ``depth`` 1 produced an input of this step, 2 an input of that run, and so on.
    When the chain is no longer remembered step by step, the root cause recorded with
    the last run reached is given with ``input``, ``run_id`` and ``step`` set to None.
    """

    depth: int
    input: str | None
    run_id: str | None
    step: str | None
    reason: str


@dataclass(frozen=True)
class Explanation:
    """Whether a step call would hit the cache, and why (see :meth:`Tracker.explain`).

    Attributes
    ----------
    step
        The step name.
    would_hit
        True when :meth:`Tracker.run` with the same arguments would not execute.
    reason
        One line: the run that would be reused, or exactly why it would miss.
    signature
        The call's cache key.
    reused_run_id
        On a hit, the run whose outputs would be served.
    compared_run_id
        On a miss, the closest earlier run of the step that differences refer to.
    epoch
        ``(old, new)`` cache epochs when they differ.
    code, config, inputs
        The differing components (:class:`CodeChange`, :class:`ConfigChange`,
        :class:`InputChange`).
    upstream
        Causes followed up the chain of producers of changed inputs.
    problem
        Why an existing cache entry for this exact signature cannot be used (an output
        missing or modified, ``cache_mode='overwrite'``, a hydration that would fail).
    """

    step: str
    would_hit: bool
    reason: str
    signature: str
    reused_run_id: str | None = None
    compared_run_id: str | None = None
    epoch: tuple[int, int] | None = None
    code: CodeChange | None = None
    config: tuple[ConfigChange, ...] = ()
    inputs: tuple[InputChange, ...] = ()
    upstream: tuple[UpstreamCause, ...] = ()
    problem: str | None = None
    hydration: str = "metadata"

    def __str__(self) -> str:
        verdict = "would HIT (not execute)" if self.would_hit else "would MISS (execute)"
        changed = self.changed()
        if changed and not self.problem:
            summary = (
                f"{', '.join(changed)} differ{'s' if len(changed) == 1 else ''} from run {self.compared_run_id} "
                "(the closest earlier run of this step)"
            )
        else:
            summary = reasons.own_reason(self.reason)
        lines = [f"step {self.step!r} {verdict}: {summary}"]
        if self.hydration != "metadata":
            lines.append(f"  cache_hydration: {self.hydration}")
        if self.epoch:
            lines.append(f"  - cache epoch {self.epoch[0]} -> {self.epoch[1]}")
        if self.code:
            lines.append(f"  - {self.code.description}")
            if self.code.diff:
                lines.extend("      " + line for line in self.code.diff.splitlines())
        for change in self.config:
            lines.append(f"  - config {change.key}: {change.old!r} -> {change.new!r}")
        lines.extend(f"  - {line}" for line in _input_lines(self.inputs))
        for cause in self.upstream:
            indent = "    " * cause.depth
            if cause.input is None:
                lines.append(f"{indent}<- root cause: {cause.reason}")
            else:
                lines.append(
                    f"{indent}<- input {cause.input!r} came from run {cause.run_id} (step {cause.step!r}), "
                    f"which ran because: {cause.reason}"
                )
        return "\n".join(lines)


    def changed(self) -> list[str]:
        """The components that differ from the compared run, in the order reasons give them."""
        out = ["cache epoch"] if self.epoch else []
        out += ["code"] if self.code else []
        out += [f"config {c.key}" for c in self.config]
        return out + [f"input {c.name!r}" for c in self.inputs]


def _input_lines(changes: tuple[InputChange, ...]) -> list[str]:
    """One line per input change, worded as recorded miss reasons word them."""
    return reasons.input_differences(
        {c.name: c.old_hash for c in changes if c.old_hash is not None},
        {c.name: c.new_hash for c in changes if c.new_hash is not None},
        {c.name: c.old_path for c in changes if c.old_path is not None},
        {c.name: c.new_path for c in changes if c.new_path is not None},
    )


def would_hit(host: StepHost, spec: StepSpec) -> bool:
    """Whether running ``spec`` now would be served from the cache."""
    prep = prepare(host, spec)
    entry, _ = lookup(host, spec, prep, hydrate=False)
    if entry is not None and spec.cache_hydration in hydration.ON_HIT:
        return hydration.preflight(host, spec, entry) is None
    return entry is not None


def explain(host: StepHost, spec: StepSpec) -> Explanation:
    """Explain whether running ``spec`` now would hit the cache (nothing executes)."""
    prep = prepare(host, spec)
    entry, problem = lookup(host, spec, prep, hydrate=False)
    if entry is not None and spec.cache_hydration in hydration.ON_HIT:
        problem = hydration.preflight(host, spec, entry)
        if problem:
            entry = None
    mode = hydration.describe(spec)
    if entry is not None:
        reason = f"would reuse run {entry.run_id} (same code, config and inputs)"
        return Explanation(spec.name, True, reason, prep.signature, reused_run_id=entry.run_id, hydration=mode)
    current = prep.components("(this call)", host.cache_epoch, cached=spec.cache_mode != "readonly")
    previous = reasons.closest(host.index.recent(spec.name), current)
    reason = problem or reasons.full_reason(spec.name, previous, current, host.records.get)
    if previous is None:
        return Explanation(spec.name, False, reason, prep.signature, problem=problem, hydration=mode)
    return Explanation(
        spec.name,
        False,
        reason,
        prep.signature,
        compared_run_id=previous.run_id,
        epoch=(previous.epoch, current.epoch) if previous.epoch != current.epoch else None,
        code=_code_change(host, previous.code, current.code, prep.source),
        config=tuple(ConfigChange(k, a, b) for k, a, b in diff_configs(previous.config, current.config)),
        inputs=_input_changes(previous, current),
        upstream=tuple(_upstream(host, previous, current)),
        problem=problem,
        hydration=mode,
    )


def _code_change(host: StepHost, old: CodeInfo, new: CodeInfo, source: str | None) -> CodeChange | None:
    description = reasons.code_difference(old, new)
    if description is None:
        return None
    diff = None
    before = _source(host, old.hash)
    if before is not None and before == source and old.kind == new.kind and not before.startswith(UNMATCHED):
        # Same text, different identity: what the code is bound to changed.
        description += (
            "; its source text is unchanged, so a default argument, closure value or bound "
            "instance attribute differs"
        )
    elif before is not None and source is not None:
        lines = list(
            difflib.unified_diff(before.splitlines(), source.splitlines(), "recorded", "now", n=1, lineterm="")
        )
        if lines:
            diff = "\n".join(lines[:_DIFF_LINES] + (["..."] if len(lines) > _DIFF_LINES else []))
    where = new.qualname or new.module or new.kind
    return CodeChange(where, old.kind, new.kind, old.hash, new.hash, description, diff)


def _source(host: StepHost, code_hash: str) -> str | None:
    try:
        return host.layout.code_path(code_hash).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # a damaged snapshot only loses the diff
        return None


def _input_changes(previous: StepComponents, current: StepComponents) -> tuple[InputChange, ...]:
    return tuple(
        InputChange(
            name,
            previous.paths.get(name),
            current.paths.get(name),
            previous.inputs.get(name),
            current.inputs.get(name),
            current.producers.get(name),
        )
        for name in reasons.changed_inputs(previous.inputs, current.inputs)
    )


def _upstream(host: StepHost, previous: StepComponents, current: StepComponents) -> list[UpstreamCause]:
    """Walk producers of changed inputs upstream, saying why each ran."""
    out: list[UpstreamCause] = []
    seen: set[str] = set()
    frontier = [(1, previous, current)]
    while frontier:
        depth, old, new = frontier.pop(0)
        for name in reasons.changed_inputs(old.inputs, new.inputs):
            producer_id = new.producers.get(name)
            if not producer_id or producer_id in seen or depth > _MAX_DEPTH:
                continue
            seen.add(producer_id)
            run = host.records.get(producer_id)
            if run is None:
                continue
            reason = reasons.own_reason(run.miss_reason or "executed (no reason recorded)")
            out.append(UpstreamCause(depth, name, run.id, run.name, reason))
            # Continue from the producer's own components when the step still remembers them.
            recent = host.index.recent(run.name)
            position = next((i for i, c in enumerate(recent) if c.run_id == run.id), None)
            if position is not None:
                before = reasons.closest(recent[position + 1 :], recent[position])
                if before is not None:
                    frontier.append((depth + 1, before, recent[position]))
                    continue
            # Otherwise the recorded reason carries the root cause forward.
            if reasons.UPSTREAM in (run.miss_reason or ""):
                for root in reasons.root_causes(run):
                    out.append(UpstreamCause(depth + 1, None, None, None, root))
    return out
