"""pivot_facets as an analyst uses it: integer columns, executed-only and latest rows, warnings for unknown keys."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl
import pytest
from sqlmodel import select

import consist
from consist import ConfigError, Tracker


def simulate(year: int, growth: float, mode: str) -> None:
    return None


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    for year in (2020, 2030):
        for growth in (1.0, 1.5):
            for _ in range(2):  # the second is a cache hit
                tracker.run(simulate, config={"year": year, "growth": growth, "mode": "bus"})
    return tracker


def pivot(tracker: Tracker, **options) -> pl.DataFrame:
    params = tracker.pivot_facets("simulate", ["year", "growth", "mode"], **options)
    return tracker.run_query(select(params).order_by(params.c.year, params.c.growth))


def test_integer_facets_stay_integers_and_floats_stay_floats(tracker: Tracker):
    """year is Int64; growth, a float in every config (even 1.0), is Float64; mode is a string."""
    frame = pivot(tracker)
    assert frame.schema["year"] == pl.Int64 and frame.schema["growth"] == pl.Float64
    assert frame.schema["mode"] == pl.String
    assert frame["year"].to_list() == [2020] * 4 + [2030] * 4


def test_executed_rows_leave_out_cache_hits(tracker: Tracker):
    """rows='executed': one row per run that executed; every one is a miss in the runs view."""
    frame = pivot(tracker, rows="executed")
    assert frame.height == 4
    hits = tracker.run_query(
        "SELECT count(*) FILTER (WHERE cache_hit) AS h FROM runs WHERE list_contains(?, id)",
        [frame["run_id"].to_list()],
    )
    assert hits.item() == 0
    assert frame.select("year", "growth").rows() == [(2020, 1.0), (2020, 1.5), (2030, 1.0), (2030, 1.5)]


def test_latest_rows_keep_the_newest_run_of_each_config(tracker: Tracker):
    """rows='latest': one row per config, and it is the most recent run (here the cache hit)."""
    frame = pivot(tracker, rows="latest")
    assert frame.height == 4
    newest = tracker.run_query(
        "SELECT id FROM runs WHERE name = 'simulate' QUALIFY row_number() OVER "
        "(PARTITION BY config_hash ORDER BY ended_at DESC, id DESC) = 1"
    )
    assert sorted(frame["run_id"]) == sorted(newest["id"])


def test_unknown_rows_option_is_refused(tracker: Tracker):
    with pytest.raises(ConfigError, match="rows='hits'; expected one of 'all', 'executed', 'latest'"):
        tracker.pivot_facets("simulate", ["year"], rows="hits")


def test_a_key_no_run_has_is_named_with_the_keys_that_exist(tracker: Tracker):
    """A misspelt key warns, suggesting the near key and listing the step's keys."""
    with pytest.warns(UserWarning, match=r"no run has the facet key\(s\) 'yaer'.*did you mean 'year'.*growth, mode, year"):
        params = consist.pivot_facets("simulate", ["yaer", "growth"], tracker=tracker)
    assert tracker.run_query(select(params)).height == 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tracker.pivot_facets("simulate", ["year"])  # known keys: no warning


def test_sums_of_integers_come_back_as_integers_not_decimals(tracker: Tracker):
    """SUM(CAST(cache_hit AS INT)) is HUGEINT in DuckDB; run_query returns it as Int64."""
    frame = tracker.run_query("SELECT name, sum(CAST(cache_hit AS INT)) AS hits, sum(pid) AS p FROM runs GROUP BY name")
    assert frame.schema["hits"] == pl.Int64 and frame["hits"].item() == 4
    assert frame.schema["p"] == pl.Int64
    big = tracker.run_query("SELECT CAST(170141183460469231731687303715884105727 AS HUGEINT) AS h")
    assert isinstance(big.schema["h"], pl.Decimal)  # too large for int64: kept exact


def test_integers_beyond_bigint_pivot_as_floats_instead_of_failing(tmp_path: Path):
    """A seed of 2**63 or more cannot be a BIGINT: its column is Float64, and the query runs."""
    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "c.duckdb")
    for seed in (3, 2**63 + 5):
        tracker.run(simulate, config={"year": 2020, "growth": 1.0, "mode": "bus"}, facet={"seed": seed})
    params = tracker.pivot_facets("simulate", ["seed"])
    frame = tracker.run_query(select(params).order_by(params.c.seed))
    assert frame.schema["seed"] == pl.Float64 and frame["seed"].to_list() == [3.0, float(2**63 + 5)]
