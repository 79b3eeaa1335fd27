"""Why a step missed the cache, from recorded per-component digests (pure).

Compares the components of this call (code, config snapshot, input hashes, epoch)
with those recorded for an earlier run of the same step, and says exactly what
differs: which code, which config leaves (old -> new), which inputs (old -> new hash).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from consist.identity import diff_configs
from consist.models import CodeInfo


class StepComponents(msgspec.Struct, frozen=True, kw_only=True):
    """The identity components of one run of a step, kept to explain later misses."""

    run_id: str
    signature: str
    code: CodeInfo
    config: dict[str, Any]
    inputs: dict[str, str]
    epoch: int = 0


def differences(old: StepComponents, new: StepComponents) -> list[str]:
    """Human-readable differences between two runs' components, most causal first."""
    out = []
    if old.epoch != new.epoch:
        out.append(f"cache epoch changed ({old.epoch} -> {new.epoch})")
    if old.code.hash != new.code.hash:
        where = new.code.qualname or new.code.module or new.code.kind
        if old.code.kind != new.code.kind:
            out.append(f"code identity recipe changed ({old.code.kind} -> {new.code.kind})")
        elif new.code.kind == "version":
            out.append(f"code version changed ({old.code.version} -> {new.code.version})")
        else:
            out.append(f"code of {where} changed ({old.code.kind} {old.code.hash[:12]} -> {new.code.hash[:12]})")
    for key, before, after in diff_configs(old.config, new.config):
        out.append(f"config {key} changed ({before!r} -> {after!r})")
    out.extend(input_differences(old.inputs, new.inputs))
    return out


def input_differences(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    out = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if a is None:
            out.append(f"input {name!r} added")
        elif b is None:
            out.append(f"input {name!r} removed")
        else:
            out.append(f"input {name!r} changed ({a[:12]} -> {b[:12]})")
    return out


def miss_reason(name: str, previous: StepComponents | None, current: StepComponents) -> str:
    """One line saying why this call of step ``name`` is a miss."""
    if previous is None:
        return f"no earlier run of step {name!r}"
    diffs = differences(previous, current)
    if diffs:
        return f"vs run {previous.run_id}: " + "; ".join(diffs)
    return f"same code, config and inputs as run {previous.run_id}, but its cache entry is gone or unusable"
