"""A logging trail of steps: one ``logging`` record per step outcome, on logger ``consist.workflow.steps``.

Each step that is served from the cache, executes, or fails writes one INFO record when
its run record is written: the step, the run id, the outcome, why it ran (the miss
reason) or which run it reused, and how long it took. Like every library logger it is
silent until the application configures logging, e.g.::

    import logging
    logging.basicConfig(level=logging.INFO)                  # everything at INFO
    logging.getLogger("consist").setLevel(logging.INFO)      # or just consist's records

Structured handlers find the same facts as attributes of the record:
``consist_step``, ``consist_run_id``, ``consist_outcome`` (``"hit"``, ``"executed"`` or
``"failed"``), ``consist_reused_run_id``, ``consist_miss_reason``, ``consist_duration_s``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consist.models import Run

log = logging.getLogger("consist.workflow.steps")


def outcome(run: Run) -> str:
    """``"hit"``, ``"executed"`` or ``"failed"`` (any status but completed counts as failed)."""
    if run.cache_hit:
        return "hit"
    return "executed" if run.status == "completed" else "failed"


def message(run: Run) -> str:
    """The one-line text of a step's record."""
    context = " ".join(str(v) for v in (run.parent_id, run.year) if v is not None)
    where = f"step {run.name}" + (f" [{context}]" if context else "")
    took = f"{run.duration_s:.3f} s"
    kind = outcome(run)
    if kind == "hit":
        return f"{where}: cache hit, reused run {run.reused_run_id} as {run.id} ({took})"
    if kind == "executed":
        why = f"; cache miss: {run.miss_reason}" if run.miss_reason else ""
        return f"{where}: executed as run {run.id} in {took}{why}"
    return f"{where}: {run.status} as run {run.id} after {took}: {run.error}"


def step_recorded(run: Run) -> None:
    """Log one step's outcome (a no-op unless INFO is enabled for ``consist.workflow.steps``)."""
    if not log.isEnabledFor(logging.INFO):
        return
    log.info(
        message(run),
        extra={
            "consist_step": run.name,
            "consist_run_id": run.id,
            "consist_outcome": outcome(run),
            "consist_reused_run_id": run.reused_run_id,
            "consist_miss_reason": run.miss_reason,
            "consist_duration_s": run.duration_s,
        },
    )
