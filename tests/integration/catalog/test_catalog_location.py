"""Where the catalog file lives: a path DuckDB cannot write to is refused when the tracker is made.

DuckDB cannot commit to a database file whose path holds a ``?``; before this check the
tracker was made, steps ran, and every query then failed with a raw DuckDB error.
Other pattern characters (``[ ] * { }``, spaces, unicode) are fine and are used for real.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import consist
from consist import ConfigError, Tracker


def _step() -> pd.DataFrame:
    return pd.DataFrame({"a": [1]})


@pytest.mark.parametrize("where", ["db_path", "run_dir"])
def test_a_question_mark_in_the_catalog_path_is_refused_up_front(tmp_path: Path, where: str):
    odd = tmp_path / "what?"
    kwargs = {"run_dir": tmp_path / "runs", "db_path": odd / "p.duckdb"} if where == "db_path" else {"run_dir": odd}
    with pytest.raises(ConfigError, match=r"contains '\?'.*Pass db_path="):
        Tracker(**kwargs)
    # The fix the message names works: a catalog elsewhere, even beside a run folder with a '?'.
    tracker = Tracker(run_dir=odd, db_path=tmp_path / "p.duckdb")
    assert not tracker.run(fn=_step, outputs=["t"]).cache_hit
    assert [run.name for run in tracker.find_runs()] == ["_step"]
    assert consist.run_query("select count(*) as n from runs", tracker=tracker)["n"].to_list() == [1]


def test_pattern_characters_in_the_catalog_path_work(tmp_path: Path):
    folder = tmp_path / "w [x]*{é} 😀"
    tracker = Tracker(run_dir=folder / "runs[2030]", db_path=folder / "p[1].duckdb")
    tracker.run(fn=_step, outputs=["t"])
    again = Tracker(run_dir=folder / "runs[2030]")
    assert again.db_path == (folder / "p[1].duckdb").resolve()
    assert again.run(fn=_step, outputs=["t"]).cache_hit
    assert consist.run_query("select count(*) as n from runs", tracker=again)["n"].to_list() == [2]
