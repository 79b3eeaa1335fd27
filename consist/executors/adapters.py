"""The executors a map runs on, behind one interface: submit a call, get a future.

Every executor becomes a :class:`concurrent.futures.Executor`: ``None`` the
:class:`InlineExecutor` (this process, one call after the other), a Dask
``distributed.Client`` the :class:`DaskSubmitter` (``client.submit(..., pure=False)``:
Dask would otherwise merge identical submissions and hand back an old error instead of
retrying), Ray the :class:`RayExecutor` over ``ray.remote`` (Ray ships no such
executor). The :class:`Adapter` also knows how the executor serialises a task (to check
payloads before submitting), how to wait for the next finished tasks, and how to replace
a process pool that broke. Dask and Ray are imported only when used.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import pickle
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from consist.errors import ConfigError

# A finished future, with its value or the error it raised (one of the two is None).
Settled = tuple[Any, Any, BaseException | None]


def optional(module: str, extra: str) -> Any:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"{module} is not installed; install it with `pip install 'consist[{extra}]'`."
        ) from None


class InlineExecutor(cf.Executor):
    """Runs each call when it is submitted, in this process and thread (``executor=None``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


class RayExecutor(cf.Executor):
    """A :class:`concurrent.futures.Executor` over ``ray.remote``, for ``consist.map``.

    Parameters
    ----------
    **remote_options
        Passed to ``ray.remote`` for every task (``num_cpus=1`` unless given;
        ``max_retries`` is Ray's, for tasks whose worker died).

    Examples
    --------
    >>> ray.init(num_cpus=8)                                     # doctest: +SKIP
    >>> batch = sc.map(simulate, configs=grid, executor=RayExecutor())
    """

    def __init__(self, **remote_options: Any) -> None:
        self._ray = optional("ray", "ray")
        self._options = {"num_cpus": 1, **remote_options}
        self._remote: dict[Any, Any] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(**self._options)(fn)
        return remote.remote(*args, **kwargs).future()

    def slots(self) -> int:
        """Tasks the Ray cluster runs at once: its CPUs over the CPUs a task asks for."""
        cpus = self._ray.cluster_resources().get("CPU", 1)
        return max(1, int(cpus / (self._options["num_cpus"] or 1)))

    def __repr__(self) -> str:
        return f"RayExecutor({', '.join(f'{k}={v!r}' for k, v in self._options.items())})"


class DaskSubmitter(cf.Executor):
    """``client.submit(fn, *args, pure=False)`` behind ``Executor.submit``, for one map.

    It hands back Dask's own futures and collects them with one
    ``distributed.as_completed``, rather than going through ``client.get_executor()``,
    whose futures are converted to :class:`concurrent.futures.Future` on the event loop
    (measured here: 3.6 against 1.9 ms a no-op task, see benchmarks/README.md).
    """

    def __init__(self, client: Any) -> None:
        distributed = optional("distributed", "dask")
        self._client = client
        self._finished = distributed.as_completed(loop=client.loop)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future = self._client.submit(fn, *args, pure=False, **kwargs)
        self._finished.add(future)
        return future

    def slots(self) -> int:
        """Tasks the cluster runs at once: its workers' threads."""
        return max(1, sum(self._client.nthreads().values()))

    def next_done(self) -> list[Any]:
        """The futures finished since the last call; waits for at least one."""
        return self._finished.next_batch(block=True)

    def settle(self, futures: list[Any]) -> Iterator[Settled]:
        """Each future with its value or error, the finished ones fetched in one ``gather``.

        One ``future.result()`` a future is one request to the scheduler (which runs in
        the client's process on a ``LocalCluster``) and one fetch from a worker each; a
        gather of the batch asks once. If that gather fails (a worker holding a result
        died since), each future is asked on its own, so only the lost ones fail.
        """
        finished = [f for f in futures if f.status == "finished"]
        values: dict[Any, Any] = {}
        if finished:
            try:
                values = dict(zip((f.key for f in finished), self._client.gather(finished)))
            except Exception:  # noqa: BLE001 - asked again one by one below
                values = {}
        for future in futures:
            if future.key in values:
                yield future, values[future.key], None
            else:
                yield _settled(future)


@dataclass
class Adapter:
    """One executor as a map uses it.

    Attributes
    ----------
    pool
        The executor tasks are submitted to.
    kind
        ``"inline"``, ``"threads"``, ``"processes"``, ``"dask"``, ``"ray"`` or ``"executor"``.
    dumps
        How the executor serialises a task (None: it does not, it runs in this process).
    owned
        Whether the map created ``pool`` (and shuts it down at the end).
    """

    pool: cf.Executor
    kind: str
    dumps: Callable[[Any], bytes] | None
    owned: bool = False

    def next_done(self, pending: Iterable[Any]) -> Iterable[Any]:
        """Some of the ``pending`` futures that are done; waits for at least one."""
        if isinstance(self.pool, DaskSubmitter):
            return self.pool.next_done()
        done, _ = cf.wait(list(pending), return_when=cf.FIRST_COMPLETED)
        return done

    def settle(self, futures: Iterable[Any]) -> Iterator[Settled]:
        """Each of ``futures`` (done) with its value, or the error it raised."""
        if isinstance(self.pool, DaskSubmitter):
            return self.pool.settle(list(futures))
        return map(_settled, futures)

    def slots(self) -> int | None:
        """How many tasks the executor runs at once; None for this process, threads or unknown."""
        if self.kind in ("dask", "ray"):
            return self.pool.slots()  # type: ignore[attr-defined]
        if self.kind == "processes":
            return getattr(self.pool, "_max_workers", None)
        return None

    def restart(self) -> bool:
        """Replace a broken process pool by a new one of the same shape; False if not a pool."""
        if self.kind != "processes":
            return False
        old = self.pool
        self.pool = cf.ProcessPoolExecutor(
            max_workers=getattr(old, "_max_workers", None),
            mp_context=getattr(old, "_mp_context", None),
            initializer=getattr(old, "_initializer", None),
            initargs=getattr(old, "_initargs", ()),
        )
        if self.owned:
            old.shutdown(wait=False, cancel_futures=True)
        self.owned = True
        return True

    def close(self) -> None:
        """Shut down a pool the map created (a replacement for a broken one)."""
        if self.owned:
            self.pool.shutdown(wait=True)


def _settled(future: Any) -> Settled:
    try:
        return future, future.result(), None
    except Exception as exc:  # noqa: BLE001 - the caller decides (a broken pool, a lost worker)
        return future, None, exc


def adapt(executor: Any) -> Adapter:
    """The :class:`Adapter` for ``executor=`` (see the module docstring)."""
    if executor is None:
        return Adapter(InlineExecutor(), "inline", None)
    if _is_dask_client(executor):
        cloudpickle = optional("cloudpickle", "dask")
        return Adapter(DaskSubmitter(executor), "dask", cloudpickle.dumps)
    if isinstance(executor, RayExecutor):
        cloudpickle = optional("cloudpickle", "ray")
        return Adapter(executor, "ray", cloudpickle.dumps)
    if isinstance(executor, cf.ProcessPoolExecutor):
        return Adapter(executor, "processes", pickle.dumps)
    if isinstance(executor, cf.ThreadPoolExecutor):
        return Adapter(executor, "threads", None)
    if isinstance(executor, cf.Executor):
        return Adapter(executor, "executor", None)
    hint = " (for Ray, pass consist.executors.RayExecutor())" if type(executor).__module__.startswith("ray") else ""
    raise ConfigError(
        f"executor={executor!r} is not an executor consist can run on; pass None (this process), a "
        f"concurrent.futures executor, a dask.distributed.Client or consist.executors.RayExecutor(){hint}."
    )


def _is_dask_client(value: Any) -> bool:
    # By name: a check with isinstance would import distributed for every map.
    return any(
        klass.__name__ == "Client" and klass.__module__.startswith("distributed")
        for klass in type(value).__mro__
    )
