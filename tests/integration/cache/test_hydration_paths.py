"""Cache hydration as users spell it next to the guide: string paths, folders, a new process."""

from __future__ import annotations

import pandas as pd

import consist
from consist import Tracker, use_tracker

CALLS: list[int] = []


def make(n: int) -> dict:
    CALLS.append(n)
    return {"persons": pd.DataFrame({"id": list(range(n))}), "households": pd.DataFrame({"h": list(range(n))})}


def _run(tracker: Tracker, **options):
    with use_tracker(tracker):
        return consist.run(fn=make, config={"n": 3}, outputs=["persons", "households"], **options)


def test_hydrate_to_a_folder_written_with_a_slash_keeps_file_names(tracker, in_tmp):
    """hydrate_to={'persons': 'out/'} copies the cached file into out/ under its own name, without executing."""
    CALLS.clear()
    _run(tracker)
    hit = _run(tracker, cache_hydration="outputs-requested", hydrate_to={"persons": "out/", "households": "out/"})
    assert hit.cache_hit and CALLS == [3]
    assert sorted(p.name for p in (in_tmp / "out").iterdir()) == ["households.parquet", "persons.parquet"]
    assert hit.outputs["persons"].path == in_tmp / "out" / "persons.parquet"
    assert consist.load(hit.outputs["persons"])["id"].tolist() == [0, 1, 2]


def test_hydration_from_a_new_tracker_with_string_paths(tmp_path, in_tmp):
    """A new Tracker on the same folders hydrates with plain string paths and does not execute."""
    CALLS.clear()
    _run(Tracker(run_dir="./runs", db_path="./provenance.duckdb"))
    again = Tracker(run_dir="./runs", db_path="./provenance.duckdb")
    hit = _run(again, cache_hydration="outputs-requested", hydrate_to={"persons": "data/persons.parquet"})
    every = _run(again, cache_hydration="outputs-all", hydrate_dir="everything")
    assert hit.cache_hit and every.cache_hit and CALLS == [3]
    assert (in_tmp / "data" / "persons.parquet").is_file()
    assert not (in_tmp / "data" / "households.parquet").exists()
    assert sorted(p.name for p in (in_tmp / "everything").iterdir()) == ["households.parquet", "persons.parquet"]
