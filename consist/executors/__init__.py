"""Floor 4: where a step's work runs other than in this Python process, one step or many.

Containers: the container executor (:mod:`~consist.executors.containers`, its spec and
identity in :mod:`~consist.executors.container_spec`, the checks around a run in
:mod:`~consist.executors.container_checks`, the Docker Engine calls in
:mod:`~consist.executors._docker_engine`); :mod:`consist.integrations.containers` is the
public shim.

Sweeps (``sc.map``, ``tracker.map``, ``consist.map``): many configs of one step function
at once, on executors consist does not schedule itself: this process (``executor=None``),
any :class:`concurrent.futures.Executor` (a process or thread pool), a Dask cluster (its
``distributed.Client``) or Ray (:class:`RayExecutor`). The client plans and the workers
compute:

- :mod:`~consist.executors.plan` (client): code identity and every config's signature,
  once; hits recorded in the client and never shipped; duplicates folded; one payload
  per task, checked to pickle;
- :mod:`~consist.executors.task` (worker): re-checks the signature and runs the step
  through the engine, which writes its record and cache entry into the shared run folder
  (or they are sent back, ``record_in="client"``); never opens the catalog file, never
  compacts;
- :mod:`~consist.executors.sweep` (client): submits, waits, retries with fresh attempt
  tokens, restarts a broken process pool, shows one progress bar, then compacts the
  catalog once and refreshes the views;
- :mod:`~consist.executors.adapters`: the executors behind one interface;
- :mod:`~consist.executors.batch`: the :class:`MapResult` a map returns.

An executor builds step specs and hands them to the engine; records and cache entries
are written by the engine (or replayed in the client from a worker's). ``docker``, Dask
and Ray are imported only inside the functions that use them, and a worker never opens
``db_path``.
"""

from consist.executors.adapters import InlineExecutor, RayExecutor
from consist.executors.batch import MapResult

__all__ = ["InlineExecutor", "MapResult", "RayExecutor"]
