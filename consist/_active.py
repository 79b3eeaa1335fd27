"""What is active now: the tracker in use, the step executing, the open scenario.

Context variables only (threads and asyncio tasks each see their own), so every floor
can ask without importing the objects they hold. The values are the front's objects;
this module never calls into them beyond reading ``records`` in :func:`owner_of`.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from consist.errors import NoActiveTrackerError

_tracker: contextvars.ContextVar[Any] = contextvars.ContextVar("consist_tracker", default=None)
# Every live Tracker of this process, to find the one an artifact belongs to.
_trackers: weakref.WeakSet[Any] = weakref.WeakSet()
_run: contextvars.ContextVar[Any] = contextvars.ContextVar("consist_run", default=None)
_scenario: contextvars.ContextVar[Any] = contextvars.ContextVar("consist_scenario", default=None)


@contextmanager
def use_tracker(tracker: Any) -> Iterator[Any]:
    """Make ``tracker`` the one module-level functions use inside the block.

    Examples
    --------
    >>> with consist.use_tracker(tracker):          # doctest: +SKIP
    ...     consist.run(fn=clean, inputs={"raw": Path("raw.csv")}, outputs=["cleaned"])
    """
    token = _tracker.set(tracker)
    try:
        yield tracker
    finally:
        _tracker.reset(token)


def current_tracker(required: bool = True) -> Any:
    """The tracker set by the innermost ``use_tracker`` (or the default one)."""
    tracker = _tracker.get()
    if tracker is None and required:
        raise NoActiveTrackerError(
            "No tracker is in use. Create one and wrap the call: "
            "`with consist.use_tracker(Tracker(run_dir='./runs', db_path='./provenance.duckdb')): ...`, "
            "or pass tracker= explicitly."
        )
    return tracker


def register_tracker(tracker: Any) -> None:
    """Remember a live tracker (see :func:`owner_of`)."""
    _trackers.add(tracker)


def live_trackers(preferred: Any = None) -> list[Any]:
    """``preferred`` (if given), the tracker in use, then every other live tracker."""
    first = [t for t in (preferred, _tracker.get()) if t is not None]
    return first + [t for t in list(_trackers) if all(t is not f for f in first)]


def owner_of(artifacts: Any) -> Any:
    """The tracker in use, else the live tracker whose catalog recorded ``artifacts``' runs.

    Lets ``consist.ingest(result.outputs["persons"])`` work without ``use_tracker``: the
    artifact names its run, and only one catalog has that run's record.
    """
    tracker = _tracker.get()
    if tracker is not None:
        return tracker
    items = [artifacts] if hasattr(artifacts, "run_id") else list(artifacts) if isinstance(artifacts, (list, tuple)) else []
    run_ids = {a.run_id for a in items if getattr(a, "run_id", None)}
    if run_ids:
        for candidate in list(_trackers):
            if all(candidate.records.get(run_id) is not None for run_id in run_ids):
                return candidate
    return current_tracker()


def current_run(required: bool = True) -> Any:
    """The run context (:class:`~consist.engine.context.RunContext`) of the step executing now."""
    ctx = _run.get()
    if ctx is None and required:
        raise NoActiveTrackerError(
            "No run is active: log_dataframe/log_artifact log into the step that is executing. "
            "Call them inside a function run by consist.run(...) or inside a `with sc.trace(...)` block."
        )
    return ctx


@contextmanager
def activate(ctx: Any) -> Iterator[Any]:
    """Make ``ctx`` the active run inside the block."""
    token = _run.set(ctx)
    try:
        yield ctx
    finally:
        _run.reset(token)


def enter_scenario(scenario: Any) -> contextvars.Token[Any]:
    """Make ``scenario`` the open one; give the token back to :func:`leave_scenario`."""
    return _scenario.set(scenario)


def leave_scenario(token: contextvars.Token[Any]) -> None:
    """Restore the scenario that was open before :func:`enter_scenario`."""
    _scenario.reset(token)


def active_scenario(tracker: Any = None) -> Any:
    """The innermost open scenario (of ``tracker``, when given), or None."""
    scenario = _scenario.get()
    if scenario is None or (tracker is not None and scenario.tracker is not tracker):
        return None
    return scenario


def active_scenario_id(tracker: Any) -> str | None:
    """The name of the open scenario of ``tracker``: the parent id of runs made inside it."""
    scenario = active_scenario(tracker)
    return scenario.name if scenario is not None else None
