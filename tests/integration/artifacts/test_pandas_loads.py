"""A pandas frame loads back as pandas exactly as Arrow's own conversion makes it.

Frames with a default index and plain numeric columns skip the pandas metadata on load
(:func:`consist.artifacts.formats.frames.to_pandas`); every other frame keeps it. Either
way the loaded frame must equal the one Arrow's ``to_pandas`` rebuilds from the file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import consist
from consist import Tracker


def _frames() -> dict[str, pd.DataFrame]:
    n = 50
    plain = pd.DataFrame({"id": np.arange(n), "value": np.linspace(0, 1, n), "flag": np.arange(n) % 2 == 0})
    return {
        "plain": plain,
        "small_ints": plain.astype({"id": "int8"}),
        "unsigned": plain.astype({"id": "uint32"}),
        "float32": plain.astype({"value": "float32"}),
        "empty": plain.iloc[:0],
        "shifted_index": plain.set_index(plain.index + 10),
        "sliced": plain.iloc[5:20],
        "named_index": plain.rename_axis("row"),
        "column_index_name": plain.rename_axis("cols", axis=1),
        "set_index": plain.set_index("id"),
        "multi_index": plain.set_index(["flag", "id"]),
        "int_labels": pd.DataFrame({0: np.arange(n), 1: np.arange(n) * 2.0}),
        "nullable_int": plain.astype({"id": "Int64"}),
        "nullable_bool": plain.astype({"flag": "boolean"}),
        "strings": plain.assign(label=[f"r{i}" for i in range(n)]),
        "categorical": plain.assign(cat=pd.Categorical(["a", "b"] * (n // 2))),
        "datetimes": plain.assign(when=pd.date_range("2030-01-01", periods=n, tz="UTC")),
        "attrs": plain.copy(),
    }


@pytest.mark.parametrize("label", sorted(_frames()))
def test_loaded_frame_equals_arrows_conversion(tmp_path, label: str) -> None:
    frame = _frames()[label]
    if label == "attrs":
        frame.attrs["units"] = "km"
    tracker = Tracker(run_dir=tmp_path / "runs", progress=False)
    result = tracker.run(fn=lambda: frame, name=f"make_{label}", outputs=["out"])
    loaded = consist.load(result.outputs["out"])
    expected = pq.read_table(result.outputs["out"].path).to_pandas()
    pd.testing.assert_frame_equal(loaded, expected, check_index_type=True, check_column_type=True)
    assert loaded.attrs == expected.attrs
    assert type(loaded.index) is type(expected.index)
    assert loaded.index.name == expected.index.name and loaded.columns.name == expected.columns.name


def test_loaded_frame_is_the_users_frame_back(tmp_path) -> None:
    frame = _frames()["plain"]
    tracker = Tracker(run_dir=tmp_path / "runs", progress=False)
    result = tracker.run(fn=lambda: frame, name="make", outputs=["out"])
    loaded = consist.load(result.outputs["out"])
    pd.testing.assert_frame_equal(loaded, frame, check_index_type=True, check_column_type=True)
    assert isinstance(loaded.index, pd.RangeIndex)
    loaded.loc[0, "value"] = 99.0  # the load is the caller's own copy
    assert consist.load(result.outputs["out"]).loc[0, "value"] == 0.0
