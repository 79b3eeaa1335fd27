"""Hybrid cross-run views: ``tracker.views.Person`` over every artifact logged under a schema.

A registered schema (a SQLModel class, see :mod:`consist.view_spec` for which artifacts
it covers) becomes a DuckDB view, in the tracker's query connection, whose columns are
the schema's fields plus the provenance columns ``consist_run_id``,
``consist_scenario_id``, ``consist_year``, ``consist_artifact_id`` and
``consist_iteration``. The view unions every source of the schema's keys (see
:mod:`consist.sources`): ingested artifacts from their hot table, all others from their
Parquet or CSV file, never both.

How it stays fast and fresh
    Files are read through their provenance folders (:mod:`consist.farm`), grouped by
    identical column layout and partition set (a null provenance value has no folder):
    one ``read_parquet``/``read_csv`` per group over the explicit list of paths, with
    ``hive_partitioning``, so the provenance columns are per-file constants. A filter on
    them prunes files when the query is bound, before any is opened, and grouping by
    them costs what grouping by any column costs. A file without a folder (a value too
    long for a file name) is instead joined on DuckDB's ``file_index`` to a small
    provenance table ordered by scenario, year, iteration and run; DuckDB then prunes
    through a dynamic filter. Declared columns are cast to the
    declared types (integers to BIGINT); columns a file lacks are NULL. Before every
    query (``tracker.run_query``) a version token (the listing of the fresh records and
    segments that refreshing the catalog read, and the ingestion manifest) is compared
    with the one the views were built at; they are rebuilt only if it changed.

Each rebuild also hands a file-only twin of every view to :mod:`consist.stored_views`,
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

from consist import coltypes
from consist.errors import ConfigError, SchemaConflictError
from consist.farm import LinkFarm, hive_types_sql, partitions
from consist.hot import HOT_ALIAS
from consist.schema_capture import SchemaStore, csv_delimiter
from consist.sources import (
    PROVENANCE,
    Source,
    file_schemas,
    list_sources,
    present,
    unify,
)
from consist.stored_views import StoredView, StoredViews
from consist.view_spec import ViewSpec, ViewTable, sa_table, view_spec

if TYPE_CHECKING:
    from consist.hot import HotStore, IngestRecord
    from consist.schema_capture import FileSchema
    from consist.tracker import Tracker

log = logging.getLogger("consist.views")
T = TypeVar("T")
_COLD = ("parquet", "csv")


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


# -- building a view ---------------------------------------------------------------------


def _projection(name: str, want: str | None, have: dict[str, str]) -> str:
    ident = quote(name)
    if name not in have:
        return f"CAST(NULL AS {want or 'VARCHAR'}) AS {ident}"
    if want is None or have[name] == want:
        return f"d.{ident} AS {ident}"
    if {coltypes.family(have[name]), coltypes.family(want)} == {"timestamp", "timestamptz"}:
        # Naive timestamps are UTC (SQLModel's reading), whatever the session's time zone.
        return f"CAST(timezone('UTC', d.{ident}) AS {want}) AS {ident}"
    return f"CAST(d.{ident} AS {want}) AS {ident}"


def _reader(driver: str, files: list[str], schema: FileSchema, *, hive: tuple[str, ...] | None) -> str:
    """A reader of ``files``; ``hive`` names the partitions of paths through provenance folders (None: plain paths)."""
    listed = "[" + ", ".join(literal(f) for f in files) + "]"
    options = ", hive_partitioning = false"  # folders like ``exp=1`` above a file are not its columns
    if hive is not None:
        options = f", hive_partitioning = true, hive_types = {hive_types_sql(hive)}, hive_types_autocast = false"
    if driver == "parquet":
        return f"read_parquet({listed}{options})"
    # Types as captured: the view never re-sniffs, so it agrees with the schema record.
    # A column the sniffer saw no values in (type NULL) is read as text and cast like any other.
    types = {c.name: "VARCHAR" if coltypes.family(c.type) == "null" else c.type for c in schema.columns}
    columns = "{" + ", ".join(f"{literal(n)}: {literal(t)}" for n, t in types.items()) + "}"
    delim = literal(csv_delimiter(files[0]))
    return f"read_csv({listed}, header = true, delim = {delim}, columns = {columns}{options})"


def build_view_sql(
    spec: ViewSpec,
    sources: list[Source],
    hot: dict[str, IngestRecord],
    schemas: dict[str, FileSchema],
    prov_table: str,
    farm: LinkFarm | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The view's SQL and the rows of its provenance table, for these sources.

    Cold files are read through their provenance folders in ``farm`` (provenance as hive partition
    columns); files without a folder, and ingested rows, are joined to the provenance table.
    """
    what = f"view {spec.name!r}"
    declared = spec.declared
    hot_sources = [s for s in sources if s.artifact_id in hot]
    cold_sources = [s for s in sources if s.artifact_id not in hot and s.artifact_id in schemas]
    # One label per distinct column layout: checking 10,000 identical files is 10,000 times the same check.
    labels: dict[str, dict[str, str]] = {}
    seen: set[tuple[tuple[str, str], ...]] = set()
    for s in cold_sources:
        have = schemas[s.artifact_id].types
        layout = tuple(have.items())
        if layout not in seen:
            seen.add(layout)
            labels[s.uri] = have
    for s in hot_sources:
        record = hot[s.artifact_id]
        labels[f"ingested artifact {s.artifact_id} (hot table {record.table!r})"] = {c.name: c.type for c in record.columns}
    types = unify(labels, declared, what)

    prov: list[dict[str, Any]] = []
    branches: list[str] = []
    groups: dict[tuple[Any, ...], list[tuple[Source, str | None]]] = {}
    for s in cold_sources:
        schema = schemas[s.artifact_id]
        layout = tuple((c.name, c.type) for c in schema.columns)
        # A file with a column named like a provenance column cannot take partition columns.
        link = farm.link(s) if farm is not None and not set(schema.types) & set(PROVENANCE) else None
        hive = partitions(s) if link is not None else None
        delim = csv_delimiter(s.uri) if s.driver == "csv" else ""
        groups.setdefault((s.driver, delim, layout, hive), []).append((s, link))
    prov_cols = ", ".join(f"p.{name}" for name in PROVENANCE)
    for number, ((driver, _, _, hive), pairs) in enumerate(groups.items()):
        members = [s for s, _ in pairs]
        schema = schemas[members[0].artifact_id]
        have = schema.types
        cols = ", ".join(_projection(name, types.get(name), have) for name in declared)
        if hive is not None:
            links = [link for _, link in pairs if link is not None]
            provenance = ", ".join(f"d.{n}" if n in hive else f"CAST(NULL AS {t}) AS {n}" for n, t in PROVENANCE.items())
            branches.append(f"SELECT {cols}, {provenance} FROM {_reader(driver, links, schema, hive=hive)} AS d")
            continue
        files: dict[str, int] = {}
        for s in members:
            index = files.setdefault(s.artifact_id + "\x00" + s.uri, len(files))
            prov.append({"grp": number, "fi": index, **s.provenance()})
        paths = [key.split("\x00", 1)[1] for key in files]
        branches.append(
            f"SELECT {cols}, {prov_cols} FROM {_reader(driver, paths, schema, hive=None)} AS d "
            f"JOIN (SELECT * FROM {quote(prov_table)} WHERE grp = {number}) AS p ON p.fi = d.file_index"
        )
    by_table: dict[str, list[Source]] = {}
    for s in hot_sources:
        by_table.setdefault(hot[s.artifact_id].table, []).append(s)
    for number, (table, members) in enumerate(by_table.items(), start=len(groups)):
        for s in members:
            prov.append({"grp": number, "fi": None, **s.provenance()})
        have: dict[str, str] = {}
        for s in members:
            have.update({c.name: c.type for c in hot[s.artifact_id].columns})
        cols = ", ".join(_projection(name, types.get(name), have) for name in declared)
        branches.append(
            f"SELECT {cols}, {prov_cols} FROM {HOT_ALIAS}.main.{quote(table)} AS d "
            f"JOIN (SELECT * FROM {quote(prov_table)} WHERE grp = {number}) AS p "
            "ON p.consist_artifact_id = d.consist_artifact_id"
        )
    if not branches:
        cols = [f"CAST(NULL AS {types.get(n) or 'VARCHAR'}) AS {quote(n)}" for n in declared]
        cols += [f"CAST(NULL AS {t}) AS {n}" for n, t in PROVENANCE.items()]
        return f"SELECT {', '.join(cols)} WHERE false", prov
    return " UNION ALL BY NAME ".join(branches), prov


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

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker
        self._metadata: Any = None  # created with the first schema: no schema, no SQLAlchemy import
        self._tables: dict[str, ViewTable] = {}
        self._lock = threading.RLock()
        self._token: tuple[Any, ...] | None = None
        self._stale = False
        self._store = SchemaStore(tracker.layout)
        self._farm = LinkFarm(tracker.layout)
        self._stored = StoredViews(tracker.db_path)
        self._broken: dict[str, SchemaConflictError] = {}  # message -> error, of views that failed to build
        self.builds = 0
        for model in tracker.schemas:
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
            if model not in self._tracker.schemas:
                self._tracker.schemas.append(model)
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
        from consist.ingestion import hot_store

        return hot_store(self._tracker)

    def token(self) -> tuple[Any, ...]:
        """The catalog's version as the views see it: changes when a run or ingestion lands.

        Take it *after* refreshing the catalog connection (``catalog.held()``): it is the
        listing that refresh read, so the views built from that connection match it.
        """
        return (self._tracker.catalog.state, self._hot().names(), tuple(self._tables))

    @contextmanager
    def querying(self) -> Iterator[None]:
        """Hold the query connection with the views current (and hot data attached) for a block."""
        if not self._tables:
            yield
            return
        catalog = self._tracker.catalog
        hot = self._hot()
        with catalog.lock, hot.lock, catalog.held() as con, hot.attached(con):
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
                    _create_failing(con, view.spec, str(exc))
            self._stored.submit(stored)
            self._tracker.catalog.forget_plans()  # kept relations were bound to the old views
            self.builds += 1
            self._token = state
            self._stale = False

    def _build(self, con: Any, spec: ViewSpec, records: dict[str, IngestRecord]) -> StoredView:
        """Define ``spec``'s view on ``con``; return its file-only twin for the catalog file."""
        what = f"view {spec.name!r}"
        sources = list_sources(self._tracker, spec.keys, ignore_case=not spec.exact)
        hot = {s.artifact_id: records[s.artifact_id] for s in sources if s.artifact_id in records}
        cold = [s for s in sources if s.artifact_id not in hot]
        unreadable = sorted({f"{s.uri} ({s.driver})" for s in cold if s.driver not in _COLD})
        if unreadable:
            log.warning("%s: skipping artifacts DuckDB views cannot read (ingest them): %s", what, ", ".join(unreadable))
        cold = present([s for s in cold if s.driver in _COLD], what)
        schemas = file_schemas(self._store, cold, what)
        prov_table = f"_consist_prov_{spec.name}"
        sql, prov = build_view_sql(spec, sources, hot, schemas, prov_table, self._farm)
        _create(con, spec.name, sql, prov_table, prov)

        # The catalog file cannot reach the hot database: ingested artifacts come from their files there.
        ingested = [s for s in sources if s.artifact_id in hot and s.driver in _COLD and os.path.exists(s.uri)]
        schemas.update(file_schemas(self._store, ingested, what))
        readable = cold + ingested
        file_sql, file_prov = build_view_sql(spec, readable, {}, schemas, prov_table, self._farm)
        return StoredView(
            spec.name, file_sql, artifacts=len({s.artifact_id for s in readable}),
            omitted=len({s.artifact_id for s in sources if s.artifact_id in hot}) - len({s.artifact_id for s in ingested}),
            provenance=_prov_rows(file_prov) if file_prov else None, provenance_table=prov_table,
        )  # fmt: skip

    def named_in(self, sql: str) -> bool:
        """Whether ``sql`` may read a registered view (its name appears in the text)."""
        text = sql.lower()
        names = (view.name.lower() for view in self._tables.values())
        return any(name in text or name.replace('"', '""') in text for name in names)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the views last built are written to the catalog file at ``db_path``.

        They are written in the background after each build (see :mod:`consist.stored_views`);
        call this before another program reads them. Views not current are rebuilt first, so
        the file shows every run recorded so far even if no query was made since.
        """
        self._stale = True  # rebuilt even if no run landed: files may have been deleted since
        with self.querying():
            pass
        self._stored.flush(timeout)

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


def _prov_rows(prov: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    schema = pa.schema(
        [("grp", pa.int32()), ("fi", pa.uint64())]
        + [(n, pa.int64() if t == "BIGINT" else pa.string()) for n, t in PROVENANCE.items()]
    )
    return pa.Table.from_pylist(prov, schema=schema)


def _create(con: Any, name: str, sql: str, prov_table: str, prov: list[dict[str, Any]]) -> None:
    """(Re)define view ``name`` and its provenance table on ``con``."""
    con.register("_consist_prov_rows", _prov_rows(prov))
    try:
        con.execute(f"CREATE OR REPLACE TABLE {quote(prov_table)} AS SELECT * FROM _consist_prov_rows")
    finally:
        con.unregister("_consist_prov_rows")
    con.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS {sql}")


def _create_failing(con: Any, spec: ViewSpec, message: str) -> None:
    """Define ``spec``'s view (its declared columns) so that any query reading it fails with ``message``."""
    fail = f"error({literal(message)})"
    columns = {**{n: t or "VARCHAR" for n, t in spec.declared.items()}, **PROVENANCE}
    cols = ", ".join(f"CAST({fail} AS {t}) AS {quote(n)}" for n, t in columns.items())
    # The filter fails too, so a count(*) that reads no column still fails.
    con.execute(f"CREATE OR REPLACE VIEW {quote(spec.name)} AS SELECT {cols} FROM range(1) WHERE CAST({fail} AS BOOLEAN)")


def views_of(tracker: Tracker) -> Views:
    """The (cached) ``tracker.views`` namespace of ``tracker``."""
    found = tracker.__dict__.get("_consist_views")
    if found is None:
        found = tracker.__dict__["_consist_views"] = Views(tracker)
    return found
