"""Cross-run Polars scans: ``tracker.scan("persons", scenario="baseline")`` as one LazyFrame.

The frame is the vertical concatenation of lazy scans over every source (see
:mod:`consist.views.sources`), each row with the provenance columns ``consist_run_id``,
``consist_scenario_id``, ``consist_year``, ``consist_artifact_id`` and
``consist_iteration``. Parquet files are read through their provenance folders
(:mod:`consist.views.farm`), one ``scan_parquet`` per column layout with hive partitioning,
so the provenance comes from the paths; CSV files (Polars reads no partitions from
them) and files without a folder get the provenance values as literals. Filters given to
:func:`scan_key` choose the sources in the catalog, so the files of other runs are never
opened; each file's column types come from its captured schema (read once per content),
so building the frame opens no file that is already known either. Columns are the union
over the files (a column a file lacks is null there) with types combined by the rule of
:mod:`consist.artifacts.coltypes`; scanning a schema class instead of a key gives exactly its
declared columns and types, like its view.

Ingested artifacts come from their hot rows, through a Polars IO source that reads
the hot database only when the frame is collected, and never from their files too.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from consist.artifacts import coltypes
from consist.artifacts.schema_capture import SchemaStore, csv_delimiter
from consist.errors import ConfigError
from consist.user_warnings import user_stacklevel
from consist.views.farm import LinkFarm, foreign_partitions, partitions
from consist.views.hot import HOT_ALIAS, quote
from consist.views.ingestion import hot_store
from consist.views.sources import (
    FILTERS,
    PROVENANCE,
    Source,
    check_columns,
    file_schemas,
    list_sources,
    present,
    select_sources,
    unify,
)
from consist.views.folds import Served, fold_store, serve_sources

if TYPE_CHECKING:
    import polars as pl

    from consist.views.hot import HotStore, IngestRecord
    from consist.views.state import ViewState

_SCANNABLE = ("parquet", "csv")


def _dtype(sql_type: str | None) -> Any:
    import polars as pl

    if sql_type is None:
        return pl.String
    return coltypes.polars_dtype(sql_type) or pl.String


def provenance_schema() -> dict[str, Any]:
    """Polars dtypes of the provenance columns."""
    return {name: _dtype(sql_type) for name, sql_type in PROVENANCE.items()}


def scan_key(state: ViewState, key: str | type, **filters: Any) -> pl.LazyFrame:
    """Every artifact of ``key`` across runs as one LazyFrame with provenance columns.

    Parameters
    ----------
    state
        The views state of the tracker whose catalog is scanned.
    key
        An artifact key (matched exactly), or a registered-style schema class (its keys
        and declared column types, as for its view).
    **filters
        ``scenario`` (alias ``scenario_id``), ``year``, ``run_id``, ``iteration``,
        ``artifact_id``: a value or a list of values, applied to the catalog before any
        file is opened; any other keyword is a facet of the run (``mode="bus"``).

    Returns
    -------
    polars.LazyFrame
        Nothing is read until it is collected; Polars then reads only the columns and
        row groups the query needs.

    Raises
    ------
    SchemaConflictError
        Two files give a column types that do not combine (the message names both).

    Examples
    --------
    >>> lf = tracker.scan("persons", scenario=["baseline", "high_gas"])     # doctest: +SKIP
    >>> lf.group_by("consist_scenario_id", "consist_year").agg(pl.col("number_of_trips").mean()).collect()
    """
    import polars as pl

    provenance = {k: v for k, v in filters.items() if k in FILTERS}
    facets = {k: v for k, v in filters.items() if k not in FILTERS}
    declared: dict[str, str | None] | None = None
    if isinstance(key, type):
        from consist.views.spec import view_spec

        spec = view_spec(key)
        keys, exact, declared, what = spec.keys, spec.exact, spec.declared, f"scan of {key.__name__}"
    elif isinstance(key, str) and key:
        keys, exact, what = (key,), True, f"scan of {key!r}"
    else:
        raise ConfigError(f"tracker.scan takes an artifact key or a schema class; got {key!r}.")
    sources = select_sources(state, list_sources(state, keys, ignore_case=not exact), provenance, facets)
    if not sources and isinstance(key, str) and not filters:
        _hint_unknown(state, key)

    store = hot_store(state)
    records = store.records()
    hot = [s for s in sources if s.artifact_id in records]
    cold = [s for s in sources if s.artifact_id not in records]
    other = sorted({f"{s.uri} ({s.driver})" for s in cold if s.driver not in _SCANNABLE})
    if other:
        warnings.warn(f"{what}: skipping artifacts that are not Parquet or CSV: {', '.join(other)}", stacklevel=user_stacklevel())
    served, cold = _folded(state, [s for s in cold if s.driver in _SCANNABLE], what)
    cold = present(cold, what)
    schemas = file_schemas(_schema_store(state), cold, what)
    cold = [s for s in cold if s.artifact_id in schemas]

    labels: dict[str, dict[str, str]] = {s.uri: schemas[s.artifact_id].types for s in cold}
    for fold in served:
        labels[f"fold {fold.fold.path}"] = fold.fold.info.columns
    for s in hot:
        labels[f"ingested artifact {s.artifact_id} (hot table {records[s.artifact_id].table!r})"] = {
            c.name: c.type for c in records[s.artifact_id].columns
        }
    types = unify(labels, declared, what)
    check_columns(types, what)
    columns = {name: _dtype(sql_type) for name, sql_type in types.items()}

    lits = _Literals()
    farm = _farm(state)
    groups: dict[tuple[Any, ...], list[str]] = {}
    frames = []
    for s in cold:
        link = farm.link(s) if s.driver == "parquet" else None
        if link is None:
            frames.append(_cold_frame(s, schemas[s.artifact_id].types, columns, lits))
        else:
            groups.setdefault((tuple(schemas[s.artifact_id].types.items()), partitions(s)), []).append(link)
    foreign = foreign_partitions(farm.root)
    for (layout, hive), links in groups.items():
        frames.append(_linked_frame(links, dict(layout), hive, foreign, columns, lits))
    frames.extend(_fold_frame(fold, columns, lits) for fold in served)
    if hot:
        frames.append(_hot_frame(store, hot, records, columns))
    if not frames:
        return pl.LazyFrame(schema={**columns, **provenance_schema()})
    return pl.concat(frames, how="vertical", rechunk=False)


def _farm(state: ViewState) -> LinkFarm:
    if state.link_farm is None:
        state.link_farm = LinkFarm(state.layout)
    return state.link_farm


def _linked_frame(
    links: list[str],
    have: dict[str, str],
    hive: tuple[str, ...],
    foreign: tuple[str, ...],
    columns: dict[str, Any],
    lits: _Literals,
) -> pl.LazyFrame:
    """One scan over linked Parquet files of one column layout and partition set: provenance
    from the link paths (a partition the paths lack is null; ``foreign`` ones are dropped)."""
    import polars as pl

    schema = {name: pl.String for name in foreign} | {n: lits.dtypes[n] for n in hive}
    lf = pl.scan_parquet(links, hive_partitioning=True, hive_schema=schema, glob=False)
    exprs = [lits.column(name, dtype, have.get(name)) for name, dtype in columns.items()]
    provenance = [name if name in hive else lits.lit(name, None, lits.dtypes[name]) for name in PROVENANCE]
    return lf.select(*exprs, *provenance)


def _folded(state: ViewState, sources: list[Source], what: str) -> tuple[list[Served], list[Source]]:
    """Folds serving some of ``sources`` (see :mod:`consist.views.folds`), and the files to read."""
    return serve_sources(fold_store(state), sources, _schema_store(state), what)


def _fold_frame(served: Served, columns: dict[str, Any], lits: _Literals) -> pl.LazyFrame:
    """The rows of the sources one fold serves (all of them, or those chosen by pairs)."""
    import polars as pl

    lf = pl.scan_parquet(served.fold.path, hive_partitioning=False, glob=False)
    if served.hide:
        chosen = served.shown if len(served.shown) <= len(served.hide) else None
        by_runs = {run for _, run in served.shown}
        pair = pl.concat_str([pl.col("consist_run_id"), pl.lit("/"), pl.col("consist_artifact_id")])
        lf = lf.filter(pl.col("consist_run_id").is_in(list(by_runs)))  # prunes row groups by their statistics
        if chosen is not None:
            lf = lf.filter(pair.is_in([f"{r}/{a}" for a, r in chosen]))
        else:
            lf = lf.filter(~pair.is_in([f"{r}/{a}" for a, r in served.hide]))
    have = served.fold.info.columns
    exprs = [lits.column(name, dtype, have.get(name)) for name, dtype in columns.items()]
    return lf.select(*exprs, *(pl.col(n).cast(lits.dtypes[n]) for n in PROVENANCE))


def _schema_store(state: ViewState) -> SchemaStore:
    if state.schema_store is None:
        state.schema_store = SchemaStore(state.layout)
    return state.schema_store


def _hint_unknown(state: ViewState, key: str) -> None:
    from consist.views.sources import known_keys

    keys = known_keys(state)
    if key in keys:
        return
    close = difflib.get_close_matches(key, keys, n=3)
    hint = f" Did you mean {', '.join(repr(k) for k in close)}?" if close else ""
    warnings.warn(f"tracker.scan({key!r}): no run has an output with that key.{hint}", stacklevel=user_stacklevel())


class _Literals:
    """Expressions reused across the per-file frames (building one costs microseconds each)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], Any] = {}
        self.dtypes = provenance_schema()

    def lit(self, name: str, value: Any, dtype: Any) -> Any:
        import polars as pl

        key = ("lit", name, value)
        found = self._cache.get(key)
        if found is None:
            found = pl.lit(value) if isinstance(value, str) else pl.lit(value, dtype)
            found = self._cache[key] = found.alias(name)
        return found

    def column(self, name: str, dtype: Any, have: str | None) -> Any:
        import polars as pl

        key = ("col", name, dtype, have)
        found = self._cache.get(key)
        if found is None:
            if have is None:
                found = pl.lit(None, dtype).alias(name)
            elif coltypes.polars_dtype(have) == dtype:
                found = pl.col(name)
            else:
                found = pl.col(name).cast(dtype).alias(name)
            self._cache[key] = found
        return found


def _cold_frame(source: Source, have: dict[str, str], columns: dict[str, Any], lits: _Literals) -> pl.LazyFrame:
    import polars as pl

    if source.driver == "parquet":
        lf = pl.scan_parquet(source.uri, glob=False)
    else:
        # A column the sniffer saw no values in (type NULL) is read as text, then cast.
        overrides = {n: pl.String if coltypes.family(t) == "null" else d
                     for n, t in have.items() if (d := coltypes.polars_dtype(t)) is not None}  # fmt: skip
        lf = pl.scan_csv(source.uri, separator=csv_delimiter(source.uri), schema_overrides=overrides, glob=False)
    exprs = [lits.column(name, dtype, have.get(name)) for name, dtype in columns.items()]
    exprs += [lits.lit(name, value, lits.dtypes[name]) for name, value in source.provenance().items()]
    return lf.select(exprs)


def _hot_frame(
    store: HotStore, sources: list[Source], records: dict[str, IngestRecord], columns: dict[str, Any]
) -> pl.LazyFrame:
    """One lazy frame over the hot rows of ``sources``, read only when collected."""
    import polars as pl
    from polars.io.plugins import register_io_source

    schema = {**columns, **provenance_schema()}
    prov = [s.provenance() for s in sources]
    by_table: dict[str, list[str]] = {}
    for s in sources:
        by_table.setdefault(records[s.artifact_id].table, []).append(s.artifact_id)

    def read(with_columns: list[str] | None, predicate: Any, n_rows: int | None, batch_size: int | None) -> Iterator[pl.DataFrame]:
        wanted = with_columns or list(schema)
        left = n_rows
        for table in _read_hot(store, by_table, prov, wanted):
            for batch in table.to_batches(batch_size or 100_000):
                df = pl.from_arrow(batch).select(pl.col(n).cast(schema[n]) for n in wanted)
                if predicate is not None:
                    df = df.filter(predicate)
                if left is not None:
                    df = df.head(left)
                    left -= df.height
                yield df
                if left is not None and left <= 0:
                    return

    return register_io_source(read, schema=schema, explain_name="consist hot rows")


def _read_hot(store: HotStore, by_table: dict[str, list[str]], prov: list[dict[str, Any]], wanted: list[str]) -> list[Any]:
    """The hot rows of each table's artifacts (``wanted`` columns), as Arrow tables.

    Read completely while the hot database is attached, then detached: Polars may resume
    the IO source's generator on another thread, and the attachment (and its lock) must
    not outlive one call.
    """
    import duckdb
    import pyarrow as pa

    out = []
    con = duckdb.connect(":memory:")
    try:
        con.register("_consist_prov", pa.Table.from_pylist(prov))
        with store.attached(con):
            for table, ids in by_table.items():
                existing = {r[0] for r in con.execute(f"DESCRIBE {HOT_ALIAS}.main.{quote(table)}").fetchall()}
                cols = []
                for name in wanted:
                    if name in PROVENANCE:
                        cols.append(f"p.{name}")
                    elif name in existing:
                        cols.append(f"d.{quote(name)}")
                    else:
                        cols.append(f"NULL AS {quote(name)}")
                marks = ", ".join("?" for _ in ids)
                out.append(con.sql(
                    f"SELECT {', '.join(cols)} FROM {HOT_ALIAS}.main.{quote(table)} AS d JOIN _consist_prov AS p "
                    f"ON p.consist_artifact_id = d.consist_artifact_id WHERE d.consist_artifact_id IN ({marks}) "
                    "ORDER BY d.rowid",
                    params=ids,
                ).to_arrow_table())  # fmt: skip
    finally:
        con.close()
    return out
