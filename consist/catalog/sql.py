"""Facet pivots and SQL over the catalog: ``pivot_facets``, ``run_query``, statement compiling.

Every value reaches SQL as a bound parameter and every caller-chosen name (a facet key
becoming a pivot column) as a quoted identifier. SQLAlchemy is imported only when a
pivot or a statement is built.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from consist.catalog.database import PUBLIC_VIEWS
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


def pivot_facets(
    namespace: str | None = None,
    keys: Iterable[str] = (),
    value_columns: Mapping[str, str] | None = None,
    tracker: CatalogHost | None = None,
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
        rather than a column of nulls.

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
    if tracker is not None and any(key not in value_columns for key in keys):
        value_columns = {**_recorded_columns(tracker, [k for k in keys if k not in value_columns]), **value_columns}
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
    # An anonymous alias: two pivots joined in one statement (two steps' parameters) must not clash.
    return query.group_by(facets.c.run_id).subquery()


def _recorded_columns(tracker: CatalogHost, keys: list[str]) -> dict[str, str]:
    """For keys never recorded as numbers, the value column their values are in."""
    sql = (
        "SELECT key, count(value_num) AS n, count(value_str) AS s, count(value_bool) AS b, count(value_json) AS j "
        f"FROM facets WHERE key IN ({', '.join('?' for _ in keys)}) GROUP BY key"
    )
    out = {}
    for row in tracker.catalog.arrow(sql, keys).to_pylist():
        if not row["n"]:
            found = [c for c, n in (("value_str", row["s"]), ("value_bool", row["b"]), ("value_json", row["j"])) if n]
            if found:
                out[row["key"]] = found[0]
    return out


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
        return pl.from_arrow(tracker.catalog.arrow(sql, bound))
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
