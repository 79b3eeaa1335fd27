"""Running a map: plan in the client, submit the misses, collect, retry, finish once.

:func:`run_map` is what ``tracker.map``, ``sc.map`` and ``consist.map`` call. Configs
travel in tasks of one or several (:mod:`consist.executors.batching` sizes them and keeps
about two tasks a worker slot out) and are collected as tasks complete (each future is
dropped once its batch is handled, so the executor can release it). Each config's error
comes back in its own :class:`~consist.executors.task.Outcome`: with ``retries=n`` the
config is sent again with a fresh attempt token up to n times. A process pool that broke (a worker died) is
replaced and every unfinished config resubmitted, a few times at most. Dask and Ray
reschedule tasks of a dead worker themselves; an attempt killed mid-run never wrote a
cache entry (the engine writes it last). At the end the client compacts the catalog
once (in the background) and refreshes the views.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from consist.display.progress import Progress, wanted
from consist.engine.step import lookup, serve_hit
from consist.errors import ConfigError, SignatureMismatchError
from consist.executors.adapters import Adapter, adapt
from consist.executors.batch import MapResult
from consist.executors.batching import Sizer, batch_size_of
from consist.executors.plan import Planned, check_payloads, host_of, payload, plan
from consist.executors.task import RECORD_IN, Host, Outcome, Payload, run_batch

# Replacements of a broken process pool within one map before the rest is reported failed.
MAX_POOL_RESTARTS = 3


def run_map(
    tracker: Any,
    fn: Any,
    configs: Iterable[Any],
    /,
    *,
    executor: Any = None,
    retries: int = 0,
    batch_size: int | str = "auto",
    progress: bool | None = None,
    record_in: str = "workers",
    per_config: Callable[[Any], Mapping[str, Any]] | None = None,
    resolve_inputs: Callable[[Any], Any] | None = None,
    opened: Callable[[], None] | None = None,
    after: Callable[[MapResult], None] | None = None,
    **options: Any,
) -> MapResult:
    """Run ``fn`` once per config, each as ``tracker.run(fn, config=c, **options)`` would.

    Parameters
    ----------
    fn
        The step function.
    configs
        An iterable of configs (dicts, pydantic models, dataclasses...), one step each.
    executor
        ``None`` (this process), a :class:`concurrent.futures.Executor`, a
        ``dask.distributed.Client`` or :class:`~consist.executors.RayExecutor`.
    retries
        Resubmit a failed config up to this many times, each with a fresh attempt token.
    batch_size
        Configs per task: ``"auto"`` (default) grows batches on Dask, Ray and process
        pools until a task runs about 0.5 s (see :mod:`consist.executors.batching`); a
        number fixes it (1: one task a config). Each config stays its own step: its own
        outcome, retries, progress and cache entry.
    progress
        One bar in the client (hits, shipped, done, failed); None shows it only in
        terminals and notebooks (as ``Tracker(progress=...)``).
    record_in
        ``"workers"`` (default): each worker writes its records and cache entries into
        the shared run folder. ``"client"``: they are sent back and written by the client.
    per_config
        ``config -> {"year": ..., "facet": ..., "run_id": ..., "inputs": ...}``: options of
        one config (see :data:`~consist.executors.plan.PER_CONFIG_KEYS`).
    resolve_inputs, opened, after
        Hooks of ``sc.map``: resolving coupler keys, checking the scenario is still open
        (a ``retry()`` after it closed), syncing results into the coupler.
    **options
        ``inputs``, ``outputs``, ``name`` and every other option of ``tracker.run``.
    """
    if opened is not None:
        opened()
    if not callable(fn):
        raise ConfigError(f"map() needs a step function; got {fn!r}.")
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ConfigError(f"retries={retries!r}; expected a whole number >= 0.")
    if record_in not in RECORD_IN:
        raise ConfigError(f"record_in={record_in!r}; expected one of {', '.join(map(repr, RECORD_IN))}.")
    if isinstance(configs, (str, bytes, Mapping)) or not isinstance(configs, Iterable):
        raise ConfigError(f"configs= takes an iterable of configs (a list of dicts, ...); got a {type(configs).__name__}.")
    if resolve_inputs is not None and "inputs" in options:
        options["inputs"] = resolve_inputs(options["inputs"])
    fixed = batch_size_of(batch_size)
    adapter = adapt(executor)
    settings = dict(executor=executor, retries=retries, batch_size=batch_size, progress=progress, record_in=record_in,
                    per_config=per_config, resolve_inputs=resolve_inputs, opened=opened, after=after, **options)

    def rerun(subset: list[Any]) -> MapResult:
        return run_map(tracker, fn, subset, **settings)

    compacting, tracker.records.auto_compact = tracker.records.auto_compact, False
    try:
        items = plan(tracker, fn, configs, options, per_config, resolve_inputs)
        label = f"map {options.get('name') or getattr(fn, '__name__', 'step')}"
        sizer = Sizer(fixed, adapter.slots, items[0].prep.code.hash if items else None)
        run = _Run(tracker, adapter, host_of(tracker, record_in), items, retries, label, progress, sizer)
        try:
            run.ship(fn)
        finally:
            run.cancel()
            run.bar.close()
            adapter.close()
    finally:
        tracker.records.auto_compact = compacting
        _finish(tracker)
    batch = MapResult([i.config for i in items], run.results, run.errors, run.status, run.shipped, rerun)
    if after is not None:
        after(batch)
    return batch


class _Run:
    """The state of one map while its tasks are out."""

    def __init__(
        self, tracker: Any, adapter: Adapter, host: Host, items: list[Planned], retries: int, label: str,
        progress: bool | None, sizer: Sizer,
    ) -> None:
        self.tracker, self.adapter, self.host, self.items, self.retries = tracker, adapter, host, items, retries
        self.sizer = sizer
        n = len(items)
        self.results: list[Any] = [i.result for i in items]
        self.errors: list[BaseException | None] = [None] * n
        self.status = ["hit" if i.result is not None else "" for i in items]
        self.counts = {"hit": self.status.count("hit"), "executed": 0, "failed": 0}
        self.attempts = [0] * n
        self.shipped = 0
        self.restarts = 0
        self.followers: dict[int, list[int]] = {}
        for item in items:
            if item.leader is not None:
                self.followers.setdefault(item.leader, []).append(item.index)
        self.queue: deque[int] = deque()  # configs waiting to be sent
        self.alone: set[int] = set()  # configs of a lost batch: each goes in a task of its own
        self.ready: dict[int, Payload] = {}  # first attempts, built and checked before any is sent
        self.pending: dict[Any, tuple[list[int], int]] = {}  # future -> (its configs, pool generation)
        self.generation = 0
        enabled = wanted(progress if progress is not None else getattr(tracker, "progress", None))
        self.label = label
        self.bar = Progress(label, n, unit="configs", enabled=enabled)
        self._advance(self.counts["hit"])

    def ship(self, fn: Any) -> None:
        """Send the configs in batches as slots free up, collecting until none is out."""
        first = [(i, payload(self.host, i)) for i in self.items if i.result is None and i.leader is None]
        check_payloads(self.adapter, first, fn)
        self.ready = {item.index: task for item, task in first}
        self.queue.extend(self.ready)
        self._fill()
        while self.pending:
            for future, value, error in self.adapter.settle(self.adapter.next_done(self.pending)):
                indices, generation = self.pending.pop(future)  # released once this batch is handled
                self._collect(indices, generation, value, error)
            self._fill()

    def cancel(self) -> None:
        """Cancel tasks still out (the map was interrupted); nothing waits for them."""
        for future in self.pending:
            future.cancel()
        self.pending.clear()
        self.queue.clear()

    def _fill(self) -> None:
        if not self.queue:
            return
        window = self.sizer.window()
        while self.queue and (window is None or len(self.pending) < window):
            size = 1 if self.queue[0] in self.alone else self.sizer.size(len(self.queue))
            batch = [self.queue.popleft()]
            while self.queue and len(batch) < size and self.queue[0] not in self.alone:
                batch.append(self.queue.popleft())
            self._submit(batch)

    def _submit(self, indices: list[int]) -> None:
        tasks = [self.ready.pop(i, None) or payload(self.host, self.items[i]) for i in indices]
        for index in indices:
            self.attempts[index] += 1
        try:
            future = self.adapter.pool.submit(run_batch, tasks)
        except cf.BrokenExecutor as exc:  # the pool broke before this task could be queued
            self._broken(indices, self.generation, exc)
            return
        self.shipped += len(indices)
        self.pending[future] = (indices, self.generation)

    def _collect(
        self, indices: list[int], generation: int, outcomes: list[Outcome], error: BaseException | None
    ) -> None:
        if isinstance(error, cf.BrokenExecutor):
            self._broken(indices, generation, error)
            return
        if error is not None:  # a lost worker, a task the engine gave up on
            if len(indices) > 1:  # one config may be at fault: each goes again alone, uncounted
                for index in indices:
                    self.attempts[index] -= 1
                self.alone.update(indices)
                self.queue.extendleft(reversed(indices))
                return
            outcomes = [Outcome(error=error)]
        self.sizer.observe([o.seconds for o in outcomes if o.seconds])
        for index, outcome in zip(indices, outcomes):
            self._settle(index, outcome)

    def _settle(self, index: int, outcome: Outcome) -> None:
        if outcome.writes is not None:
            outcome.writes.replay(self.tracker)
        if outcome.error is None:
            self._done(index, outcome.result, "hit" if outcome.result.cache_hit else "executed")
        elif self.attempts[index] <= self.retries and _retryable(outcome.error):
            self.queue.appendleft(index)  # a fresh payload, a new attempt token
        else:
            self._failed(index, outcome.error)

    def _broken(self, indices: list[int], generation: int, exc: BaseException) -> None:
        # Every task out on a broken pool fails with it: replace the pool once per break.
        if generation == self.generation:
            if self.restarts >= MAX_POOL_RESTARTS or not self.adapter.restart():
                for index in indices:
                    self._failed(index, exc)
                return
            self.restarts += 1
            self.generation += 1
        for index in indices:
            self.attempts[index] -= 1  # the pool broke, not necessarily this config
        self.queue.extendleft(reversed(indices))

    def _done(self, index: int, result: Any, status: str) -> None:
        self.results[index], self.status[index] = result, status
        self.counts[status] += 1
        self._advance(1)
        for follower in self.followers.pop(index, ()):
            item = self.items[follower]
            entry, _ = lookup(self.tracker, item.spec, item.prep)
            if entry is None:  # the leader's entry is unusable (read-only, removed): run it too
                self.queue.append(follower)
                continue
            self.results[follower] = serve_hit(self.tracker, item.spec, item.prep, entry)
            self.status[follower] = "hit"
            self.counts["hit"] += 1
            self._advance(1)

    def _failed(self, index: int, error: BaseException) -> None:
        for target in (index, *self.followers.pop(index, ())):
            self.errors[target], self.status[target] = error, "failed"
            self.counts["failed"] += 1
            self._advance(1)

    def _advance(self, n: int) -> None:
        counts = self.counts
        self.bar.label = (
            f"{self.label} ({counts['hit']} hits, {self.shipped} shipped, "
            f"{counts['executed']} done, {counts['failed']} failed)"
        )
        self.bar.advance(n)


def _retryable(error: BaseException) -> bool:
    # A mismatch or a bad argument fails the same way every time.
    return not isinstance(error, (SignatureMismatchError, ConfigError))


def _finish(tracker: Any) -> None:
    """Compact the records the map wrote, once, and bring the views up to date.

    The compaction runs beside the caller (readers see fresh records and segments alike),
    so a map returns as soon as its last config is recorded.
    """
    tracker.records.compact_in_background()
    if tracker.schemas or tracker.view_state.views is not None:
        tracker.views.flush()
