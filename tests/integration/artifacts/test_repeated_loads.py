"""Loading a small Parquet artifact again in one process gives what the file holds now.

The decoded table of a small file is remembered per process
(:mod:`consist.artifacts.formats.table_memo`); these tests change the file in every way
a user or a tool can and check that the next load sees it.
"""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import consist
from consist import Tracker
from consist.artifacts.formats import table_memo


def _write(path, values: list[float]) -> None:
    pq.write_table(pa.Table.from_pandas(pd.DataFrame({"v": values})), path)


@pytest.fixture()
def logged(tmp_path):
    tracker = Tracker(run_dir=tmp_path / "runs", progress=False)
    result = tracker.run(fn=lambda: pd.DataFrame({"v": [1.0, 2.0, 3.0]}), name="make", outputs=["out"])
    return result.outputs["out"]


def test_a_file_rewritten_in_place_with_its_mtime_restored_loads_anew(logged, tmp_path) -> None:
    path = logged.path
    assert consist.load(logged)["v"].tolist() == [1.0, 2.0, 3.0]
    st = os.stat(path)
    scratch = tmp_path / "other.parquet"
    _write(scratch, [7.0, 8.0, 9.0])
    assert scratch.stat().st_size == st.st_size  # same size: only the change time tells
    with open(path, "r+b") as fh:  # in place: same inode
        fh.write(scratch.read_bytes())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_ino == st.st_ino and os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert consist.load(path, as_="pandas")["v"].tolist() == [7.0, 8.0, 9.0]


def test_a_file_replaced_by_another_loads_the_new_one(logged, tmp_path) -> None:
    assert consist.load(logged)["v"].tolist() == [1.0, 2.0, 3.0]
    scratch = tmp_path / "new.parquet"
    _write(scratch, [4.0, 5.0])
    os.replace(scratch, logged.path)
    assert consist.load(logged)["v"].tolist() == [4.0, 5.0]
    assert consist.load(logged, as_="arrow").column("v").to_pylist() == [4.0, 5.0]


def test_two_files_with_the_same_bytes_are_two_files(logged, tmp_path) -> None:
    copy = tmp_path / "copy.parquet"
    shutil.copyfile(logged.path, copy)
    first, second = consist.load(logged), consist.load(copy, as_="pandas")
    pd.testing.assert_frame_equal(first, second)
    _write(copy, [0.0])
    assert consist.load(copy, as_="pandas")["v"].tolist() == [0.0]
    assert consist.load(logged)["v"].tolist() == [1.0, 2.0, 3.0]


def test_each_load_is_the_callers_own_frame(logged) -> None:
    first = consist.load(logged)
    first.loc[0, "v"] = -1.0
    first["extra"] = 1
    second = consist.load(logged)
    assert second["v"].tolist() == [1.0, 2.0, 3.0] and "extra" not in second.columns


def test_remembered_tables_stay_within_the_budget(tmp_path, monkeypatch) -> None:
    table_memo.forget()
    monkeypatch.setattr(table_memo, "BUDGET", 200_000)
    for i in range(40):
        path = tmp_path / f"f{i}.parquet"
        _write(path, [float(i)] * 2_000)  # 16 kB of Arrow data each
        assert consist.load(path, as_="pandas")["v"].iloc[0] == float(i)
    assert 0 < table_memo._held <= 200_000
    assert len(table_memo._tables) < 40
    table_memo.forget()
