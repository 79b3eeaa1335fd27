"""Scenarios: a named group of steps that share a coupler, each step cached on its own.

``with consist.scenario("baseline") as sc:`` opens a scenario. Inside it:

- ``sc.run(...)`` runs a function step (executed only on a cache miss) and
  ``sc.trace(...)`` records an inline block (always executed, see :mod:`consist.workflow.tracing`);
  both record ``parent_id="baseline"`` (the scenario *name*, so every re-run of the
  scenario is found by the same id) and sync their outputs into ``sc.coupler``;
- ``inputs=["population"]`` names coupler keys: each resolves to the artifact a step
  produced, and that artifact's content hash is part of the reading step's identity
  (so a step whose upstream re-ran but wrote identical bytes is still a hit);
- ``consist.run(...)`` caches independently and is *not* synced into the coupler (feed it
  with ``sc.coupler.update(result.outputs)``), but records the scenario as its parent.

The scenario itself is recorded as a run (``kind="scenario"``) when it ends: id = its
name (suffixed ``~xxxxxx`` when that id was used before), status ``completed`` or
``failed`` with the error, metadata as facets, the final coupler contents as outputs
and the ids of its steps in ``meta["steps"]``.
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from consist._active import active_scenario_id, enter_scenario, leave_scenario, use_tracker
from consist.artifacts.files import check_key
from consist.engine.run_fields import check_scenario
from consist.engine.scenario_config import scenario_facets
from consist.engine.spec import build_spec, step_args, step_name
from consist.engine.run_ids import claim_run_id
from consist.engine.run_record import write_record
from consist.engine.step import run_step
from consist.errors import ConfigError
from consist.identity.digests import config_snapshot
from consist.keywords import check_extra_keywords
from consist.models import Artifact, RunResult
from consist.workflow.coupler import Coupler
from consist.workflow.coupler_methods import CouplerMethods
from consist.workflow.steps import plan_step

if TYPE_CHECKING:
    from consist.engine.host import StepHost
    from consist.executors.batch import MapResult
    from consist.workflow.tracing import TraceBlock



def expected_steps(records: Any, name: str) -> int | None:
    """How many steps the first recorded run of scenario ``name`` had (None: no such run)."""
    try:
        earlier = records.get(name)
    except Exception:  # noqa: BLE001 - a guess must never break a scenario
        return None
    steps = earlier.meta.get("steps") if earlier is not None else None
    return len(steps) if isinstance(steps, list) and steps else None


class Scenario(CouplerMethods):
    """A named group of steps sharing a :class:`~consist.workflow.coupler.Coupler`.

    Create it with :func:`consist.scenario` or :meth:`Tracker.scenario` and use it as a
    context manager.

    Parameters
    ----------
    tracker
        Where the steps are recorded and cached.
    name
        The scenario name: the ``parent_id`` of every step and the id of the scenario's
        own record.
    model
        Recorded as the scenario record's ``model`` (default ``"scenario"``).
    step_cache_hydration
        Default ``cache_hydration=`` for every step of the scenario (``sc.run``,
        ``sc.trace`` and a plain ``consist.run`` made inside it).
    tags
        Recorded on the scenario record.
    config
        The scenario's own config (a dict, pydantic model, msgspec Struct or dataclass):
        part of the identity of every step run inside it (steps do not receive it) and
        recorded on the scenario, its scalar values as facets (see
        :mod:`consist.engine.scenario_config`).
    facet_from
        Keys of ``config`` to record as facets, instead of every scalar value
        (the upstream Consist spelling).
    **meta
        Recorded on the scenario record; scalar values are queryable as facets.

    Attributes
    ----------
    coupler
        The scenario's :class:`~consist.workflow.coupler.Coupler`.
    run_id
        The id of the scenario's own record (set on entering).
    steps
        Ids of the runs recorded by its steps, in order.

    Examples
    --------
    >>> with consist.use_tracker(tracker):                                    # doctest: +SKIP
    ...     with consist.scenario("my_analysis") as sc:
    ...         sc.run(name="preprocess", fn=preprocess_data,
    ...                inputs={"raw": Path("raw.csv")}, outputs=["preprocessed"])
    ...         sc.run(name="analyze", fn=analyze_data, inputs=["preprocessed"],
    ...                load_inputs=True, outputs=["analysis"])

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        tracker: StepHost,
        name: str,
        *,
        model: str | None = None,
        step_cache_hydration: str | None = None,
        tags: Sequence[str] | None = None,
        config: Any = None,
        facet_from: Sequence[str] | None = None,
        **meta: Any,
    ) -> None:
        # A misspelt option (step_cache_hydrate=) would otherwise be recorded as metadata.
        check_extra_keywords(
            meta, ("model", "step_cache_hydration", "tags", "tracker", "config", "facet_from"), "scenario()"
        )
        self.config_snapshot = config_snapshot(config)
        self.config_facets = scenario_facets(self.config_snapshot, facet_from)
        self.tracker = tracker
        self.name = check_key(name, "scenario name")
        self.model = model or "scenario"
        self.step_cache_hydration = step_cache_hydration
        # Checked now: the scenario's record is written when it ends and must decode.
        self.tags, self.meta = check_scenario(self.name, tags, meta)
        self.coupler = Coupler()
        self.run_id: str | None = None
        self.parent_id: str | None = None
        self.status = "pending"
        self.steps: list[str] = []
        self.failed_steps: list[str] = []
        self._outputs: dict[str, Artifact] = {}
        self._token: contextvars.Token[Any] | None = None
        self._using: Any = None
        self._started = 0.0
        self._progress: Any = None

    def __repr__(self) -> str:
        return f"Scenario(name={self.name!r}, status={self.status!r}, steps={len(self.steps)})"

    def _repr_html_(self) -> str:
        from consist.display.html import scenario_html

        return scenario_html(self, [(run_id, self.tracker.records.get(run_id)) for run_id in self.steps])

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> Scenario:
        if self.status != "pending":
            raise ConfigError(f"scenario {self.name!r} was already entered; open a new consist.scenario(...).")
        # Its record id: its name, suffixed when an earlier run already used it (as a step's run_id=).
        self.run_id = claim_run_id(self.tracker.records, self.name, self.name)
        self.parent_id = active_scenario_id(self.tracker)
        self._started = time.time()
        self.status = "running"
        from consist.display.progress import StepProgress

        records, name = self.tracker.records, self.name
        self._progress = StepProgress(name, setting=self.tracker.progress, expected=lambda: expected_steps(records, name))
        self._token = enter_scenario(self)
        # Inside the block, consist.run/consist.trace use this scenario's tracker.
        self._using = use_tracker(self.tracker)
        self._using.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if self._token is not None:
            self._using.__exit__(None, None, None)
            leave_scenario(self._token)
            self._token = None
        error = exc if exc is not None else self.coupler.missing_outputs_error(self.name)
        self.status = "failed" if error is not None else "completed"
        if self._progress is not None:
            self._progress.close()
        self._record(error)
        if error is not None and exc is None:
            raise error
        return False

    def check_open(self) -> None:
        """Raise unless the scenario is open (steps run only inside its ``with`` block)."""
        if self.status != "running":
            raise ConfigError(
                f"scenario {self.name!r} is {self.status}; run steps inside "
                f"`with consist.scenario({self.name!r}) as sc:`."
            )

    def _record(self, error: BaseException | None) -> None:
        meta = dict(self.meta)
        meta["steps"] = list(self.steps)
        if self.failed_steps:
            meta["failed_steps"] = list(self.failed_steps)
        if self.step_cache_hydration is not None:
            meta["step_cache_hydration"] = self.step_cache_hydration
        if self.coupler.replaced:
            meta["coupler_replaced"] = {k: list(v) for k, v in self.coupler.replaced.items()}
        spec = build_spec(
            self.name, model=self.model, parent_id=self.parent_id, tags=self.tags, meta=self.meta, kind="scenario",
            year=meta.get("year") if isinstance(meta.get("year"), int) else None, facet=self.config_facets,
        )
        write_record(
            self.tracker,
            spec,
            None,
            self.run_id or self.name,
            status=self.status,
            config=self.config_snapshot,
            meta=_plain(meta),
            outputs=self.coupler.values() + [a for a in self._outputs.values() if a not in self.coupler.values()],
            started_at=self._started,
            error=f"{type(error).__name__}: {error}" if error is not None else None,
        )

    # -- steps -----------------------------------------------------------------------

    def run(
        self,
        step: Any = None,
        /,
        name: str | Any = None,
        fn: Any = None,
        *,
        inputs: Mapping[str, Any] | Sequence[Any] | None = None,
        outputs: Sequence[str] | None = None,
        load_inputs: bool | None = None,
        cache_hydration: str | None = None,
        **options: Any,
    ) -> RunResult:
        """Run ``fn`` as a step of this scenario: executed only on a cache miss.

        Takes every option of :meth:`Tracker.run` (``config``, ``runtime_kwargs``,
        ``inject_context``, ``year``, ``run_id``, ``depends_on``, ``cache_mode`` ...).

        Parameters
        ----------
        step
            The step name or the function, positionally: ``sc.run("compile", fn=...)``,
            ``sc.run(fn)`` and ``sc.run(fn, name="compile")`` all work.
        name
            Step name (default: the function's name).
        fn
            The step function.
        inputs
            ``{parameter: path or Artifact}``, or a list of coupler keys (and paths or
            Artifacts). A key resolves to the artifact a step produced; with
            ``load_inputs=True`` it is loaded into the parameter of the same name.
        outputs
            Output keys. Replacing a key another step wrote warns, unless this step read
            that key's artifact (it advances it) or is the same function (a loop); use
            ``sc.coupler.set(key, ...)`` to replace on purpose.
        load_inputs
            Load inputs into parameters (default: True for a mapping, False for a list).
        cache_hydration
            This step's hydration policy (default: the scenario's ``step_cache_hydration``).

        Returns
        -------
        RunResult
            Its outputs are also synced into :attr:`coupler`.

        Raises
        ------
        CouplerKeyError
            An input key no step produced (nothing runs).
        """
        self.check_open()
        name, fn = step_args(step, name, fn, "sc.run()")
        from_keys = inputs is not None and not isinstance(inputs, Mapping)
        resolved = self.resolve_inputs(inputs)
        if from_keys and load_inputs is None:
            load_inputs = False  # a list stays a list: hashed, loaded only when asked
        if "parent_id" in options:
            raise ConfigError("sc.run() sets parent_id to the scenario name; drop parent_id=.")
        hydration = cache_hydration if cache_hydration is not None else self.step_cache_hydration
        if hydration is not None:
            options["cache_hydration"] = hydration
        options.update(fn=fn, inputs=resolved, outputs=outputs, load_inputs=load_inputs, parent_id=self.name)
        step = name or step_name(fn)
        if self._progress is not None:
            self._progress.starting(step)
        try:
            result = run_step(self.tracker, plan_step(self.tracker, None, name, options, "sc.run()"))
        except BaseException as exc:
            self.step_failed(step, exc)
            raise
        self.step_finished(result, result.run.name, [outputs] if isinstance(outputs, str) else outputs or ())
        return result

    def map(self, fn: Any, /, configs: Iterable[Any], **options: Any) -> MapResult:
        """Run ``fn`` once per config as steps of this scenario, in parallel on ``executor=``.

        Each config runs as ``sc.run(fn, config=c, ...)`` would (same signature, so a map
        and a loop of ``sc.run`` share cache entries) and its outputs are synced into
        :attr:`coupler` in config order. Takes the options of :meth:`Tracker.map`
        (``executor``, ``retries``, ``per_config``, ``record_in``, ``progress``...).
        """
        from consist.executors.sweep import run_map

        self.check_open()
        if "parent_id" in options:
            raise ConfigError("sc.map() sets parent_id to the scenario name; drop parent_id=.")
        if options.get("cache_hydration") is None and self.step_cache_hydration is not None:
            options["cache_hydration"] = self.step_cache_hydration
        outputs = options.get("outputs")
        declared = [outputs] if isinstance(outputs, str) else list(outputs or ())
        step = options.get("name") or getattr(fn, "__name__", None) or type(fn).__name__

        def sync(batch: MapResult) -> None:
            for result, error in zip(batch.results, batch.errors):
                if result is not None:
                    self.step_finished(result, result.run.name, declared)
                elif error is not None:
                    self.step_failed(step, error)

        return run_map(
            self.tracker, fn, configs, parent_id=self.name, resolve_inputs=self.resolve_inputs,
            opened=self.check_open, after=sync, **options,
        )

    map_runs = map  # the upstream library's spelling

    def trace(self, name: str, **options: Any) -> TraceBlock:
        """Record an inline block as a step: ``with sc.trace(name="simulate", inputs=["population"]):``.

        The block always executes; see :mod:`consist.workflow.tracing` for its identity and what
        a cache hit means for it. Takes ``inputs``, ``outputs``, ``config``, ``run_id``,
        ``year``, ``iteration``, ``tags``, ``depends_on``, ``cache_mode``,
        ``code_version``, ``cache_hydration``; any other keyword (``threshold=0.3``) is
        metadata: recorded, queryable as a facet, and part of the block's identity.
        """
        from consist.workflow.tracing import open_trace

        self.check_open()
        return open_trace(self.tracker, self, name, **options)

    def resolve_inputs(self, inputs: Mapping[str, Any] | Sequence[Any] | None) -> Any:
        """Coupler keys in a list of inputs replaced by their artifacts (see :meth:`Coupler.resolve`)."""
        return self.coupler.resolve(inputs)

    def graph(self) -> Any:
        """Every step of this scenario and the artifacts between them (see :func:`consist.scenario_graph`)."""
        from consist.workflow.scenario_drawing import scenario_graph

        return scenario_graph(self, self.tracker)

    def step_finished(self, result: RunResult, step: str, declared: Sequence[str]) -> None:
        """Note a step's run and sync its outputs into the coupler (hit or miss)."""
        self.steps.append(result.run.id)
        if self._progress is not None:
            self._progress.step(step)
        read = {a.id for a in result.run.inputs}
        outputs = result.outputs
        if result.run.kind == "container":
            # Every container step has its logs under this one key: not a value steps pass on
            # (it would make each later container step "replace" it); they stay in result.outputs.
            from consist.executors.container_spec import LOGS_KEY

            outputs = {k: a for k, a in outputs.items() if k != LOGS_KEY}
        consumed = frozenset(k for k in outputs if getattr(self.coupler.get(k), "id", None) in read)
        self.coupler.sync(
            outputs,
            run_id=result.run.id,
            step=step,
            declared=frozenset(declared),
            code=result.run.code_hash,
            consumed=consumed,
        )

    def step_failed(self, step: str, exc: BaseException) -> None:
        """Note a step that raised (its own record says failed; the error propagates)."""
        self.failed_steps.append(step)
        if self._progress is not None:
            self._progress.step(f"{step} (failed)")


def _plain(value: Any) -> Any:
    # Scenario metadata goes into a JSON record: keep what encodes, show the rest as text.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)
