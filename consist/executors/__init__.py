"""Where steps run: parallel sweeps over any executor (``sc.map``, ``tracker.map``, ``consist.map``).

This package owns running many configs of one step function at once, on executors
consist does not schedule itself: this process (``executor=None``), any
:class:`concurrent.futures.Executor` (a process or thread pool), a Dask cluster (its
``distributed.Client``) or Ray (:class:`RayExecutor`). The client plans and the workers
compute:

- :mod:`~consist.executors.plan` (client): code identity and every config's signature,
  once; hits recorded in the client and never shipped; duplicates folded; one payload
  per task, checked to pickle;
- :mod:`~consist.executors.task` (worker): re-checks the signature, runs the step through
  the engine and writes its record and cache entry into the shared run folder (or sends
  them back, ``record_in="client"``); never opens the catalog file, never compacts;
- :mod:`~consist.executors.sweep` (client): submits, waits, retries with fresh attempt
  tokens, restarts a broken process pool, shows one progress bar, then compacts the
  catalog once and refreshes the views;
- :mod:`~consist.executors.adapters`: the executors behind one interface;
- :mod:`~consist.executors.batch`: the :class:`MapResult` a map returns.

It must not schedule work itself, import Dask or Ray before they are asked for, or open
``db_path`` on a worker.
"""

from consist.executors.adapters import InlineExecutor, RayExecutor
from consist.executors.batch import MapResult

__all__ = ["InlineExecutor", "MapResult", "RayExecutor"]
