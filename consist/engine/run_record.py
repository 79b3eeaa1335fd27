"""Run records: :func:`write_record`, the one writer of them (steps, traced blocks, containers, scenarios)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from consist.engine.step_log import step_recorded
from consist.identity.digests import flatten
from consist.models import Run

if TYPE_CHECKING:
    from consist.engine.host import StepHost
    from consist.engine.spec import StepSpec

_HOST = socket.gethostname()
_PID = [os.getpid()]  # os.getpid() is a system call: asked once, and again in a forked child
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))
_FACET_STR_MAX = 256  # characters: a longer config string is not a facet


def _facets(spec: StepSpec, snapshot: Mapping[str, Any]) -> dict[str, Any]:
    facets = {}
    for key, value in flatten(snapshot).items():
        if isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= _FACET_STR_MAX):
            facets[key] = value
    for key, value in spec.meta.items():
        if isinstance(value, (bool, int, float, str)) or value is None:
            facets[key] = value
    if spec.year is not None:
        facets["year"] = spec.year
    if spec.iteration is not None:
        facets["iteration"] = spec.iteration
    facets.update(spec.facets)
    return facets


def write_record(
    host: StepHost, spec: StepSpec, prep: Any, run_id: str, *, bare: bool = False, **fields: Any
) -> Run:
    """Append the run record of ``spec``; ``fields`` (status, outputs, ...) complete or override it.

    The one writer of run records: steps, traced blocks, container steps and (with
    ``prep=None``: no identity, no cache settings, no step log line) a scenario's own
    record. ``prep`` is the step's :class:`~consist.engine.step.Prepared` identity.
    ``bare`` leaves out user metadata and facets (see :func:`consist.engine.step.fail`).
    """
    values: dict[str, Any] = {
        "id": run_id,
        "name": spec.name,
        "model": spec.model or spec.name,
        "parent_id": spec.parent_id,
        "year": spec.year,
        "iteration": spec.iteration,
        "tags": list(spec.tags),
        "facets": {} if bare else _facets(spec, prep.snapshot if prep is not None else {}),
        "meta": {} if bare else dict(spec.meta),
        "ended_at": time.time(),
        "host": _HOST,
        "pid": _PID[0],
        "kind": spec.kind,
    }
    if prep is not None:
        values.update(
            signature=prep.signature,
            code_hash=prep.code.hash,
            config_hash=prep.config_hash,
            inputs_hash=prep.inputs_hash,
            config=prep.snapshot,
            inputs=list(prep.inputs.values()),
            code=prep.code,
            cache_mode=spec.cache_mode,
            cache_epoch=host.cache_epoch,
            started_at=prep.started_at,
        )
    values.update(fields)
    run = Run(**values)
    host.records.append(run)
    if prep is not None:
        step_recorded(run)
    return run
