"""Why a step missed the cache, from recorded per-component digests (pure).

Compares the components of this call (code, config snapshot, input hashes and paths,
epoch) with those recorded for an earlier run of the same step, and says exactly what
differs: which code, which config leaves (old -> new), which inputs (path, old -> new
hash). The earlier run compared against is the *closest* of the step's recent runs
(fewest differing components), not merely the latest.

A miss caused by a changed input also names the upstream cause: the run that produced
the new input and why *it* ran. Recorded reasons carry that root cause forward, so a
chain of any length costs one record read per changed input, and a reason stays short.
Reading those records is the caller's job (``get_run``): nothing here touches disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePath
from typing import Any

import msgspec

from consist.identity.digests import diff_configs
from consist.models import CodeInfo, Run

# Separates a run's own reason from the upstream root causes appended to it.
UPSTREAM = "; upstream: "
# At most this many upstream root causes are carried in one reason (fan-in stays short).
MAX_ROOTS = 3


class StepComponents(msgspec.Struct, frozen=True, kw_only=True):
    """The identity components of one run of a step, kept to explain later misses.

    ``paths`` and ``producers`` (input name -> path, -> producing run id) describe the
    inputs for people; only ``inputs`` (name -> content hash) is part of the identity.
    ``cached`` is False for a run that left no cache entry (``cache_mode="readonly"``).
    """

    run_id: str
    signature: str
    code: CodeInfo
    config: dict[str, Any]
    inputs: dict[str, str]
    epoch: int = 0
    paths: dict[str, str] = msgspec.field(default_factory=dict)
    producers: dict[str, str] = msgspec.field(default_factory=dict)
    cached: bool = True


def short(value: str) -> str:
    """The first 12 hex digits of a digest, as reasons show them."""
    return value[:12]


def code_difference(old: CodeInfo, new: CodeInfo) -> str | None:
    """What changed in the code identity, or None when it did not."""
    if old.hash == new.hash:
        return None
    where = new.qualname or new.module or new.kind
    if old.kind != new.kind:
        return f"code identity recipe changed ({old.kind} -> {new.kind})"
    if new.kind == "version":
        return f"code version changed ({version_difference(old.version, new.version)})"
    digests = f"{old.kind} {short(old.hash)} -> {short(new.hash)}"
    if new.kind == "callable_module" and new.module:
        # The whole file counts: the edit may be in a helper, not in the step's function.
        return f"module {new.module} ({PurePath(new.file or '').name or '?'}) defining {where} changed ({digests})"
    if new.kind == "repo_git" and old.version and new.version:
        if old.version != new.version:
            return f"git commit of the repository holding {where} changed ({short(old.version)} -> {short(new.version)})"
        return (
            f"uncommitted changes in the repository holding {where} changed "
            f"(git diff HEAD at commit {short(new.version)}; {digests})"
        )
    return f"code of {where} changed ({digests}){_globals_difference(old.globals, new.globals)}"


def _globals_difference(old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    """``: global RATE 0.1 -> 0.2``, for the module-level constants read by the code that changed."""
    old, new = old or {}, new or {}
    changed = sorted(name for name in old.keys() | new.keys() if old.get(name, _UNSET) != new.get(name, _UNSET))
    if not changed:
        return ""
    parts = [f"global {name} {_shown(old, name)} -> {_shown(new, name)}" for name in changed]
    return ": " + ", ".join(parts[:MAX_GLOBALS]) + (", ..." if len(parts) > MAX_GLOBALS else "")


def _shown(values: dict[str, Any], name: str) -> str:
    return repr(values[name]) if name in values else "(not read)"


_UNSET = object()
# At most this many changed globals are named in one reason.
MAX_GLOBALS = 3


def version_difference(old: str | None, new: str | None) -> str:
    """``old -> new``, narrowed to the changed ``name=value`` parts when both versions have them.

    A container step's version is ``image=... command=... environment=...``: a miss then
    says ``environment=2cc8... -> environment=23be...`` rather than both whole lines.
    """
    a, b = _named_parts(old), _named_parts(new)
    if not a or not b or a.keys() != b.keys():
        return f"{old} -> {new}"
    changed = [k for k in a if a[k] != b[k]]
    return " ".join(f"{k}={a[k]}" for k in changed) + " -> " + " ".join(f"{k}={b[k]}" for k in changed)


def _named_parts(version: str | None) -> dict[str, str] | None:
    parts = (version or "").split()
    if not parts or not all("=" in part for part in parts):
        return None
    return dict(part.split("=", 1) for part in parts)


def differences(old: StepComponents, new: StepComponents) -> list[str]:
    """Human-readable differences between two runs' components, most causal first."""
    out = []
    if old.epoch != new.epoch:
        out.append(f"cache epoch changed ({old.epoch} -> {new.epoch})")
    code = code_difference(old.code, new.code)
    if code:
        out.append(code)
    for key, before, after in diff_configs(old.config, new.config):
        out.append(f"config {key} changed ({before!r} -> {after!r})")
    out.extend(input_differences(old.inputs, new.inputs, old.paths, new.paths))
    return out


def changed_inputs(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Input names whose content hash differs (or that exist on one side only), sorted."""
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


def input_differences(
    old: Mapping[str, str],
    new: Mapping[str, str],
    old_paths: Mapping[str, str] | None = None,
    new_paths: Mapping[str, str] | None = None,
) -> list[str]:
    """One line per changed input: its path and the old -> new content hash."""
    old_paths, new_paths = old_paths or {}, new_paths or {}
    out = []
    renamed = renames(old, new)
    for name in changed_inputs(old, new):
        a, b = old.get(name), new.get(name)
        pa_, pb = old_paths.get(name), new_paths.get(name)
        if name in renamed.values():
            continue  # said with the old name
        if name in renamed:
            to = renamed[name]
            where = f", {pa_} -> {new_paths.get(to)}" if pa_ and new_paths.get(to) and pa_ != new_paths.get(to) else ""
            out.append(
                f"input {name!r} renamed to {to!r} (same content {short(a or '')}{where}): input names are part "
                "of the identity, and a list of paths names each input by its file's stem"
            )
        elif a is None:
            out.append(f"input {name!r} added" + (f": {pb} {short(b)}" if pb else ""))
        elif b is None:
            out.append(f"input {name!r} removed" + (f" (was {pa_} {short(a)})" if pa_ else ""))
        elif pa_ and pb and pa_ != pb:
            out.append(f"input {name!r} changed: {pa_} {short(a)} -> {pb} {short(b)}")
        elif pb:
            out.append(f"input {name!r} changed: {pb} {short(a)} -> {short(b)}")
        else:
            out.append(f"input {name!r} changed ({short(a)} -> {short(b)})")
    return out


def renames(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Inputs that disappeared while one with the same content appeared: old name -> new name."""
    added = [n for n in sorted(new.keys() - old.keys())]
    out: dict[str, str] = {}
    for name in sorted(old.keys() - new.keys()):
        match = next((n for n in added if new[n] == old[name] and n not in out.values()), None)
        if match is not None:
            out[name] = match
    return out


def distance(old: StepComponents, new: StepComponents) -> int:
    """How many components differ (epoch, code, each config leaf, each input)."""
    if old.signature == new.signature:
        return 0
    count = int(old.epoch != new.epoch) + int(old.code.hash != new.code.hash)
    if old.config != new.config:  # dict equality is cheap; the leaf diff is not
        count += len(diff_configs(old.config, new.config))
    if old.inputs != new.inputs:
        count += len(changed_inputs(old.inputs, new.inputs))
    return count


def closest(candidates: Iterable[StepComponents], current: StepComponents) -> StepComponents | None:
    """The candidate differing from ``current`` in the fewest components.

    ``candidates`` come newest first; on a tie the newest wins. ``current`` itself (same
    run id) is skipped.
    """
    best, best_distance = None, None
    for candidate in candidates:
        if candidate.run_id == current.run_id:
            continue
        d = distance(candidate, current)
        if best_distance is None or d < best_distance:
            best, best_distance = candidate, d
            if d == 0:
                break
    return best


def miss_reason(name: str, previous: StepComponents | None, current: StepComponents) -> str:
    """One line saying why this call of step ``name`` is a miss (without upstream causes)."""
    if previous is None:
        return f"no earlier run of step {name!r}"
    diffs = differences(previous, current)
    if not diffs and previous.signature != current.signature:
        # Snapshots that print the same can differ in a value's type (a float NaN and "NaN"),
        # or the earlier run predates the config recipe consist.config/2.
        diffs = [
            "config changed in the type of a value that shows the same (e.g. float NaN and 'NaN', "
            "a date and its text), or the earlier run was made before consist's config recipe 2"
        ]
    if diffs:
        return f"vs run {previous.run_id}: " + "; ".join(diffs)
    if not previous.cached:
        return (
            f"same code, config and inputs as run {previous.run_id}, which ran with "
            "cache_mode='readonly' and left no cache entry"
        )
    return f"same code, config and inputs as run {previous.run_id}, but its cache entry is gone or unusable"


def own_reason(reason: str) -> str:
    """A recorded reason without the upstream causes appended to it."""
    return reason.split(UPSTREAM, 1)[0]


def root_causes(producer: Run) -> list[str]:
    """Why ``producer`` ran, traced to the root: the causes its own reason carries, else itself."""
    reason = producer.miss_reason or "it executed (no reason recorded)"
    parts = reason.split(UPSTREAM)
    if len(parts) > 1:
        return parts[1:]
    return [f"step {producer.name!r} ran as {producer.id}, {reason}"]


def upstream_causes(
    previous: StepComponents | None, current: StepComponents, get_run: Callable[[str], Run | None]
) -> list[str]:
    """Root causes behind the inputs that changed since ``previous`` (at most MAX_ROOTS)."""
    if previous is None:
        return []
    roots: list[str] = []
    seen: set[str] = set()
    for name in changed_inputs(previous.inputs, current.inputs):
        producer_id = current.producers.get(name)
        if not producer_id or producer_id in seen:
            continue
        seen.add(producer_id)
        producer = get_run(producer_id)
        if producer is None:
            continue
        for root in root_causes(producer):
            if root not in roots:
                roots.append(root)
        if len(roots) >= MAX_ROOTS:
            break
    return roots[:MAX_ROOTS]


def full_reason(
    name: str,
    previous: StepComponents | None,
    current: StepComponents,
    get_run: Callable[[str], Run | None],
) -> str:
    """:func:`miss_reason` followed by the upstream root causes of changed inputs."""
    own = miss_reason(name, previous, current)
    return own + "".join(UPSTREAM + root for root in upstream_causes(previous, current, get_run))
