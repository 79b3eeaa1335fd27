"""Tracker methods over the catalog and cross-run data: queries, views, scans, ingestion.

Each delegates to the module that owns the concept; see :class:`consist.Tracker`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consist.catalog.compaction import CompactionReport
    from consist.catalog.lineage import Lineage
    from consist.catalog.queries import RunArtifacts
    from consist.catalog.reader import LiveCatalog
    from consist.catalog.repair import RepairReport
    from consist.models import Artifact, Run, RunResult
    from consist.views.namespace import Views
    from consist.views.state import ViewState


class CatalogMethods:
    """Mixed into :class:`consist.Tracker`."""

    view_state: ViewState
    db_path: Any
    layout: Any
    records: Any

    # -- querying the catalog (see consist.catalog.queries) -------------------------------------

    @property
    def catalog(self) -> LiveCatalog:
        """This process's query connection to the catalog (created on first use)."""
        return self.view_state.catalog

    def find_run(self, **filters: Any) -> Run:
        """The latest run matching ``filters`` (see :func:`consist.catalog.queries.find_run`)."""
        from consist.catalog.queries import find_run

        return find_run(self, **filters)

    def find_runs(self, *, index_by: str | Sequence[str] | None = None, **filters: Any) -> list[Run] | dict[Any, Run]:
        """Runs matching ``filters``, or a dict by ``index_by`` (see :func:`consist.catalog.queries.find_runs`)."""
        from consist.catalog.queries import find_runs

        return find_runs(self, index_by=index_by, **filters)

    def get_run(self, run_id: str | Run | RunResult) -> Run:
        """The run recorded under ``run_id`` (an id, a Run or a RunResult); raises RunNotFoundError."""
        from consist.catalog.queries import get_run

        return get_run(self, run_id)

    def get_artifacts_for_run(self, run_id: str | Run | RunResult) -> RunArtifacts:
        """A run's artifacts: ``.inputs`` and ``.outputs`` by key (``run_id``: an id, a Run or a RunResult)."""
        from consist.catalog.queries import get_artifacts_for_run

        return get_artifacts_for_run(self, run_id)

    def lineage(self, artifact: Artifact | str | os.PathLike[str], *, max_depth: int | None = None) -> Lineage:
        """Which run made ``artifact`` (an Artifact, its id or its path), from which inputs, recursively."""
        from consist.catalog.lineage import lineage

        return lineage(self, artifact, max_depth=max_depth)

    def pivot_facets(
        self, namespace: str | None = None, keys: Sequence[str] = (), value_columns: Any = None, rows: str = "all"
    ) -> Any:
        """A SQLAlchemy subquery of facets, one column per key (see :func:`consist.catalog.queries.pivot_facets`).

        Keys not in ``value_columns`` take the column their recorded values are in;
        ``rows="executed"`` or ``"latest"`` leaves out cache hits or older repeats.
        """
        from consist.catalog.queries import pivot_facets

        return pivot_facets(namespace, keys, value_columns, tracker=self, rows=rows)

    def runs_table(
        self, *, rows: str = "all", config: bool = True, facets: bool = True, as_pandas: bool = False, **filters: Any
    ) -> Any:
        """Runs as one analysis-ready table: one row per run, config leaves and facets as columns.

        Parameters
        ----------
        rows
            ``"all"`` (default: every completed step run, cache hits included),
            ``"executed"`` (no cache hits) or ``"latest"`` (the latest run of each step
            and config).
        config, facets
            Add a ``config.<leaf>`` column per config leaf (nested keys dotted) and a
            ``facet.<key>`` column per facet that is not a config leaf.
        as_pandas
            Return a pandas DataFrame instead of a Polars one.
        **filters
            As :meth:`find_runs`: run fields (``name=``, ``parent_id=``, ``year=`` ...,
            a value or a list), ``facets={...}``, ``tags=``, ``status=`` (default
            ``"completed"``; ``None`` for every status), ``kind=`` (default ``"step"``;
            ``None`` adds scenario records), ``limit=``.

        Returns
        -------
        polars.DataFrame
            Oldest run first; columns ``id, name, model, kind, scenario, year, iteration,
            status, cache_hit, reused_run_id, started_at, ended_at`` (UTC datetimes),
            ``duration_s, miss_reason, tags``, then the config and facet columns.

        Examples
        --------
        >>> table = tracker.runs_table(name="simulate", rows="executed")  # doctest: +SKIP
        >>> table.group_by("config.growth").agg(pl.col("duration_s").mean())  # doctest: +SKIP
        """
        from consist.catalog.run_rows import runs_table

        return runs_table(self, rows=rows, config=config, facets=facets, as_pandas=as_pandas, **filters)

    def diff(self, a: Any, b: Any) -> Any:
        """What differs between two runs (ids, Runs or RunResults): see :class:`consist.catalog.run_diff.RunDiff`."""
        from consist.catalog.run_diff import diff_runs

        return diff_runs(self, a, b)

    def run_query(self, query: Any, params: Sequence[Any] | None = None) -> Any:
        """Run SQL (a string or a SQLAlchemy select) on the catalog; returns a Polars DataFrame.

        Registered schemas' views (``tracker.views``) are brought up to date first when
        the query names one.
        """
        from consist.catalog.sql import compile_sql, run_query

        if not self.schemas and self.view_state.views is None:
            return run_query(self, query, params)
        sql = query if isinstance(query, str) else compile_sql(query)[0] if hasattr(query, "compile") else None
        views = self.views
        return views.run(lambda: run_query(self, query, params, [view.name for view in views]), sql=sql)

    # -- cross-run data (see consist.views, consist.views.scans, consist.views.ingestion) -----------

    @property
    def views(self) -> Views:
        """Cross-run views of the registered schemas: ``tracker.views.Person`` (see :mod:`consist.views.namespace`)."""
        from consist.views.namespace import views_of

        return views_of(self.view_state)

    def scan(self, key: str | type, **filters: Any) -> Any:
        """A Polars LazyFrame over every artifact of ``key`` across runs, with provenance columns.

        ``scenario=``, ``year=``, ``run_id=``, ``iteration=``, ``artifact_id=`` (a value or
        a list) and facets (``mode="bus"``) choose runs before any file is opened; see
        :func:`consist.views.scans.scan_key`.
        """
        from consist.views.scans import scan_key

        return scan_key(self.view_state, key, **filters)

    def load_matrix(self, key: str, **filters: Any) -> Any:
        """Every Zarr artifact of ``key`` across runs as one lazy ``xarray.Dataset``.

        A new ``run`` dimension has the coordinates ``run_id``, ``scenario`` and ``year``;
        filters choose runs as for :meth:`scan`, and no array data is read (see
        :func:`consist.views.matrix.load_matrix`). Needs xarray (``consist[xarray]``).
        """
        from consist.views.matrix import load_matrix

        return load_matrix(self.view_state, key, **filters)

    def ingest(self, artifacts: Any) -> Any:
        """Copy artifacts' rows into the hot database (see :func:`consist.views.ingestion.ingest`)."""
        from consist.views.ingestion import ingest

        return ingest(self.view_state, artifacts)

    def compact(self) -> CompactionReport:
        """Fold fresh run records into a Parquet segment now (waits for a running compaction)."""
        return self.records.compact()

    def rebuild_catalog(self) -> RepairReport:
        """Repair damaged segments, then rebuild the DuckDB file at ``db_path`` from the records.

        A segment whose file does not match its checksum is rewritten from its intact
        twin and the fresh records, and moved to ``records/corrupt/`` (see
        :mod:`consist.catalog.repair`); the report says what was recovered and what was lost.
        """
        from consist.catalog.database import build_database
        from consist.catalog.repair import repair

        report = repair(self.layout)
        build_database(self.db_path, self.layout)
        if self.view_state.live_catalog is not None:
            self.view_state.live_catalog.refresh()
        return report

    def connect_adbc(self, *, read_only: bool = True) -> Any:
        """An ADBC DB-API connection to ``db_path`` (``pl.read_database(sql, conn)``)."""
        from consist.catalog.database import connect_adbc, ensure_database

        ensure_database(self.db_path, self.layout)
        return connect_adbc(self.db_path, read_only=read_only)
