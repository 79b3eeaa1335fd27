"""Catalog queries: find runs and their artifacts (facet pivots and SQL: :mod:`consist.catalog.sql`).

Every value reaches SQL as a bound parameter and every caller-chosen name (a facet key
becoming a pivot column) as a quoted identifier; column names in filters come from a
fixed list. Lookups by run id bypass DuckDB (one file read, or a cached id set and one
pruned Parquet read).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consist.catalog.reader import INDEX_COLUMNS
from consist.catalog.sql import VALUE_COLUMNS, compile_sql, pivot_facets, run_query
from consist.catalog.sql import plain_value as _plain
from consist.errors import ConfigError, RunNotFoundError
from consist.models import Artifact, Run, RunResult

if TYPE_CHECKING:
    from consist.catalog.reader import CatalogHost

RUN_FILTERS = (
    "id", "name", "model", "status", "kind", "parent_id", "year", "iteration", "signature", "code_hash",
    "config_hash", "inputs_hash", "cache_hit", "reused_run_id", "cache_mode", "host",
)  # fmt: skip
_ALIASES = {"scenario_id": "parent_id", "run_id": "id"}
# Facet pivots and SQL live in consist.catalog.sql; re-exported here, where they were first.
__all__ = [
    "RUN_FILTERS", "VALUE_COLUMNS", "RunArtifacts", "compile_sql", "find_run", "find_runs", "get_artifacts_for_run",
    "get_run", "pivot_facets", "run_query",
]  # fmt: skip


# -- finding runs --------------------------------------------------------------------


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


def _facet_value_column(key: str, value: Any) -> tuple[str, str]:
    """The facets column holding values like ``value``, and its placeholder."""
    if isinstance(value, bool):
        return "value_bool", "?"
    if isinstance(value, (int, float)):
        return "value_num", "CAST(? AS DOUBLE)"
    if isinstance(value, str):
        return "value_str", "?"
    raise ConfigError(
        f"facet filter {key!r}={value!r}: expected a bool, number or string value, None (no such facet) or a "
        "list of values. Nested config keys are joined with dots (facets={'solver.tol': 1e-6}); a list or dict "
        "facet is JSON in the facets view's value_json column: filter it with consist.run_query."
    )


def _facet_condition(key: str, value: Any, params: list[Any]) -> str:
    # Like run fields: a value, a list of values (any matches), or None (runs without it).
    if value is None:
        params.append(key)
        return (
            "id NOT IN (SELECT run_id FROM facets WHERE key = ? AND (value_str IS NOT NULL OR value_num IS NOT NULL "
            "OR value_bool IS NOT NULL OR coalesce(CAST(value_json AS VARCHAR), 'null') <> 'null'))"
        )
    values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    if not values:
        return "false"
    by_column: dict[tuple[str, str], list[Any]] = {}
    for item in values:
        by_column.setdefault(_facet_value_column(key, item), []).append(item)
    ors, bound = [], [key]
    for (column, cast), items in by_column.items():
        bound.extend(items)
        ors.append(f"{column} IN ({', '.join(cast for _ in items)})")
    params.extend(bound)
    return f"id IN (SELECT run_id FROM facets WHERE key = ? AND ({' OR '.join(ors)}))"


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


class RunList(list):  # type: ignore[type-arg]
    """What :func:`find_runs` returns: a plain list of runs that draws a table in a notebook."""

    def _repr_html_(self) -> str:
        from consist.display.html import runs_html

        return runs_html(self, title=f"{len(self)} run(s)")


class RunsByKey(dict):  # type: ignore[type-arg]
    """What :func:`find_runs` returns with ``index_by``: a plain dict that draws a table in a notebook."""

    def _repr_html_(self) -> str:
        from consist.display.html import runs_html

        return runs_html(list(self.values()), title=f"{len(self)} run(s)", keys=list(self))


def _index_value(run: Run, index_by: str | tuple[str, ...]) -> Any:
    if isinstance(index_by, tuple):
        values = tuple(_index_value(run, field) for field in index_by)
        return None if None in values else values
    if index_by.startswith("facet."):
        return run.facets.get(index_by[len("facet.") :])
    return getattr(run, _ALIASES.get(index_by, index_by))


def _index_fields(index_by: Any) -> str | tuple[str, ...] | None:
    """``index_by`` checked: a field name, or a tuple of them for tuple keys."""
    if index_by is None:
        return None
    fields = (index_by,) if isinstance(index_by, str) else tuple(index_by) if isinstance(index_by, (list, tuple)) else ()
    known = RUN_FILTERS + ("started_at", "ended_at")
    for field in fields or (index_by,):
        if not isinstance(field, str) or not (
            (field.startswith("facet.") and len(field) > len("facet.")) or _ALIASES.get(field, field) in known
        ):
            raise ConfigError(
                f"index_by={index_by!r}: expected a run field (such as 'year'), 'facet.<key>', or a tuple of them "
                f"(('parent_id', 'year')) for tuple keys. Run fields: {', '.join(known)}."
            )
    return index_by if isinstance(index_by, str) else fields


def find_runs(
    tracker: CatalogHost,
    *,
    index_by: str | Sequence[str] | None = None,
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
        or ``"facet.<key>"`` for a dict by that value, or a tuple of them
        (``("parent_id", "year")``) for a dict by tuples. When several runs share a
        value, the most recently finished wins; runs without a value are left out.
    facets
        ``{key: value}`` facet filters: a bool, number or string, a list of them (any
        matches) or ``None`` (runs without that facet). Nested config keys are joined
        with dots (``"solver.tol"``).
    status
        Only runs with this status (default ``"completed"``); ``None`` for any.
    limit
        At most this many runs (the most recent ones).
    tags
        Only runs carrying this tag (or every one of these tags).
    **filters
        Run fields to match: a value, ``None`` (missing), or a list of values.
        ``scenario_id`` is an alias of ``parent_id``, ``run_id`` of ``id``.

    Returns
    -------
    list[Run] or dict
        A plain list (or dict); in a notebook either draws as a table of runs.

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
    index_by = _index_fields(index_by)
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
        return RunList(runs)
    out: dict[Any, Run] = RunsByKey()
    for run in runs:
        value = _index_value(run, index_by)
        if value is not None:
            out[value] = run
    return out


def find_run(
    tracker: CatalogHost,
    *,
    facets: Mapping[str, Any] | None = None,
    tags: str | Sequence[str] | None = None,
    **filters: Any,
) -> Run:
    """The most recently finished run matching every filter (see :func:`find_runs`).

    Raises
    ------
    RunNotFoundError
        No run matches; the message lists values that do exist for each filter.
    ConfigError
        A filter is not a run field, or ``limit=``/``index_by=`` (which belong to
        :func:`find_runs`) is given.
    """
    for option in ("limit", "index_by"):
        if option in filters:
            raise ConfigError(
                f"find_run returns the one latest matching run, so it takes no {option}=; "
                f"use consist.find_runs(..., {option}=...) for several runs."
            )
    filters = {key: _plain(value) for key, value in filters.items()}
    facets = {key: _plain(value) for key, value in (facets or {}).items()}
    run_id = filters.get("id", filters.get("run_id"))
    if run_id is not None and len(filters) == 1 and not facets and not tags:
        return get_run(tracker, run_id)
    runs = find_runs(tracker, facets=facets, tags=tags, limit=1, **filters)
    if runs:
        return runs[-1]
    raise RunNotFoundError(_not_found_message(tracker, filters, facets, tags))


def _existing(tracker: CatalogHost, select: str, where: str, params: list[Any]) -> list[Any]:
    """Up to 8 distinct values of ``select`` (a fixed expression) among runs matching ``where``."""
    sql = f"SELECT DISTINCT {select} AS v FROM runs" + (f" WHERE {where}" if where else "") + " ORDER BY 1 LIMIT 8"
    return tracker.catalog.arrow(sql, params).column("v").to_pylist()


def _facet_value(row: Mapping[str, Any]) -> Any:
    """The value of a facets row, from whichever typed column holds it (whole numbers as ints)."""
    if row["value_num"] is not None:
        num = row["value_num"]
        return int(num) if float(num).is_integer() else num
    for column in ("value_str", "value_bool", "value_json"):
        if row[column] is not None:
            return row[column]
    return None


def _not_found_message(
    tracker: CatalogHost, filters: Mapping[str, Any], facets: Mapping[str, Any], tags: str | Sequence[str] | None = None
) -> str:
    status = filters.get("status", "completed")
    shown = {**filters, "status": status} if "status" not in filters else dict(filters)
    parts = [f"{k}={v!r}" for k, v in shown.items()]
    parts += [f"facets={dict(facets)!r}"] if facets else []
    parts += [f"tags={tags!r}"] if tags else []
    described = ", ".join(parts)
    if status is None:  # status=None means any status, not a missing one
        shown.pop("status")
    hints = []
    for key in filters:
        if key in ("id", "run_id") or key not in shown or isinstance(filters[key], (list, tuple, set, frozenset)):
            continue
        where, params = _where({k: v for k, v in shown.items() if k != key}, facets)
        values = _existing(tracker, _ALIASES.get(key, key), where, params)
        if values and filters[key] not in values:  # only the filters that exclude everything
            hints.append(f"{key} in {values}")
    for key, wanted in facets.items():
        where, params = _where(shown, {k: v for k, v in facets.items() if k != key})
        sql = (
            "SELECT DISTINCT value_str, value_num, value_bool, CAST(value_json AS VARCHAR) AS value_json FROM facets "
            "WHERE key = ? AND run_id IN (SELECT id FROM runs" + (f" WHERE {where}" if where else "") + ") LIMIT 8"
        )
        values = sorted(
            {_facet_value(row) for row in tracker.catalog.arrow(sql, [key, *params]).to_pylist()}, key=repr
        )
        if values and wanted not in values:
            hints.append(f"facet {key!r} in {values}")
    if tags:
        where, params = _where(shown, facets)
        values = _existing(tracker, "unnest(tags)", where, params)
        hints.append(f"tags in {values}" if values else "no tags")
    hint = f" With the other filters, existing values are: {'; '.join(hints)}." if hints else ""
    failed = " Pass status=None to include failed runs." if status == "completed" else ""
    return f"No run matches {described}.{hint}{failed}"


def _id_of(run: Any) -> str:
    """A run id from an id, a :class:`Run` or a :class:`~consist.models.RunResult`."""
    if isinstance(run, Run):
        return run.id
    if isinstance(run, RunResult):
        return run.run.id
    return str(run)


def get_run(tracker: CatalogHost, run_id: str | Run | RunResult) -> Run:
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

    def _repr_html_(self) -> str:
        from consist.display.html import run_artifacts_html

        return run_artifacts_html(self.run_id, self.inputs, self.outputs)


def get_artifacts_for_run(tracker: CatalogHost, run_id: str | Run | RunResult) -> RunArtifacts:
    """The artifacts a run read (``.inputs``) and wrote (``.outputs``), by key.

    ``run_id`` is a run id (``run.id``), or the :class:`Run` or
    :class:`~consist.models.RunResult` itself.
    """
    run = get_run(tracker, run_id)
    return RunArtifacts(run.id, run.input_map, run.output_map)
