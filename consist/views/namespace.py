"""Hybrid cross-run views: ``tracker.views.Person`` over every artifact logged under a schema.

A registered schema (a SQLModel class, see :mod:`consist.views.spec` for which artifacts
it covers) becomes a DuckDB view, in the tracker's query connection, whose columns are
the schema's fields plus the provenance columns ``consist_run_id``,
``consist_scenario_id``, ``consist_year``, ``consist_artifact_id`` and
``consist_iteration``. The view unions every source of the schema's keys (see
:mod:`consist.views.sources`): ingested artifacts from their hot table, all others from their
Parquet or CSV file, never both.

How it stays fast and fresh
    Files are read through their provenance folders (:mod:`consist.views.farm`), grouped by
    identical column layout and partition set (a null provenance value has no folder):
    one ``read_parquet``/``read_csv`` per group over the explicit list of paths, with
    ``hive_partitioning``, so the provenance columns are per-file constants. A filter on
    them prunes files when the query is bound, before any is opened, and grouping by
    them costs what grouping by any column costs. A file without a folder (a value too
    long for a file name) is instead joined on DuckDB's ``file_index`` to a small
    provenance table ordered by scenario, year, iteration and run; DuckDB then prunes
    through a dynamic filter. Declared columns are cast to the
    declared types (integers to BIGINT); columns a file lacks are NULL. Before every
    query (``tracker.run_query``) a version token (the names of the fresh records and
    segments, each record journal's size, and the ingestion manifest) is compared with the one the views were built
    at; they are rebuilt only if it changed. A query of the views alone never loads the
    run records into the connection when the sources' listing saved by an earlier
    process still holds (:mod:`consist.views.saved_sources`).

Each rebuild also hands a file-only twin of every view to :mod:`consist.views.stored`,
which writes it into the catalog file at ``db_path`` in the background, for DuckDB
clients outside consist.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from consist.artifacts.schema_capture import SchemaStore
from consist.errors import ConfigError, SchemaConflictError
from consist.views import saved_sources
from consist.views.columns import warn_unmatched
from consist.views.farm import LinkFarm
from consist.views.folds import fold_store, serve_sources
from consist.views.sources import catalog_token, file_schemas, list_sources, present
from consist.views.spec import ViewSpec, ViewTable, sa_table, view_spec
from consist.views.sql import build_view_sql, create_failing_view, create_view, prov_rows
from consist.views.stored import StoredView, StoredViews

if TYPE_CHECKING:
    from consist.views.hot import HotStore, IngestRecord
    from consist.views.state import ViewState

log = logging.getLogger("consist.views")
T = TypeVar("T")
_COLD = ("parquet", "csv")


# -- the tracker.views namespace ----------------------------------------------------------


class Views:
    """``tracker.views``: one :class:`ViewTable` per registered schema, by class name.

    ``tracker.views.Person`` is the view of schema ``Person``; ``register(Model)`` adds a
    schema later. The DuckDB views are (re)built before each ``tracker.run_query`` when
    the catalog changed since they were last built (see the module docstring).

    Attributes
    ----------
    builds
        How many times the views were (re)built in this process (for tests and tuning).
    """

    def __init__(self, state: ViewState) -> None:
        self._state = state
        self._metadata: Any = None  # created with the first schema: no schema, no SQLAlchemy import
        self._tables: dict[str, ViewTable] = {}
        self._lock = threading.RLock()
        self._token: tuple[Any, ...] | None = None
        self._stale = False
        self._store = SchemaStore(state.layout)
        self._farm = LinkFarm(state.layout)
        self._folds = fold_store(state)
        self._stored = StoredViews(state.db_path, state.layout)
        self._broken: dict[str, SchemaConflictError] = {}  # message -> error, of views that failed to build
        self.builds = 0
        for model in state.schemas:
            self._add(model)

    def _add(self, model: type) -> ViewTable:
        spec = view_spec(model)
        for existing in self._tables.values():
            if existing.spec.model is model:
                return existing
            if existing.name.lower() == spec.name.lower():
                raise ConfigError(
                    f"schemas {existing.spec.model.__name__} and {model.__name__} both have table name "
                    f"{spec.name!r}; give one a different __tablename__."
                )
        if self._metadata is None:
            import sqlalchemy as sa

            self._metadata = sa.MetaData()
        view = ViewTable(spec, sa_table(spec, self._metadata))
        self._tables[model.__name__] = view
        self._token = None
        return view

    def register(self, model: type) -> ViewTable:
        """Add a schema (a SQLModel class) and return its view.

        Examples
        --------
        >>> VPerson = tracker.views.register(Person)                # doctest: +SKIP
        """
        with self._lock:
            view = self._add(model)
            if model not in self._state.schemas:
                self._state.schemas.append(model)
            return view

    def __getattr__(self, name: str) -> ViewTable:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> ViewTable:
        tables = self.__dict__["_tables"]
        found = tables.get(name) or next((v for v in tables.values() if v.name == name), None)
        if found is None:
            known = ", ".join(sorted(tables)) or "none"
            raise AttributeError(
                f"no view named {name!r}: registered schemas are {known}. Register one with "
                f"Tracker(..., schemas=[{name}]) or tracker.views.register({name})."
            )
        return found

    def __iter__(self) -> Iterator[ViewTable]:
        return iter(list(self._tables.values()))

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._tables})

    def __repr__(self) -> str:
        return f"<consist views: {', '.join(sorted(self._tables)) or 'none registered'}>"

    # -- freshness ------------------------------------------------------------------------

    def _hot(self) -> HotStore:
        from consist.views.ingestion import hot_store

        return hot_store(self._state)

    def token(self) -> tuple[Any, ...]:
        """The catalog's version as the views see it: changes when a run or ingestion lands.

        Take it *before* building the views (a few ``listdir``): what they are built from is
        then at least as new as the token.
        """
        return (catalog_token(self._state), self._hot().names(), tuple(self._tables))

    @contextmanager
    def querying(self) -> Iterator[None]:
        """Hold the query connection with the views current (and hot data attached) for a block."""
        if not self._tables:
            yield
            return
        catalog = self._state.catalog
        hot = self._hot()
        # The records are loaded only if the query names them or the sources must be read.
        with catalog.lock, hot.lock, catalog.held(records=False) as con, hot.attached(con):
            self.sync(con, self.token())
            yield

    def sync(self, con: Any, token: tuple[Any, ...]) -> None:
        """Rebuild every view on ``con`` unless they were built at ``token`` (and still stand)."""
        with self._lock:
            state = (id(con), token)
            if state == self._token and not self._stale:
                self._stored.resubmit_if_replaced()
                return
            hot = self._hot()
            records = hot.records()
            stored = []
            self._broken = {}
            for view in self._tables.values():
                try:
                    stored.append(self._build(con, view.spec, records))
                except SchemaConflictError as exc:
                    # One schema's bad files must not take the catalog and the other views down with it.
                    self._broken[str(exc)] = exc
                    create_failing_view(con, view.spec, str(exc))
            self._stored.submit(stored)
            self._state.catalog.forget_plans()  # kept relations were bound to the old views
            self.builds += 1
            self._token = state
            self._stale = False

    def _build(self, con: Any, spec: ViewSpec, records: dict[str, IngestRecord]) -> StoredView:
        """Define ``spec``'s view on ``con``; return its file-only twin for the catalog file."""
        what = f"view {spec.name!r}"
        sources = list_sources(self._state, spec.keys, ignore_case=not spec.exact)
        hot = {s.artifact_id: records[s.artifact_id] for s in sources if s.artifact_id in records}
        cold = [s for s in sources if s.artifact_id not in hot]
        unreadable = sorted({f"{s.uri} ({s.driver})" for s in cold if s.driver not in _COLD})
        if unreadable:
            log.warning("%s: skipping artifacts DuckDB views cannot read (ingest them): %s", what, ", ".join(unreadable))
        served, cold = serve_sources(self._folds, [s for s in cold if s.driver in _COLD], self._store, what)
        cold = present(cold, what)
        schemas = file_schemas(self._store, cold, what)
        prov_table = f"_consist_prov_{spec.name}"
        read = {id(s) for s in cold}
        sources = [s for s in sources if s.artifact_id in hot or id(s) in read]  # folded ones come from their fold
        sql, prov = build_view_sql(spec, sources, hot, schemas, prov_table, self._farm, served)
        create_view(con, spec.name, sql, prov_table, prov)
        layouts = [schemas[s.artifact_id].types for s in cold if s.artifact_id in schemas]
        layouts += [{c.name: c.type for c in record.columns} for record in hot.values()]
        warn_unmatched(spec.name, spec.declared, layouts, len(layouts))

        # The catalog file cannot reach the hot database: ingested artifacts come from their files there.
        ingested = [s for s in sources if s.artifact_id in hot and s.driver in _COLD and os.path.exists(s.uri)]
        schemas.update(file_schemas(self._store, ingested, what))
        readable = cold + ingested
        file_sql, file_prov = build_view_sql(spec, readable, {}, schemas, prov_table, self._farm, served)
        return StoredView(
            spec.name, file_sql, artifacts=len({s.artifact_id for s in readable}) + sum(f.used for f in served),
            omitted=len({s.artifact_id for s in sources if s.artifact_id in hot}) - len({s.artifact_id for s in ingested}),
            provenance=prov_rows(file_prov) if file_prov else None, provenance_table=prov_table,
        )  # fmt: skip

    def named_in(self, sql: str) -> bool:
        """Whether ``sql`` may read a registered view (its name appears in the text)."""
        text = sql.lower()
        names = (view.name.lower() for view in self._tables.values())
        return any(name in text or name.replace('"', '""') in text for name in names)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the views last built are written to the catalog file at ``db_path``.

        They are written in the background after each build (see :mod:`consist.views.stored`),
        as are the source listings saved for the next process (:mod:`consist.views.saved_sources`);
        call this before another program reads them. Views not current are rebuilt first, so
        the file shows every run recorded so far even if no query was made since.
        """
        self._stale = True  # rebuilt even if no run landed: files may have been deleted since
        with self.querying():
            pass
        self._stored.flush(timeout)
        saved_sources.flush(timeout)

    def run(self, query: Callable[[], T], sql: str | None = None) -> T:
        """Call ``query`` with the views current; on a file that vanished, rebuild once and retry.

        When its ``sql`` is given and names no view, the views are left as they are: a
        query of ``runs`` or a facet pivot does not wait for them to be rebuilt.
        """
        import duckdb

        if sql is not None and not self.named_in(sql):
            return query()
        try:
            try:
                with self.querying():
                    return query()
            except duckdb.IOException:
                if not self._tables:
                    raise
                self._stale = True  # a cold file went missing since the views were built
                with self.querying():
                    return query()
        except duckdb.InvalidInputException as exc:
            # A view whose files conflict raises its SchemaConflictError only when a query reads it.
            found = next((e for msg, e in self._broken.items() if msg in str(exc)), None)
            if found is None:
                raise
            raise SchemaConflictError(str(found)) from None


def views_of(state: ViewState) -> Views:
    """The ``tracker.views`` namespace of the tracker whose views state is ``state`` (created once)."""
    if state.views is None:
        state.views = Views(state)
    return state.views
