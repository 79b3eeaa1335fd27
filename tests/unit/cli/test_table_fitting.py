"""Tables fitted to a narrow terminal: ids stay whole, paths keep their end."""

from __future__ import annotations

from consist.cli.text import text_table

RUN_ID = "trip_generation-20261206-093328-41aa112c"


def test_ids_are_never_cut_in_a_narrow_terminal():
    rows = [[RUN_ID, "trip_generation with a long step label", "baseline_high_growth", 2030]]
    out = text_table(["id", "step", "scenario", "year"], rows, width=50)
    assert RUN_ID in out  # whole, pasteable into `consist show`
    assert "…" in out  # other columns gave way


def test_produced_by_and_run_id_columns_stay_whole_and_paths_keep_the_file_name():
    path = "/data/projects/regional-model/runs/" + RUN_ID + "/trips_by_zone_and_purpose.parquet"
    rows = [["trips", "parquet", RUN_ID, path]]
    out = text_table(["key", "driver", "produced by", "path"], rows, width=100)
    line = out.splitlines()[1]
    assert RUN_ID in line and line.rstrip().endswith("trips_by_zone_and_purpose.parquet")
    assert "…" in line
    query = text_table(["run_id", "value"], [[RUN_ID, "x" * 100]], width=60)
    assert RUN_ID in query
