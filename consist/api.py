"""Module-level convenience functions: each finds the current tracker and delegates.

They hold no logic of their own; see :class:`consist.Tracker` for the behaviour.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist._active import current_run, current_tracker, live_trackers, owner_of
from consist.artifacts.formats import drivers
from consist.artifacts.relocate import rebase
from consist.display.graph import LineageGraph
from consist.errors import ArtifactNotFoundError, ConfigError
from consist.models import Artifact, Run, RunResult
from consist.mounts import is_mount_uri, resolve_uri
from consist.workflow.scenario import Scenario

if TYPE_CHECKING:
    from consist.artifacts.schema_capture import FileSchema
    from consist.catalog.lineage import Lineage
    from consist.executors.batch import MapResult
    from consist.workflow.scenario_drawing import ScenarioGraph
    from consist.workflow.tracing import TraceBlock


def run(step: Any = None, /, name: str | None = None, *, tracker: Any = None, **kwargs: Any) -> RunResult:
    """Run ``fn`` as a cached step on the current tracker (see :meth:`Tracker.run`).

    Examples
    --------
    >>> with consist.use_tracker(tracker):                      # doctest: +SKIP
    ...     result = consist.run(fn=clean_data, inputs={"raw": Path("raw.csv")},
    ...                          config={"threshold": 0.5}, outputs=["cleaned"])
    """
    return (tracker or current_tracker()).run(step, name, **kwargs)


def map(fn: Any, /, configs: Any, *, tracker: Any = None, **options: Any) -> MapResult:  # noqa: A001
    """Run ``fn`` once per config on the current tracker, in parallel (see :meth:`Tracker.map`).

    Examples
    --------
    >>> with consist.use_tracker(tracker):                      # doctest: +SKIP
    ...     batch = consist.map(simulate, configs=[{"rate": r} for r in (0.1, 0.2)],
    ...                         outputs=["trips"], executor=dask_client)
    """
    return (tracker or current_tracker()).map(fn, configs, **options)


def scenario(name: str, *, tracker: Any = None, **meta: Any) -> Scenario:
    """Open a scenario on the current tracker (see :meth:`Tracker.scenario`).

    Examples
    --------
    >>> with consist.use_tracker(tracker):                      # doctest: +SKIP
    ...     with consist.scenario("baseline", model="travel_demand") as sc:
    ...         sc.run(name="prepare", fn=prepare, outputs=["population"])
    """
    return (tracker or current_tracker()).scenario(name, **meta)


def trace(name: str, *, tracker: Any = None, **options: Any) -> TraceBlock:
    """Record an inline ``with`` block as a step of the open scenario (see :meth:`Tracker.trace`)."""
    return (tracker or current_tracker()).trace(name, **options)


def log_dataframe(df: Any, key: str, *, path: str | os.PathLike[str] | None = None, **meta: Any) -> Artifact:
    """Log a frame as an output of the step executing now.

    Written as ``<run folder>/<key>.parquet``, or at ``path`` in the format its suffix
    names (``.csv``, ``.parquet``, ``.feather``, ``.jsonl``...); see
    :meth:`RunContext.log_dataframe`.
    """
    return current_run().log_dataframe(df, key, path=path, **meta)


def output_path(key: str, ext: str | None = "parquet") -> Path:
    """Where the step executing now should write an output it logs itself.

    ``<run folder>/<key>.<ext>``: a folder of the run's own, so re-runs and other steps
    never overwrite it. Write the file there, then log it with
    :func:`consist.log_artifact`.

    Examples
    --------
    >>> def simulate() -> None:                                  # doctest: +SKIP
    ...     target = consist.output_path("flows", ext="csv")
    ...     legacy_model.write_flows(target)
    ...     consist.log_artifact(target, key="flows")
    """
    return current_run().output_path(key, ext)


def log_artifact(path: str | os.PathLike[str], key: str | None = None, **kwargs: Any) -> Artifact:
    """Log a file or folder as an output of the step executing now.

    Parameters
    ----------
    path
        The file or folder.
    key
        Output key (defaults to the file's stem).
    content_hash
        A blake3 hash you already have (e.g. after a copy): the file is not re-read.
    force_hash_override
        Accept ``content_hash`` even when it contradicts a hash already known for the
        unchanged file.
    validate_content_hash
        Re-hash the file and fail if it does not match ``content_hash``.
    profile_file_schema
        Record the columns of a Parquet/CSV file (names, types, nullability, a few
        statistics) in the artifact's metadata; they outlive the file.
    file_schema_sample_rows
        Compute the statistics over the first N rows only (default: all rows).
    **meta
        Stored as the artifact's metadata.
    """
    return current_run().log_artifact(path, key, **kwargs)


def _view_state(tracker: Any) -> Any:
    tracker = tracker or current_tracker(required=False)
    return tracker.view_state if tracker is not None else None


def locate(artifact: Artifact, tracker: Any = None) -> Artifact:
    """``artifact`` rebased into the run folder of ``tracker``, the tracker in use, or any
    live tracker, whichever holds its run's folder first (records made before a move)."""
    for candidate in live_trackers(tracker):
        run_dir = getattr(candidate, "run_dir", None)
        if run_dir is None:
            continue
        moved = rebase(run_dir, artifact)
        if moved is not artifact:
            return moved
    return artifact


def _resolve(artifact: Artifact | str | os.PathLike[str]) -> tuple[Path, str, str | None]:
    if isinstance(artifact, Artifact):
        path = artifact.path
        if not path.exists():
            producer = f"run {artifact.run_id!r}" if artifact.run_id else "no tracked run (a raw input)"
            raise ArtifactNotFoundError(
                f"artifact {artifact.key!r} is missing at {path}; it was produced by {producer} with "
                f"hash {artifact.hash[:16]}.... Recover it with tracker.recover(artifact), or re-run that step."
            )
        return path, artifact.driver, artifact.frame_kind
    if isinstance(artifact, (str, os.PathLike)):
        path = resolve_uri(artifact) if isinstance(artifact, str) and is_mount_uri(artifact) else Path(artifact)
        if not path.exists():
            raise ArtifactNotFoundError(f"{path} does not exist.")
        return path, drivers.driver_for(path), None
    raise ConfigError(f"expected an Artifact or a path; got a {type(artifact).__name__}.")


def load(artifact: Artifact | str | os.PathLike[str], as_: str | None = None, *, tracker: Any = None) -> Any:
    """Load an artifact's data: as the kind it was logged (pandas in, pandas out).

    Parameters
    ----------
    artifact
        An :class:`Artifact` or a path.
    as_
        ``"polars"``, ``"lazy"``, ``"pandas"``, ``"arrow"`` or ``"duckdb"`` to choose
        the kind; ``"path"`` for the path. A raw tabular file nobody logged as a frame
        loads as a Polars DataFrame; a zarr store opens lazily, as an ``xarray.Dataset``
        when it holds one and xarray is installed (``"xarray"``, ``"dataarray"`` or
        ``"zarr"`` choose); other files give their path.
    tracker
        Accepted like every module-level function's ``tracker=``; not needed, since an
        artifact carries what it takes to load it.
    """
    if isinstance(artifact, Artifact):
        path = artifact.path
        if path.exists():  # the usual case: one stat
            return drivers.load(path, artifact.driver, as_, artifact.frame_kind)
        artifact = locate(artifact, tracker)  # recorded before its run folder moved?
        if not artifact.path.exists():
            from consist.views.ingestion import load_ghost

            # Ghost mode: an ingested artifact whose file is gone loads from its hot rows.
            ghost = load_ghost(artifact, as_, state=_view_state(tracker))
            if ghost is not None:
                return ghost
    path, driver, kind = _resolve(artifact)
    return drivers.load(path, driver, as_, kind)


def scan(artifact: Artifact | str | os.PathLike[str], *, tracker: Any = None) -> Any:
    """A Polars LazyFrame over a tabular artifact (nothing is read until collected).

    ``tracker=`` is accepted like every module-level function's, and not needed.
    """
    if isinstance(artifact, Artifact) and not artifact.path.exists():
        artifact = locate(artifact, tracker)  # recorded before its run folder moved?
    if isinstance(artifact, Artifact) and not artifact.path.exists():
        from consist.views.ingestion import load_ghost

        ghost = load_ghost(artifact, lazy=True, state=_view_state(tracker))
        if ghost is not None:
            return ghost
    path, driver, _ = _resolve(artifact)
    return drivers.scan(path, driver)


def ingest(artifacts: Any, *, tracker: Any = None) -> Any:
    """Copy artifacts' rows into the tracker's hot database (see :meth:`Tracker.ingest`).

    Views then serve those rows from DuckDB, and the artifacts still load after their
    files are deleted.

    Examples
    --------
    >>> consist.ingest(result.outputs["persons"], tracker=tracker)   # doctest: +SKIP

    Without ``tracker=`` or ``use_tracker``, the tracker whose catalog recorded the
    artifacts' runs is used.
    """
    return (tracker or owner_of(artifacts)).ingest(artifacts)


def find_run(tracker: Any = None, **filters: Any) -> Run:
    """The latest run matching ``filters`` (see :meth:`Tracker.find_run`).

    Examples
    --------
    >>> run = consist.find_run(tracker=tracker, parent_id="baseline",  # doctest: +SKIP
    ...                        year=2030, model="simulate")
    """
    return (tracker or current_tracker()).find_run(**filters)


def find_runs(tracker: Any = None, *, index_by: str | None = None, **filters: Any) -> list[Run] | dict[Any, Run]:
    """Runs matching ``filters``, or a dict keyed by ``index_by`` (see :meth:`Tracker.find_runs`)."""
    return (tracker or current_tracker()).find_runs(index_by=index_by, **filters)


def run_query(query: Any, *, tracker: Any = None, params: Any = None) -> Any:
    """Run a SQL string or SQLAlchemy ``select`` on the catalog; returns a Polars DataFrame."""
    return (tracker or current_tracker()).run_query(query, params)


def pivot_facets(
    namespace: str | None = None,
    keys: Any = (),
    value_columns: dict[str, str] | None = None,
    tracker: Any = None,
    rows: str = "all",
) -> Any:
    """Facets of a step's runs as a SQLAlchemy subquery, one column per key.

    Building the subquery needs no tracker; run it with :func:`run_query`. With a
    tracker (``tracker=`` or the current one), a key left out of ``value_columns`` whose
    values are never numbers takes the column they are in, and whole-number keys are
    integer columns. ``rows="executed"`` keeps only runs that executed (no cache hits),
    ``rows="latest"`` the latest run of each step and config. See
    :func:`consist.catalog.queries.pivot_facets`.
    """
    from consist.catalog.queries import pivot_facets as build

    return build(namespace, keys, value_columns, tracker=tracker or current_tracker(required=False), rows=rows)


def runs_table(tracker: Any = None, **options: Any) -> Any:
    """Runs as one table, one row per run with config and facets as columns (see :meth:`Tracker.runs_table`).

    Examples
    --------
    >>> consist.runs_table(tracker=tracker, name="simulate", rows="executed")  # doctest: +SKIP
    """
    return (tracker or current_tracker()).runs_table(**options)


def diff(a: Any, b: Any, *, tracker: Any = None) -> Any:
    """What differs between runs ``a`` and ``b``: config leaves, inputs, code, outputs (see :meth:`Tracker.diff`)."""
    return (tracker or current_tracker()).diff(a, b)


def lineage_graph(
    artifact: Artifact | Lineage | str, *, tracker: Any = None, max_depth: int | None = None
) -> LineageGraph:
    """The lineage of ``artifact`` as a graph that draws itself in a notebook.

    Parameters
    ----------
    artifact
        An :class:`~consist.Artifact`, an artifact id, or a
        :class:`~consist.catalog.lineage.Lineage` already fetched with :meth:`Tracker.lineage`.
    tracker
        Whose catalog to read (default: the current tracker).
    max_depth
        Follow at most this many producing runs upstream.

    Returns
    -------
    LineageGraph

    Examples
    --------
    >>> consist.lineage_graph(result.outputs["analysis"], tracker=tracker)  # doctest: +SKIP
    """
    from consist.catalog.lineage import Lineage

    if isinstance(artifact, Lineage):
        return LineageGraph(artifact)
    return LineageGraph((tracker or current_tracker()).lineage(artifact, max_depth=max_depth))


def scenario_graph(scenario: Any, *, tracker: Any = None) -> ScenarioGraph:
    """The graph of a whole scenario: a live :class:`~consist.Scenario`, or a recorded one's name.

    Parameters
    ----------
    scenario
        A scenario object (open or finished) or the name of a recorded scenario (its
        latest record is drawn).
    tracker
        Whose catalog to read (default: the scenario's, else the current tracker).

    Returns
    -------
    ScenarioGraph

    Examples
    --------
    >>> consist.scenario_graph("baseline", tracker=tracker)  # doctest: +SKIP
    """
    from consist.workflow.scenario_drawing import scenario_graph as draw

    if tracker is None and isinstance(scenario, str):
        tracker = current_tracker()
    return draw(scenario, tracker)


def export_sqlmodel_stub(
    artifact: Artifact | FileSchema,
    *,
    tracker: Any = None,
    class_name: str | None = None,
    table_name: str | None = None,
    out: str | os.PathLike[str] | None = None,
    include_system_columns: bool = False,
    stats_comments: bool = True,
) -> str:
    """An editable SQLModel class (Python source) for an artifact's captured schema.

    Parameters
    ----------
    artifact
        The artifact (e.g. ``result.outputs["persons"]``), or a :class:`FileSchema`.
    tracker
        Whose ingestion records and schema store to consult (default: the tracker in use, if any).
    class_name, table_name
        Override the class name (default: the key in CamelCase) and ``__tablename__``
        (default: the key).
    out
        Also write the source to this file.
    include_system_columns
        Keep ``consist_*`` provenance columns (and ``_dlt_*`` loader columns).
    stats_comments
        Put the captured statistics next to each field as comments.

    Returns
    -------
    str
        The module source.

    Examples
    --------
    >>> code = consist.export_sqlmodel_stub(result.outputs["persons"], out="models/persons.py")  # doctest: +SKIP
    """
    from consist.views.schema_export import export_sqlmodel_stub as export

    if tracker is None:
        tracker = current_tracker(required=False)
    return export(
        artifact, tracker=tracker, class_name=class_name, table_name=table_name, out=out,
        include_system_columns=include_system_columns, stats_comments=stats_comments,
    )
