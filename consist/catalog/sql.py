"""Facet pivots and SQL over the catalog: ``pivot_facets``, ``run_query``, statement compiling.

Every value reaches SQL as a bound parameter and every caller-chosen name (a facet key
becoming a pivot column) as a quoted identifier. SQLAlchemy is imported only when a
pivot or a statement is built.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from consist.catalog.database import PUBLIC_VIEWS
from consist.catalog.result_types import tidy_integers
from consist.errors import CatalogError, ConfigError

if TYPE_CHECKING:
    from consist.catalog.reader import CatalogHost

VALUE_COLUMNS = ("value_num", "value_str", "value_bool", "value_json")


def plain_value(value: Any) -> Any:
    """A filter value as builtins: numpy scalars, arrays, ranges and Series become numbers and lists.

    DuckDB binds only builtins, and a loop over ``np.arange(...)`` years is common.
    """
    if value is None or isinstance(value, (str, bytes, bool, int, float)):
        return value
    if isinstance(value, (list, tuple, set, frozenset, range)):
        return [plain_value(v) for v in value]
    tolist = getattr(value, "tolist", None) or getattr(value, "to_list", None)
    if callable(tolist):  # numpy scalars and arrays, pandas and Polars Series
        out = tolist()
        return [plain_value(v) for v in out] if isinstance(out, list) else out
    return value


PIVOT_ROWS = ("all", "executed", "latest")


def pivot_facets(
    namespace: str | None = None,
    keys: Iterable[str] = (),
    value_columns: Mapping[str, str] | None = None,
    tracker: CatalogHost | None = None,
    rows: str = "all",
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
    tracker
        When given, a key left out of ``value_columns`` whose recorded values are
        never numbers (a string or bool facet) takes the column its values are in,
        rather than a column of nulls; a numeric key whose values are all whole numbers
        (and never a float in a run's config) is a BIGINT column; and a key no run has
        is named in a warning that lists the keys that exist.
    rows
        Which runs get a row: ``"all"`` (every recorded run, cache hits included),
        ``"executed"`` (runs that executed and completed, no cache hits) or
        ``"latest"`` (the latest completed run of each step and config).

    Returns
    -------
    sqlalchemy.Subquery
        With ``.c.run_id`` and ``.c.<key>``; use it in ``select(...)`` and pass that to
        :func:`run_query`.

    Examples
    --------
    >>> params = consist.pivot_facets(namespace="simulate", keys=["alpha", "mode"],  # doctest: +SKIP
    ...                               value_columns={"mode": "value_str"})
    >>> consist.run_query(select(params.c.run_id, params.c.alpha), tracker=tracker)
    """
    from sqlalchemy import BigInteger, cast, column, func, select, table

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
    if rows not in PIVOT_ROWS:
        raise ConfigError(f"rows={rows!r}; expected one of {', '.join(repr(r) for r in PIVOT_ROWS)}.")
    whole: set[str] = set()
    if tracker is not None:
        found = _recorded(tracker, keys)
        _warn_missing(tracker, namespace, keys, found)
        value_columns = {**{k: v[0] for k, v in found.items() if k not in value_columns}, **value_columns}
        whole = {k for k, v in found.items() if v[1] and value_columns.get(k, "value_num") == "value_num"}
    facets = table("facets", *(column(c) for c in ("run_id", "key", *VALUE_COLUMNS)))
    cols = [facets.c.run_id]
    for key in keys:
        value = func.max(facets.c[value_columns.get(key, "value_num")]).filter(facets.c.key == key)
        cols.append((cast(value, BigInteger) if key in whole else value).label(key))
    query = select(*cols).where(facets.c.key.in_(keys))
    owners = _pivot_runs(namespace, rows)
    if owners is not None:
        query = query.where(facets.c.run_id.in_(owners))
    # An anonymous alias: two pivots joined in one statement (two steps' parameters) must not clash.
    return query.group_by(facets.c.run_id).subquery()


def _pivot_runs(namespace: str | None, rows: str) -> Any:
    """The ids of the runs a pivot keeps (a SQLAlchemy select), or None for every run."""
    from sqlalchemy import and_, column, false, func, or_, select, table

    runs = table("runs", *(column(c) for c in ("id", "name", "model", "status", "cache_hit", "config_hash", "ended_at")))
    conds = [] if namespace is None else [or_(runs.c.name == namespace, runs.c.model == namespace)]
    if rows != "all":
        conds.append(runs.c.status == "completed")
    if rows == "executed":
        conds.append(runs.c.cache_hit == false())
    if rows != "latest":
        return select(runs.c.id).where(and_(*conds)) if conds else None
    newest = func.row_number().over(
        partition_by=(runs.c.name, runs.c.config_hash), order_by=(runs.c.ended_at.desc(), runs.c.id.desc())
    )
    ranked = select(runs.c.id, newest.label("newest")).where(and_(*conds)).subquery()
    return select(ranked.c.id).where(ranked.c.newest == 1)


def _recorded(tracker: CatalogHost, keys: list[str]) -> dict[str, tuple[str, bool]]:
    """For each recorded key: the value column its values are in, and whether they are all whole numbers.

    Whole means every number is integral, within BIGINT's range (a seed of ``2**63`` or
    more stays a float column), and no run's config holds the key as a float
    (``growth=1.0`` stays a float column).
    """
    marks = ", ".join("?" for _ in keys)
    sql = f"""
        WITH f AS (SELECT * FROM facets WHERE key IN ({marks})),
        floats AS (
            SELECT DISTINCT f.key FROM f JOIN runs r ON r.id = f.run_id
            WHERE f.value_num IS NOT NULL AND try(json_type(r.config, '$.' || f.key)) = 'DOUBLE')
        SELECT key, count(value_num) AS n, count(value_str) AS s, count(value_bool) AS b, count(value_json) AS j,
               coalesce(bool_and(value_num = trunc(value_num) AND abs(value_num) < 9.2e18), false)
                 AND key NOT IN (SELECT key FROM floats) AS whole
        FROM f GROUP BY key"""
    out = {}
    for row in tracker.catalog.arrow(sql, keys).to_pylist():
        counts = (("value_num", row["n"]), ("value_str", row["s"]), ("value_bool", row["b"]), ("value_json", row["j"]))
        column = next((c for c, n in counts if n), "value_num")
        out[row["key"]] = (column, bool(row["whole"]) and column == "value_num")
    return out


def _warn_missing(tracker: CatalogHost, namespace: str | None, keys: list[str], found: Mapping[str, Any]) -> None:
    """Warn about pivot keys no run has, naming the keys the step's runs do have."""
    missing = [k for k in keys if k not in found]
    if not missing:
        return
    sql = "SELECT DISTINCT key FROM facets"
    params: list[Any] = []
    if namespace is not None:
        sql += " WHERE run_id IN (SELECT id FROM runs WHERE name = ? OR model = ?)"
        params = [namespace, namespace]
    known = sorted(tracker.catalog.arrow(sql + " ORDER BY key LIMIT 200", params).column("key").to_pylist())
    close = {k: difflib.get_close_matches(k, known, n=1) for k in missing}
    hints = "".join(f" ({k!r}: did you mean {c[0]!r}?)" for k, c in close.items() if c)
    whose = f"runs of {namespace!r}" if namespace is not None else "runs"
    warnings.warn(
        f"pivot_facets: no run has the facet key(s) {', '.join(map(repr, missing))}, so their columns are "
        f"empty.{hints} The {whose} have: {', '.join(known) if known else '(no facets at all)'}.",
        PivotWarning,
        stacklevel=4,
    )


class PivotWarning(UserWarning):
    """A pivot asked for facet keys no recorded run has."""


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


def run_query(
    tracker: CatalogHost, query: Any, params: Sequence[Any] | None = None, view_names: Sequence[str] = ()
) -> Any:
    """Run a SQL string or a SQLAlchemy/SQLModel ``select`` on the catalog.

    ``view_names`` (the registered schemas' views) are suggested when a table is unknown.

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
            sql, bound = query, {str(name): plain_value(value) for name, value in params.items()}
        else:
            sql, bound = query, [plain_value(value) for value in params or ()]
    elif hasattr(query, "compile"):
        if params:
            raise ConfigError("params= is for SQL strings; a SQLAlchemy statement carries its own values.")
        sql, bound = compile_sql(query)
        bound = [plain_value(value) for value in bound]
    else:
        raise ConfigError(f"run_query needs a SQL string or a SQLAlchemy select; got a {type(query).__name__}.")
    import duckdb

    try:
        return pl.from_arrow(tidy_integers(tracker.catalog.arrow(sql, bound)))
    except duckdb.CatalogException as exc:
        missing = re.search(r"Table with name (\S+) does not exist", str(exc))
        if missing is None:
            raise
        raise CatalogError(_unknown_table(view_names, missing.group(1))) from None


def _unknown_table(view_names: Sequence[str], name: str) -> str:
    """The message for a query naming a table the catalog does not have."""
    schemas = sorted(view_names)
    known = [*PUBLIC_VIEWS, *schemas]
    close = difflib.get_close_matches(name.lower(), known, n=2)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(PUBLIC_VIEWS) + (f"; views of registered schemas: {', '.join(schemas)}" if schemas else "")
    return (
        f"the catalog has no table or view named {name!r}.{hint} It has {listed}. A schema's view "
        "appears once it is registered: Tracker(..., schemas=[Model]) or tracker.views.register(Model)."
    )
