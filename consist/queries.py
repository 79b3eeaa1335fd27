"""Catalog queries: find runs, their artifacts and lineage; facet pivots; SQL.

Every value reaches SQL as a bound parameter and every caller-chosen name (a facet key
becoming a pivot column) as a quoted identifier; column names in filters come from a
fixed list. Lookups by run id bypass DuckDB (one file read, or a cached id set and one
pruned Parquet read).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consist.database import PUBLIC_VIEWS
from consist.errors import CatalogError, ConfigError, RunNotFoundError
from consist.models import Artifact, Run, RunResult
from consist.reader import INDEX_COLUMNS

if TYPE_CHECKING:
    from consist.tracker import Tracker

RUN_FILTERS = (
    "id", "name", "model", "status", "kind", "parent_id", "year", "iteration", "signature", "code_hash",
    "config_hash", "inputs_hash", "cache_hit", "reused_run_id", "cache_mode", "host",
)  # fmt: skip
_ALIASES = {"scenario_id": "parent_id", "run_id": "id"}
VALUE_COLUMNS = ("value_num", "value_str", "value_bool", "value_json")


# -- finding runs --------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A filter value as builtins: numpy scalars, arrays, ranges and Series become numbers and lists.

    DuckDB binds only builtins, and a loop over ``np.arange(...)`` years is common.
    """
    if value is None or isinstance(value, (str, bytes, bool, int, float)):
        return value
    if isinstance(value, (list, tuple, set, frozenset, range)):
        return [_plain(v) for v in value]
    tolist = getattr(value, "tolist", None) or getattr(value, "to_list", None)
    if callable(tolist):  # numpy scalars and arrays, pandas and Polars Series
        out = tolist()
        return [_plain(v) for v in out] if isinstance(out, list) else out
    return value


def _condition(column: str, value: Any, params: list[Any]) -> str:
    # ``column`` is from a fixed list (or a fixed expression); values are bound.
    if value is None:
        return f"{column} IS NULL"
    if isinstance(value, (list, tuple, set, frozenset)):
        values = list(value)
        if not values:
            return "false"
        params.extend(values)
        return f"{column} IN ({', '.join('?' for _ in values)})"
    params.append(value)
    return f"{column} = ?"


def _facet_condition(key: str, value: Any, params: list[Any]) -> str:
    if isinstance(value, bool):
        column, cast = "value_bool", "?"
    elif isinstance(value, (int, float)):
        column, cast = "value_num", "CAST(? AS DOUBLE)"
    elif isinstance(value, str):
        column, cast = "value_str", "?"
    else:
        raise ConfigError(f"facet filter {key!r}={value!r}: expected a bool, number or string value.")
    params.extend([key, value])
    return f"id IN (SELECT run_id FROM facets WHERE key = ? AND {column} = {cast})"


def _where(filters: Mapping[str, Any], facets: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    params: list[Any] = []
    parts = []
    for raw, value in filters.items():
        name = _ALIASES.get(raw, raw)
        if name not in RUN_FILTERS:
            close = difflib.get_close_matches(raw, [*RUN_FILTERS, *_ALIASES], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"cannot filter runs by {raw!r}: not a run field.{hint} "
                f"Run fields: {', '.join(RUN_FILTERS)}; filter on facets with facets={{...}}."
            )
        parts.append(_condition(name, value, params))
    for key, value in (facets or {}).items():
        parts.append(_facet_condition(str(key), value, params))
    return " AND ".join(parts), params


def _index_value(run: Run, index_by: str) -> Any:
    if index_by.startswith("facet."):
        return run.facets.get(index_by[len("facet.") :])
    return getattr(run, _ALIASES.get(index_by, index_by))


def find_runs(
    tracker: Tracker,
    *,
    index_by: str | None = None,
    facets: Mapping[str, Any] | None = None,
    status: str | Sequence[str] | None = "completed",
    limit: int | None = None,
    tags: str | Sequence[str] | None = None,
    **filters: Any,
) -> list[Run] | dict[Any, Run]:
    """Runs matching every filter, oldest first, or a dict keyed by ``index_by``.

    Parameters
    ----------
    tracker
        The tracker whose catalog is searched.
    index_by
        ``None`` for a list; a run field (``"year"``, ``"iteration"``, ``"parent_id"``...)
        or ``"facet.<key>"`` for a dict by that value. When several runs share a value,
        the most recently finished wins; runs without a value are left out.
    facets
        ``{key: value}`` facet equalities (bool, number or string values).
    status
        Only runs with this status (default ``"completed"``); ``None`` for any.
    limit
        At most this many runs (the most recent ones).
    tags
        Only runs carrying this tag (or every one of these tags).
    **filters
        Run fields to match: a value, ``None`` (missing), or a list of values.
        ``scenario_id`` is an alias of ``parent_id``, ``run_id`` of ``id``.

    Raises
    ------
    ConfigError
        A filter names something that is not a run field.

    Examples
    --------
    >>> by_year = consist.find_runs(tracker=tracker, parent_id="baseline",  # doctest: +SKIP
    ...                             model="simulate", index_by="year")
    >>> by_year[2030].id
    """
    filters = {key: _plain(value) for key, value in filters.items()}
    facets = {key: _plain(value) for key, value in (facets or {}).items()}
    if status is not None:
        filters = {**filters, "status": status}
    known = RUN_FILTERS + ("started_at", "ended_at")
    if index_by is not None and not index_by.startswith("facet.") and _ALIASES.get(index_by, index_by) not in known:
        raise ConfigError(f"index_by={index_by!r}: expected a run field (such as 'year') or 'facet.<key>'.")
    where, params = _where(filters, facets)
    indexed = not facets and all(_ALIASES.get(k, k) in INDEX_COLUMNS for k in filters)
    wanted_tags = {tags} if isinstance(tags, str) else set(tags or ())
    order = "ended_at, id"
    if limit is not None and not wanted_tags:
        order = f"ended_at DESC, id DESC LIMIT {int(limit)}"
    runs = tracker.catalog.runs(where, params, order, indexed=indexed)
    if wanted_tags:
        # Tags are a list per run: matched here rather than in SQL, after the indexed filters.
        runs = [run for run in runs if wanted_tags.issubset(run.tags)]
        if limit is not None:
            runs = runs[len(runs) - int(limit):] if int(limit) else []
    elif limit is not None:
        runs.reverse()
    if index_by is None:
        return runs
    out: dict[Any, Run] = {}
    for run in runs:
        value = _index_value(run, index_by)
        if value is not None:
            out[value] = run
    return out


def find_run(tracker: Tracker, *, facets: Mapping[str, Any] | None = None, **filters: Any) -> Run:
    """The most recently finished run matching every filter (see :func:`find_runs`).

    Raises
    ------
    RunNotFoundError
        No run matches; the message lists values that do exist for each filter.
    """
    filters = {key: _plain(value) for key, value in filters.items()}
    facets = {key: _plain(value) for key, value in (facets or {}).items()}
    run_id = filters.get("id", filters.get("run_id"))
    if run_id is not None and len(filters) == 1 and not facets:
        return get_run(tracker, run_id)
    runs = find_runs(tracker, facets=facets, limit=1, **filters)
    if runs:
        return runs[-1]
    raise RunNotFoundError(_not_found_message(tracker, filters, facets))


def _not_found_message(tracker: Tracker, filters: Mapping[str, Any], facets: Mapping[str, Any] | None) -> str:
    status = filters.get("status", "completed")
    shown = {**filters, "status": status} if "status" not in filters else dict(filters)
    described = ", ".join(f"{k}={v!r}" for k, v in shown.items()) or "no filters"
    hints = []
    for key in filters:
        if key in ("id", "run_id") or isinstance(filters[key], (list, tuple, set, frozenset)):
            continue
        others = {k: v for k, v in shown.items() if k != key}
        where, params = _where(others, facets)
        column = _ALIASES.get(key, key)
        sql = f"SELECT DISTINCT {column} AS v FROM runs" + (f" WHERE {where}" if where else "") + " ORDER BY 1 LIMIT 8"
        values = tracker.catalog.arrow(sql, params).column("v").to_pylist()
        if values:
            hints.append(f"{key} in {values}")
    hint = f" With the other filters, existing values are: {'; '.join(hints)}." if hints else ""
    return f"No run matches {described}.{hint} Pass status=None to include failed runs."


def _id_of(run: Any) -> str:
    """A run id from an id, a :class:`Run` or a :class:`~consist.models.RunResult`."""
    if isinstance(run, Run):
        return run.id
    if isinstance(run, RunResult):
        return run.run.id
    return str(run)


def get_run(tracker: Tracker, run_id: str | Run | RunResult) -> Run:
    """The run recorded under ``run_id`` (no DuckDB: its file, else its segment).

    ``run_id`` may also be a :class:`Run` or a :class:`~consist.models.RunResult`.

    Raises
    ------
    RunNotFoundError
        No run has that id.
    """
    run_id = _id_of(run_id)
    run = tracker.records.get(run_id)
    if run is None:
        raise RunNotFoundError(
            f"No run has id {run_id!r}. Ids are printed in RunResult reprs (result.run.id); "
            "find runs by fields with consist.find_runs(...)."
        )
    return run


@dataclass(frozen=True)
class RunArtifacts:
    """A run's input and output artifacts, each by key."""

    run_id: str
    inputs: dict[str, Artifact]
    outputs: dict[str, Artifact]

    def __repr__(self) -> str:
        return f"RunArtifacts(run_id={self.run_id!r}, inputs={sorted(self.inputs)}, outputs={sorted(self.outputs)})"


def get_artifacts_for_run(tracker: Tracker, run_id: str | Run | RunResult) -> RunArtifacts:
    """The artifacts a run read (``.inputs``) and wrote (``.outputs``), by key.

    ``run_id`` is a run id (``run.id``), or the :class:`Run` or
    :class:`~consist.models.RunResult` itself.
    """
    run = get_run(tracker, run_id)
    return RunArtifacts(run.id, run.input_map, run.output_map)


# -- facet pivots and SQL ------------------------------------------------------------


def pivot_facets(
    namespace: str | None = None,
    keys: Iterable[str] = (),
    value_columns: Mapping[str, str] | None = None,
) -> Any:
    """A SQLAlchemy subquery with one row per run and one column per facet key.

    Parameters
    ----------
    namespace
        The step whose runs are pivoted: runs whose ``name`` or ``model`` equals it.
        ``None`` pivots every run that has one of the keys.
    keys
        Facet keys (config leaves are flattened with dots: ``"solver.tol"``); each
        becomes a column of that name.
    value_columns
        ``{key: column}`` where column is ``"value_num"`` (the default), ``"value_str"``,
        ``"value_bool"`` or ``"value_json"``.

    Returns
    -------
    sqlalchemy.Subquery
        With ``.c.run_id`` and ``.c.<key>``; use it in ``select(...)`` and pass that to
        :func:`run_query`. Cache hits are runs too: join ``runs`` to filter them.

    Examples
    --------
    >>> params = consist.pivot_facets(namespace="simulate", keys=["alpha", "mode"],  # doctest: +SKIP
    ...                               value_columns={"mode": "value_str"})
    >>> consist.run_query(select(params.c.run_id, params.c.alpha), tracker=tracker)
    """
    from sqlalchemy import column, func, or_, select, table

    keys = list(dict.fromkeys(keys))
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ConfigError(f"pivot_facets needs keys=[...] of non-empty strings; got {keys!r}.")
    value_columns = dict(value_columns or {})
    for key, col in value_columns.items():
        if col not in VALUE_COLUMNS:
            raise ConfigError(f"value_columns[{key!r}]={col!r}; expected one of {', '.join(VALUE_COLUMNS)}.")
        if key not in keys:
            raise ConfigError(f"value_columns names {key!r}, which is not one of keys={keys!r}.")
    if "run_id" in keys:
        raise ConfigError("a facet key cannot be named 'run_id' in a pivot: that column holds the run id.")
    facets = table("facets", *(column(c) for c in ("run_id", "key", *VALUE_COLUMNS)))
    cols = [facets.c.run_id]
    for key in keys:
        value = facets.c[value_columns.get(key, "value_num")]
        cols.append(func.max(value).filter(facets.c.key == key).label(key))
    query = select(*cols).where(facets.c.key.in_(keys))
    if namespace is not None:
        runs = table("runs", column("id"), column("name"), column("model"))
        owners = select(runs.c.id).where(or_(runs.c.name == namespace, runs.c.model == namespace))
        query = query.where(facets.c.run_id.in_(owners))
    return query.group_by(facets.c.run_id).subquery("facet_pivot")


_COMPILED: dict[Any, Any] = {}  # statement structure (SQLAlchemy cache key) -> compiled form
_COMPILED_MAX = 256
_DIALECT: list[Any] = []


def compile_sql(query: Any) -> tuple[str, list[Any]]:
    """SQL text and positional parameters for a SQLAlchemy/SQLModel statement.

    The compiled form is cached by the statement's structure (SQLAlchemy's cache key,
    which leaves out the values), so a query built again with the same shape is not
    compiled again; the values always come back as parameters.
    """
    if not _DIALECT:
        from sqlalchemy.dialects import postgresql

        # DuckDB speaks PostgreSQL's dialect closely enough (duckdb_engine builds on it).
        _DIALECT.append(postgresql.dialect(paramstyle="qmark"))
    dialect = _DIALECT[0]
    key = query._generate_cache_key() if hasattr(query, "_generate_cache_key") else None
    if key is None:  # a statement SQLAlchemy cannot cache
        compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        return compiled.string, [compiled.params[n] for n in compiled.positiontup or []]
    compiled = _COMPILED.get(key.key)
    if compiled is None:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        compiled = _COMPILED[key.key] = query.compile(dialect=dialect, cache_key=key)
    # This statement's values, placed in the cached form; IN lists expanded to one ? each.
    state = compiled.construct_expanded_state(compiled.construct_params(extracted_parameters=key.bindparams))
    return state.statement, [state.parameters[n] for n in state.positiontup or []]


def run_query(tracker: Tracker, query: Any, params: Sequence[Any] | None = None) -> Any:
    """Run a SQL string or a SQLAlchemy/SQLModel ``select`` on the catalog.

    Returns
    -------
    polars.DataFrame
        Call ``.to_pandas()`` for pandas.
    """
    import polars as pl

    bound: Any
    if isinstance(query, str):
        if isinstance(params, (str, bytes)):
            raise ConfigError(
                f"params= takes a list of values, one per ? placeholder in the SQL, or a dict for $name "
                f"placeholders; got {params!r}. Write `WHERE year = ?` with params=[2030]."
            )
        if isinstance(params, Mapping):
            sql, bound = query, {str(name): _plain(value) for name, value in params.items()}
        else:
            sql, bound = query, [_plain(value) for value in params or ()]
    elif hasattr(query, "compile"):
        if params:
            raise ConfigError("params= is for SQL strings; a SQLAlchemy statement carries its own values.")
        sql, bound = compile_sql(query)
        bound = [_plain(value) for value in bound]
    else:
        raise ConfigError(f"run_query needs a SQL string or a SQLAlchemy select; got a {type(query).__name__}.")
    import duckdb

    try:
        return pl.from_arrow(tracker.catalog.arrow(sql, bound))
    except duckdb.CatalogException as exc:
        missing = re.search(r"Table with name (\S+) does not exist", str(exc))
        if missing is None:
            raise
        raise CatalogError(_unknown_table(tracker, missing.group(1))) from None


def _unknown_table(tracker: Tracker, name: str) -> str:
    """The message for a query naming a table the catalog does not have."""
    views = tracker.__dict__.get("_consist_views")
    schemas = sorted(view.name for view in views) if views is not None else []
    known = [*PUBLIC_VIEWS, *schemas]
    close = difflib.get_close_matches(name.lower(), known, n=2)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(PUBLIC_VIEWS) + (f"; views of registered schemas: {', '.join(schemas)}" if schemas else "")
    return (
        f"the catalog has no table or view named {name!r}.{hint} It has {listed}. A schema's view "
        "appears once it is registered: Tracker(..., schemas=[Model]) or tracker.views.register(Model)."
    )
