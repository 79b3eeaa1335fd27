"""The Tracker: one run folder, one catalog, and the methods users call on them.

A Tracker owns where outputs go (``run_dir``), where the catalog's metadata lives
(``run_dir/.consist``) and the DuckDB file (``db_path``). Its methods are thin: each
delegates to the module that owns the concept (engine, scenario, catalog queries...).
It is the one place the floors are wired together: lower floors receive it as a
narrow host (:class:`~consist.engine.host.StepHost`,
:class:`~consist.catalog.reader.CatalogHost`) or get its
:class:`~consist.views.state.ViewState` (see ``docs/architecture.md``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist._active import register_tracker
from consist.artifacts.layout import Layout
from consist.atomic import write_bytes
from consist.catalog.durability import Flusher
from consist.catalog.index import CacheIndex
from consist.catalog.location import remembered_db_path
from consist.catalog.records import RecordStore
from consist.errors import ConfigError
from consist.identity.code import RECIPES
from consist.identity.hashing import Hasher
from consist.models import Artifact, RunResult
from consist.mounts import Mounts
from consist.tracker_cache import CacheControlMethods
from consist.tracker_catalog import CatalogMethods
from consist.views.state import ViewState

if TYPE_CHECKING:
    from consist.engine.spec import StepSpec
    from consist.executors.batch import MapResult
    from consist.workflow.scenario import Scenario
    from consist.workflow.tracing import TraceBlock

VERIFY_MODES = ("stat", "exists", "hash")


class Tracker(CatalogMethods, CacheControlMethods):
    """Records runs under ``run_dir`` and serves cache hits.

    Parameters
    ----------
    run_dir
        Folder for run outputs; ``<run_dir>/<run_id>/`` is each run's own folder and
        ``<run_dir>/.consist/`` holds the run records and the cache index.
    db_path
        The DuckDB catalog file (views over the records); defaults to the one this
        ``run_dir`` was last used with (remembered in ``.consist/db_path``), else
        ``<run_dir>/provenance.duckdb``. It can be deleted and is rebuilt on demand.
    schemas
        SQLModel classes whose artifacts get cross-run views (``tracker.views``).
    cache_epoch
        Part of every signature: bump it to invalidate every earlier cache entry.
    code_identity
        Default code identity recipe: ``"callable_source"`` (default),
        ``"callable_module"`` or ``"repo_git"``.
    hash_mode
        ``"fast"`` memoises input hashes by (path, size, mtime, inode); ``"strict"``
        re-reads every input on every call.
    verify_outputs
        How a cache hit checks its outputs: ``"stat"`` (re-hash only when size or
        mtime changed; default), ``"hash"`` (always re-hash) or ``"exists"`` (only check
        they exist: opt out of detecting modified outputs).
    durability
        When written files are fsynced: ``"batch"`` (default: in the background, in
        groups, and at exit), ``"step"`` (each step's outputs, record and cache entry
        before the entry appears) or ``"none"``. See ``docs/performance.md``.
    progress
        Progress bars for long work (hashing large inputs, long scenarios): True,
        False, or None (default) to show them only in terminals and notebooks.
    project_root, mounts
        Portable paths (see :mod:`consist.mounts`): ``mounts={"inputs": "/data/inputs"}``
        records a file there as ``inputs://zones.parquet`` (relative folders are taken
        from ``project_root``, else from the current folder; other files under
        ``project_root`` as ``project://...``),
        so records stay valid when the data folder or the machine changes.
    allow_external_paths
        Accept inputs and logged files outside every mount and the run folder (recorded
        by absolute path). Default: True without mounts, False with them.

    Examples
    --------
    >>> tracker = Tracker(run_dir="./runs", db_path="./provenance.duckdb")  # doctest: +SKIP
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str] = "./runs",
        db_path: str | os.PathLike[str] | None = None,
        *,
        schemas: Sequence[type] | None = None,
        cache_epoch: int = 0,
        code_identity: str = "callable_source",
        hash_mode: str = "fast",
        verify_outputs: str = "stat",
        progress: bool | None = None,
        project_root: str | os.PathLike[str] | None = None,
        mounts: Mapping[str, str | os.PathLike[str]] | None = None,
        allow_external_paths: bool | None = None,
        durability: str = "batch",
    ) -> None:
        if code_identity not in RECIPES:
            raise ConfigError(f"code_identity={code_identity!r}; expected one of {', '.join(RECIPES)}.")
        if hash_mode not in ("fast", "strict"):
            raise ConfigError(f"hash_mode={hash_mode!r}; expected 'fast' or 'strict'.")
        if verify_outputs not in VERIFY_MODES:
            raise ConfigError(f"verify_outputs={verify_outputs!r}; expected one of {', '.join(VERIFY_MODES)}.")
        if not isinstance(cache_epoch, int):
            raise ConfigError(f"cache_epoch must be an int; got {cache_epoch!r}.")
        self.run_dir = Path(run_dir).expanduser().resolve()
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ConfigError(f"run_dir {self.run_dir} is a file; give a folder (it is created if missing).")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.layout = Layout(self.run_dir / ".consist")
        self.db_path = remembered_db_path(self.layout, db_path, self.run_dir / "provenance.duckdb")
        self.records = RecordStore(self.layout)
        self.index = CacheIndex(self.layout)
        self.hasher = Hasher(self.layout.hashmemo, strict=hash_mode == "strict", progress=progress)
        self.progress = progress
        self.schemas = list(schemas or [])
        self.cache_epoch = cache_epoch
        self.code_identity = code_identity
        self.verify_outputs = verify_outputs
        self.mounts = Mounts(mounts, project_root, self.run_dir, allow_external_paths)
        self.flusher = Flusher(durability)
        self._sources_seen: set[str] = set()
        self.view_state = ViewState(self.layout, self.db_path, self.run_dir, self.schemas, self.records)
        register_tracker(self)
        if not self.db_path.exists() and self._opens_catalog:
            # The catalog file is views only: (re)built whenever it is missing.
            from consist.catalog.database import build_if_missing

            build_if_missing(self.db_path, self.layout)

    # False on a map worker's tracker (see for_worker): only the client touches db_path.
    _opens_catalog = True

    @classmethod
    def for_worker(cls, run_dir: str | os.PathLike[str], db_path: str | os.PathLike[str], **options: Any) -> Tracker:
        """The tracker a map task runs under on a worker (see :mod:`consist.executors`).

        It writes run records and cache entries into the shared ``run_dir`` like any
        tracker, but never opens or builds the catalog file at ``db_path`` and never
        compacts: the client that started the map does both once, at the end.
        """
        tracker = cls.__new__(cls)
        tracker._opens_catalog = False
        tracker.__init__(run_dir, db_path, **options)  # type: ignore[misc]
        tracker.records.auto_compact = False
        return tracker

    def __repr__(self) -> str:
        return f"Tracker(run_dir={str(self.run_dir)!r}, db_path={str(self.db_path)!r})"

    # -- running steps ---------------------------------------------------------------

    def run(
        self,
        step: Any = None,
        /,
        name: str | None = None,
        *,
        fn: Any = None,
        inputs: Mapping[str, Any] | Sequence[Any] | None = None,
        config: Any = None,
        outputs: Sequence[str] | None = None,
        load_inputs: bool | None = None,
        runtime_kwargs: dict[str, Any] | None = None,
        inject_context: bool = False,
        depends_on: Sequence[str | os.PathLike[str]] | None = None,
        capture_dir: str | os.PathLike[str] | None = None,
        capture_pattern: str = "*",
        year: int | None = None,
        iteration: int | None = None,
        tags: Sequence[str] | None = None,
        run_id: str | None = None,
        cache_mode: str = "reuse",
        facet: Mapping[str, Any] | None = None,
        code_version: str | None = None,
        code_identity: str | None = None,
        parent_id: str | None = None,
        model: str | None = None,
        executor: str = "python",
        container: Mapping[str, Any] | None = None,
        output_paths: Mapping[str, str | os.PathLike[str]] | None = None,
        cache_hydration: str | None = None,
        hydrate_to: Mapping[str, str | os.PathLike[str]] | None = None,
        hydrate_dir: str | os.PathLike[str] | None = None,
        hydrate_overwrite: bool = False,
        **unknown: Any,
    ) -> RunResult:
        """Run ``fn`` as a tracked, cached step.

        On a cache hit (same code, config and input content as a completed run whose
        outputs are intact) ``fn`` is not called and the earlier outputs are returned.

        Parameters
        ----------
        step, fn
            The step function, positionally or as ``fn=``. ``tracker.run("name", fn=...)``
            (the name first) also works.
        name
            Step name (defaults to the function's name); runs of one step are compared
            to explain misses.
        inputs
            ``{parameter: path or Artifact}`` (auto-loaded into those parameters), or a
            list of paths/Artifacts (hashed; loaded only with ``load_inputs=True``).
        config
            A dict, pydantic model, msgspec Struct or dataclass; part of the cache key.
            Keys reach same-named parameters; a ``config`` parameter gets all of it.
        outputs
            Output keys; a returned frame goes to the first, a dict/tuple to several.
        load_inputs
            Load inputs into parameters (default: True for a mapping, False for a list).
        runtime_kwargs
            Extra arguments passed to ``fn``; never hashed, and they win over config.
        inject_context
            Pass the :class:`~consist.engine.context.RunContext` as ``_consist_ctx``.
        depends_on
            More files or folders whose content is part of the cache key.
        capture_dir, capture_pattern
            Log files that appear or change in this folder while ``fn`` runs.
        year, iteration, tags, facet, parent_id, model
            Recorded on the run and queryable.
        run_id
            Id to record this execution under (suffixed when already used).
        cache_mode
            ``"reuse"`` (default), ``"overwrite"`` (always execute and replace the
            entry) or ``"readonly"`` (serve hits; a miss executes without caching).
        code_version, code_identity
            Override how the code's identity is taken (see :mod:`consist.identity.code`).
        executor, container, output_paths
            ``executor="container"`` runs ``container={"image", "command", "volumes",
            "environment", "working_dir"}`` instead of ``fn`` and logs
            ``output_paths={key: host path}`` (see
            :func:`consist.integrations.containers.run_container`). With ``fn``,
            ``output_paths={key: path}`` is where outputs are copied after an execution,
            and where ``cache_hydration="outputs-requested"`` copies them on a hit.
        cache_hydration
            What a cache hit copies (see :mod:`consist.engine.hydration`): ``"metadata"``
            (nothing; artifacts point at the producing run's files; the default, except
            inside a scenario, whose ``step_cache_hydration`` is then the default),
            ``"outputs-requested"`` (the outputs named in ``output_paths``/``hydrate_to``),
            ``"outputs-all"`` (every output, into ``hydrate_dir`` or else the new run's
            own folder), or
            ``"inputs-missing"`` (on a miss, restore absent inputs before executing).
        hydrate_to
            A synonym of ``output_paths`` for ``"outputs-requested"``: ``{output_key:
            destination path}`` (``"out/"``, with
            the slash, copies into that folder under the output's file name). All or
            nothing: if one cannot be copied the call is a miss and nothing is left there.
        hydrate_dir
            The folder ``"outputs-all"`` copies into (default: the new run's own folder).
        hydrate_overwrite
            Replace a destination that holds different bytes (otherwise refused with
            :class:`~consist.errors.HydrationConflictError`).

        Returns
        -------
        RunResult

        Raises
        ------
        InputNotFoundError
            An input path does not exist (raised before ``fn`` runs).
        OutputMissingError
            A declared output was not produced (the run is recorded as failed).
        UpstreamOptionError
            ``execution_options=``/``cache_options=``/``output_policy=`` (upstream
            Consist's option objects): the message gives the flat keywords to use.
        """
        options = dict(locals())  # first: every argument above, and nothing else
        del options["self"], options["step"], options["name"]
        from consist.engine.step import run_step

        options.update(options.pop("unknown"))  # refused by the planner, naming close spellings
        return run_step(self, self._plan(step, name, options))

    def _plan(self, step: Any, name: Any, options: dict[str, Any]) -> StepSpec:
        """The spec :meth:`run` would run with these arguments (also what :meth:`explain` explains)."""
        from consist.workflow.steps import plan_step

        return plan_step(self, step, name, options)

    def map(self, fn: Any, /, configs: Iterable[Any], **options: Any) -> MapResult:
        """Run ``fn`` once per config, in parallel on ``executor=``: each as :meth:`run` would.

        Takes ``inputs``, ``outputs``, ``executor``, ``name``, ``retries``, ``progress``,
        ``record_in``, ``per_config`` and every other option of :meth:`run`; see
        :func:`consist.executors.sweep.run_map`. Returns a
        :class:`~consist.executors.batch.MapResult`.
        """
        from consist.executors.sweep import run_map

        return run_map(self, fn, configs, **options)

    def scenario(self, name: str, **meta: Any) -> Scenario:
        """Open a scenario: ``with tracker.scenario("baseline") as sc:`` (see :class:`~consist.workflow.scenario.Scenario`)."""
        from consist.workflow.scenario import Scenario

        return Scenario(self, name, **meta)

    def trace(self, name: str, **options: Any) -> TraceBlock:
        """Record an inline block as a step of the open scenario, or on its own (see :mod:`consist.workflow.tracing`)."""
        from consist._active import active_scenario
        from consist.workflow.tracing import open_trace

        return open_trace(self, active_scenario(self), name, **options)

    # -- logging inside a running step -------------------------------------------------

    def log_artifact(self, path: str | os.PathLike[str], key: str | None = None, **kwargs: Any) -> Artifact:
        """Log a file as an output of the step executing now (see :meth:`RunContext.log_artifact`)."""
        from consist._active import current_run

        return current_run().log_artifact(path, key, **kwargs)

    def log_dataframe(self, df: Any, key: str, *, path: str | os.PathLike[str] | None = None, **meta: Any) -> Artifact:
        """Log a frame as an output of the step executing now (see :meth:`RunContext.log_dataframe`)."""
        from consist._active import current_run

        return current_run().log_dataframe(df, key, path=path, **meta)

    # -- internals shared by the engine ------------------------------------------------

    def remember_source(self, code_hash: str, source: str) -> None:
        """Keep the source text behind a code identity once, so misses can show diffs."""
        if code_hash in self._sources_seen:
            return
        self._sources_seen.add(code_hash)
        target = self.layout.code_path(code_hash)
        if not target.exists():
            write_bytes(target, source.encode())

    def restore_missing(self, inputs: Mapping[str, Artifact]) -> None:
        """The engine's hook for ``cache_hydration="inputs-missing"`` (recovery sits above the engine)."""
        from consist.cache.recover import restore_inputs

        restore_inputs(self, inputs)
