"""A map task on a worker: re-check the signature, run the step, write what it recorded.

:func:`run_batch` is the one function every executor calls, with a list of
:class:`Payload` (one config or several, see :mod:`consist.executors.batching`); it runs
each through :func:`run_task`. On the worker that rebuilds the client's tracker settings
over the shared run folder (:meth:`consist.Tracker.for_worker`: never opens ``db_path``, never compacts),
recomputes the step's signature and refuses to run when it differs from the one the
client planned (stale code on the worker would otherwise leave a second, wrong cache
entry), then runs the step through the engine, which writes the run record and, last,
the cache entry. With ``record_in="client"`` those writes are collected and sent back
instead. Errors come back inside the :class:`Outcome`, never raised, so a failed run's
record travels too and the client decides about retries.
"""

from __future__ import annotations

import copy
import os
import pickle
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from consist._active import use_tracker
from consist.catalog.index import CacheIndex
from consist.catalog.records import RecordStore
from consist.engine.spec import StepSpec
from consist.engine.step import Prepared, prepare, run_step
from consist.errors import SignatureMismatchError
from consist.identity.reasons import StepComponents
from consist.models import CacheEntry, Run, RunResult

RECORD_IN = ("workers", "client")


@dataclass(frozen=True, slots=True)
class Host:
    """The client's tracker settings, from which a worker builds its own tracker."""

    tracker_cls: type
    run_dir: str
    db_path: str
    cache_epoch: int
    code_identity: str
    hash_mode: str
    verify_outputs: str
    record_in: str
    client_pid: int
    client_host: str


@dataclass(slots=True)
class Payload:
    """Everything one task needs: the step, the identity the client planned, an attempt token.

    The token is new for every submission (a retry is a new attempt); an error from a
    worker names it.
    """

    host: Host
    spec: StepSpec
    expected: tuple[str, str, str, str]  # code hash, config hash, inputs hash, signature
    token: str


@dataclass(slots=True)
class Writes:
    """What a task recorded, sent back with ``record_in="client"`` (in the order to write it)."""

    sources: list[tuple[str, str]] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    lasts: list[tuple[str, StepComponents]] = field(default_factory=list)
    entries: list[CacheEntry] = field(default_factory=list)

    def replay(self, tracker: Any) -> None:
        """Write them through ``tracker``: records first, cache entries last (as the engine does)."""
        for code_hash, source in self.sources:
            tracker.remember_source(code_hash, source)
        for run in self.runs:
            tracker.records.append(run)
        for name, components in self.lasts:
            tracker.index.put_last(name, components)
        for entry in self.entries:
            tracker.index.put(entry)


@dataclass(slots=True)
class Outcome:
    """What a task returns: its result or its error, and its writes when the client records."""

    result: RunResult | None = None
    error: BaseException | None = None
    writes: Writes | None = None
    seconds: float = 0.0  # how long the config took on the worker (for the batch sizes)


def run_batch(payloads: list[Payload]) -> list[Outcome]:
    """Run several planned steps one after the other: one task of a map, one outcome each.

    An engine that reruns the task (its worker died) runs the same payloads again; the
    configs that finished before are then cache hits (the engine looks up first).
    """
    outcomes = []
    for payload in payloads:
        start = time.perf_counter()
        outcome = run_task(payload)
        outcome.seconds = time.perf_counter() - start
        outcomes.append(outcome)
    return outcomes


def run_task(payload: Payload) -> Outcome:
    """Run one planned step on this worker (see the module docstring)."""
    tracker = worker_tracker(payload.host)
    writes = None
    if payload.host.record_in == "client":
        tracker, writes = buffered(tracker)
    try:
        with use_tracker(tracker):  # a step calling consist.run (a chain of years) records here too
            prep = prepare(tracker, payload.spec)
            check_signature(payload, prep)
            result = run_step(tracker, payload.spec, prep)
        return Outcome(result=result, writes=writes)
    except Exception as exc:  # noqa: BLE001 - returned to the client, which reports or retries it
        return Outcome(error=portable(exc, payload), writes=writes)


_trackers: dict[Host, Any] = {}
_lock = threading.Lock()


def worker_tracker(host: Host) -> Any:
    """This process's tracker for ``host`` (built once; threads of one worker share it)."""
    with _lock:
        tracker = _trackers.get(host)
        if tracker is None:
            tracker = _trackers[host] = host.tracker_cls.for_worker(
                host.run_dir,
                host.db_path,
                cache_epoch=host.cache_epoch,
                code_identity=host.code_identity,
                hash_mode=host.hash_mode,
                verify_outputs=host.verify_outputs,
                progress=False,
            )
        return tracker


def check_signature(payload: Payload, prep: Prepared) -> None:
    """Raise :class:`SignatureMismatchError` unless the worker arrives at the planned signature."""
    code, config, inputs, signature = payload.expected
    if prep.signature == signature:
        return
    parts = [
        f"{what} (client {want[:12]}, worker {got[:12]})"
        for what, want, got in (
            ("code", code, prep.code.hash),
            ("config", config, prep.config_hash),
            ("inputs", inputs, prep.inputs_hash),
        )
        if want != got
    ] or ["cache_epoch"]
    where = f"{prep.code.module}.{prep.code.qualname}" if prep.code.qualname else payload.spec.name
    raise SignatureMismatchError(
        f"step {payload.spec.name!r} computes another signature on worker {socket.gethostname()} than in the "
        f"client: {', '.join(parts)} differ. The worker imports other code for {where} (an older install, or "
        "a module edited since the workers started): install the same version there or restart the workers. "
        "Nothing was run or recorded."
    )


def buffered(tracker: Any) -> tuple[Any, Writes]:
    """A copy of ``tracker`` whose records, cache entries and code texts are collected, not written."""
    writes = Writes()
    task = copy.copy(tracker)
    task.records = _BufferedRecords(tracker.layout, writes)
    task.index = _BufferedIndex(tracker.layout, writes)
    task.remember_source = lambda code_hash, source: writes.sources.append((code_hash, source))
    return task, writes


class _BufferedRecords(RecordStore):
    def __init__(self, layout: Any, writes: Writes) -> None:
        super().__init__(layout)
        self.auto_compact = False
        self.writes = writes

    def append(self, run: Run) -> None:
        self.writes.runs = [r for r in self.writes.runs if r.id != run.id] + [run]

    def discard(self, run_id: str) -> None:
        self.writes.runs = [r for r in self.writes.runs if r.id != run_id]

    def get(self, run_id: str) -> Run | None:
        mine = next((r for r in reversed(self.writes.runs) if r.id == run_id), None)
        return mine or super().get(run_id)


class _BufferedIndex(CacheIndex):
    def __init__(self, layout: Any, writes: Writes) -> None:
        super().__init__(layout)
        self.writes = writes

    def entries(self, signature: str) -> list[CacheEntry]:
        mine = [e for e in reversed(self.writes.entries) if e.signature == signature]
        return mine + super().entries(signature)

    def put(self, entry: CacheEntry, *, durable: bool = False) -> None:
        self.writes.entries.append(entry)  # written by the client, as its durability policy says

    def put_last(self, name: str, components: StepComponents, recent: Any = None) -> None:
        self.writes.lasts.append((name, components))


def portable(exc: BaseException, payload: Payload) -> BaseException:
    """``exc`` as it can travel to the client: with the worker's traceback, and picklable."""
    host = payload.host
    if (os.getpid(), socket.gethostname()) == (host.client_pid, host.client_host):
        return exc  # the client's own process: the traceback is already there
    where = f"worker {socket.gethostname()} (pid {os.getpid()}, attempt {payload.token})"
    exc.add_note(f"raised on {where}:\n" + "".join(traceback.format_exception(exc)))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure to round-trip means: send text instead
        plain = RuntimeError(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
        for note in getattr(exc, "__notes__", ()):
            plain.add_note(note)
        return plain
    return exc
