"""One table of runs for analysis: one row per run, its config leaves and facets as columns.

In the spirit of ``mlflow.search_runs``: the run's own fields first (id, step, scenario,
year, outcome, times), then ``config.<leaf>`` for every config leaf (nested keys dotted)
and ``facet.<key>`` for facets that are not config leaves (``meta``, explicit facets).
A column keeps its values' type (ints stay ints); a column whose values mix types that
do not combine holds their JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from consist.errors import ConfigError
from consist.identity.digests import flatten

if TYPE_CHECKING:
    from consist.catalog.reader import CatalogHost
    from consist.models import Run

ROWS = ("all", "executed", "latest")
_FIELDS = (
    "id", "name", "model", "kind", "scenario", "year", "iteration", "status", "cache_hit", "reused_run_id",
    "started_at", "ended_at", "duration_s", "miss_reason", "tags",
)  # fmt: skip
_NOT_FACETS = {"year", "iteration"}


def choose(runs: Sequence[Run], rows: str) -> list[Run]:
    """``runs`` (oldest first) narrowed to ``rows``: all, executed (no hits), latest per step and config."""
    if rows not in ROWS:
        raise ConfigError(f"rows={rows!r}; expected one of {', '.join(repr(r) for r in ROWS)}.")
    if rows == "executed":
        return [r for r in runs if not r.cache_hit]
    if rows == "latest":
        newest: dict[tuple[str, str], Run] = {}
        for run in runs:
            newest[(run.name, run.config_hash)] = run
        return sorted(newest.values(), key=lambda r: (r.ended_at, r.id))
    return list(runs)


def _fields(run: Run) -> dict[str, Any]:
    return {
        "id": run.id, "name": run.name, "model": run.model, "kind": run.kind, "scenario": run.parent_id,
        "year": run.year, "iteration": run.iteration, "status": run.status, "cache_hit": run.cache_hit,
        "reused_run_id": run.reused_run_id, "started_at": run.started_at, "ended_at": run.ended_at,
        "duration_s": run.duration_s, "miss_reason": run.miss_reason, "tags": list(run.tags),
    }  # fmt: skip


def columns_of(runs: Sequence[Run], *, config: bool = True, facets: bool = True) -> dict[str, list[Any]]:
    """Column name -> values, one per run (None where a run lacks a config leaf or facet)."""
    rows = []
    for run in runs:
        row = _fields(run)
        leaves = flatten(run.config)
        if config:
            row.update({f"config.{k}": v for k, v in leaves.items()})
        if facets:
            row.update({f"facet.{k}": v for k, v in run.facets.items() if k not in leaves and k not in _NOT_FACETS})
        rows.append(row)
    names = list(_FIELDS) + sorted({k for row in rows for k in row if k not in _FIELDS})
    return {name: [row.get(name) for row in rows] for name in names}


def _series(name: str, values: list[Any]) -> Any:
    import polars as pl

    if name in ("started_at", "ended_at"):
        micros = pl.Series(name, [None if v is None else round(v * 1e6) for v in values], dtype=pl.Int64)
        return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")
    if name == "tags":
        return pl.Series(name, values, dtype=pl.List(pl.String))
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        # Configs are stored canonically (1.0 as 1): a column with any float is a float column.
        dtype = pl.Float64 if any(isinstance(v, float) for v in present) else pl.Int64
        try:
            return pl.Series(name, values, dtype=dtype, strict=False)
        except OverflowError:
            pass
    try:
        return pl.Series(name, values, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        return pl.Series(name, [None if v is None else json.dumps(v, default=str) for v in values], dtype=pl.String)


def runs_table(
    tracker: CatalogHost,
    *,
    rows: str = "all",
    config: bool = True,
    facets: bool = True,
    as_pandas: bool = False,
    **filters: Any,
) -> Any:
    """Runs matching ``filters`` as one table, oldest first (see :meth:`Tracker.runs_table`)."""
    import polars as pl

    from consist.catalog.queries import find_runs

    if filters.get("kind", "step") is None:
        filters.pop("kind")
    else:
        filters.setdefault("kind", "step")
    chosen = choose(find_runs(tracker, **filters), rows)
    frame = pl.DataFrame([_series(name, values) for name, values in columns_of(chosen, config=config, facets=facets).items()])
    return frame.to_pandas() if as_pandas else frame
