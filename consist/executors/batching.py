"""How many configs travel in one task of a map, and how many tasks are out at once.

Every task costs the engine a round trip (on Dask: the scheduler's bookkeeping, in the
client's process on a ``LocalCluster``, plus a message each way), whatever it runs. With
``batch_size="auto"`` a map starts with one config a task and, as the workers report how
long each config took, grows the batches so that one task runs about
:data:`TARGET_SECONDS` (like joblib's ``batch_size="auto"``): at most doubling from one
batch to the next, never more than leaves two tasks a worker slot for the rest of the
queue (rounded up: the last configs still spread over every worker, and only the last
few tasks carry one config), and shrinking at once when configs turn out slower. Tasks
are then submitted as slots free up, keeping about :data:`TASKS_PER_SLOT` out per slot,
instead of all at once. Executors whose slots are unknown (this process, threads, other
``concurrent.futures`` executors) get one config a task, all submitted at once. A fixed
``batch_size=n`` is submitted all at once too, in tasks of n configs.

What a step's configs took is remembered in this process by the step's code hash: a
later map of the same step (the next chunk of a sweep, a ``retry()``, the same cell run
again) starts with batches of the measured size instead of one config a task (the ramp
from one config a task made a map of 50 configs of 50 ms on two Dask workers send about
30 tasks; it now sends 12 to 16, see benchmarks/README.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from consist.errors import ConfigError

# The time one task of an automatic batch should run on its worker. A map's task costs a
# Dask cluster about 6 ms of CPU (scheduler and worker event loops) beyond its configs:
# about 1% of 0.5 s. With 0.2 s, a loaded machine (where configs take longer) sent twice
# as many tasks: 0.15 s more CPU per 50 configs of 50 ms.
TARGET_SECONDS = 0.5
# Tasks kept out per worker slot: one running and one waiting, so that a worker never
# waits on the client for its next task (the client has a whole task's time to answer).
# More would fix the sizes of more configs early, before the batches shrink at the end.
TASKS_PER_SLOT = 2
# How often (seconds) the executor is asked again how many slots it has (a cluster may grow).
SLOTS_REFRESH = 1.0
# Steps whose per-config time is remembered (the least recently measured is forgotten first).
REMEMBERED_STEPS = 256

_learned: dict[str, float] = {}  # code hash -> seconds a config took on a worker
_learned_lock = threading.Lock()


def batch_size_of(value: object) -> int | None:
    """``batch_size=`` as given to map: ``"auto"`` (None here) or a whole number >= 1."""
    if value == "auto":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ConfigError(f"batch_size={value!r}; expected 'auto' or a whole number >= 1 (configs per task).")


class Sizer:
    """The size of the next batch and the number of tasks a map keeps out.

    Parameters
    ----------
    fixed
        A batch size the user chose, or None for automatic batches.
    slots
        How many tasks the executor runs at once, asked again every
        :data:`SLOTS_REFRESH` seconds; None when it cannot tell.
    step
        The step's code hash: its per-config time is remembered under it, and an
        earlier map's measurement is where this one starts.
    """

    def __init__(self, fixed: int | None, slots: Callable[[], int | None], step: str | None = None) -> None:
        self.fixed = fixed
        self._ask = slots
        self._slots: int | None = None
        self._asked = -float("inf")  # asked when first needed: a fully cached map never asks
        self.step = step
        self.per_config: float | None = _learned.get(step) if step is not None else None  # seconds a config takes
        self._last = 1 if self.per_config is None else self._ideal()  # a remembered size needs no ramp

    def slots(self) -> int | None:
        if time.monotonic() - self._asked > SLOTS_REFRESH:
            self._slots, self._asked = self._ask(), time.monotonic()
        return self._slots

    def window(self) -> int | None:
        """Tasks to keep out at once (None: no limit, submit everything).

        Only automatic batches hold tasks back (their sizes wait for measurements); fixed
        ones are all submitted at once, so the engine sees the whole queue (an adaptive
        Dask cluster scales on it).
        """
        if self.fixed is not None:
            return None
        slots = self.slots()
        return None if slots is None else TASKS_PER_SLOT * max(slots, 1)

    def observe(self, seconds: list[float]) -> None:
        """Take in the worker times of the configs of a finished task."""
        if not seconds:
            return
        mean = sum(seconds) / len(seconds)
        known = self.per_config
        # Slower configs count at once (a batch too long idles other workers); faster, by half.
        self.per_config = mean if known is None or mean > known else (known + mean) / 2
        if self.step is not None:
            _remember(self.step, self.per_config)

    def size(self, queued: int) -> int:
        """Configs for the next task, with ``queued`` configs waiting to be sent."""
        if self.fixed is not None:
            return self.fixed
        slots = self.slots()
        if slots is None or self.per_config is None:
            return 1
        self._last = max(1, min(self._ideal(), 2 * self._last, -(-queued // (2 * max(slots, 1)))))
        return self._last

    def _ideal(self) -> int:
        return max(1, int(TARGET_SECONDS / max(self.per_config or 0.0, 1e-6)))


def _remember(step: str, seconds: float) -> None:
    with _learned_lock:
        _learned.pop(step, None)
        _learned[step] = seconds
        if len(_learned) > REMEMBERED_STEPS:
            del _learned[next(iter(_learned))]

