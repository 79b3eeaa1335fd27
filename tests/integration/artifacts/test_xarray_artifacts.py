"""N-dimensional artifacts as xarray: one Zarr store per returned Dataset, loaded lazily, stacked across runs."""

from __future__ import annotations

import numpy as np
import pytest

import consist
from consist import use_tracker

xr = pytest.importorskip("xarray")


def _grid(scale: float, name: str = "temperature") -> xr.Dataset:
    return xr.Dataset(
        {name: (("zone", "hour"), np.arange(6.0).reshape(3, 2) * scale)},
        coords={"zone": ["a", "b", "c"], "hour": [0, 1]},
        attrs={"units": "C"},
    )


def test_a_returned_dataset_is_one_artifact(tracker, tmp_path):
    """A Dataset with two variables returned for outputs=['run_simulation'] is one zarr artifact, not two outputs."""
    log = tmp_path / "calls.txt"

    def simulate(scale: float) -> xr.Dataset:
        with log.open("a") as fh:
            fh.write("x\n")
        ds = _grid(scale)
        ds["pressure"] = ds["temperature"] + 1
        return ds

    result = tracker.run(simulate, config={"scale": 2.0}, outputs=["run_simulation"])
    assert list(result.outputs) == ["run_simulation"]
    artifact = result.outputs["run_simulation"]
    assert artifact.driver == "zarr" and artifact.path.name == "run_simulation.zarr"
    loaded = consist.load(artifact)
    assert isinstance(loaded, xr.Dataset)
    assert sorted(loaded.data_vars) == ["pressure", "temperature"]
    assert loaded.attrs == {"units": "C"} and list(loaded["zone"].values) == ["a", "b", "c"]
    assert float(loaded["pressure"].sel(zone="c", hour=1)) == 11.0
    again = tracker.run(simulate, config={"scale": 2.0}, outputs=["run_simulation"])
    assert again.cache_hit and log.read_text().count("x") == 1


def test_loading_is_lazy_and_dask_backed(tracker):
    """consist.load opens the store without reading the arrays: they are dask arrays until computed."""
    pytest.importorskip("dask")
    artifact = tracker.run(lambda: _grid(1.0), name="grid", outputs=["grid"]).outputs["grid"]
    loaded = consist.load(artifact)
    import dask.array

    assert isinstance(loaded["temperature"].data, dask.array.Array)
    assert float(loaded["temperature"].sum()) == 15.0


def test_a_returned_data_array_and_a_dict_of_them(tracker):
    """A DataArray is stored under its output key; a dict maps keys to separate N-d artifacts."""
    da = _grid(1.0)["temperature"]
    one = tracker.run(lambda: da, name="one", outputs=["field"]).outputs["field"]
    assert consist.load(one)["temperature"].shape == (3, 2)
    unnamed = xr.DataArray(np.ones(2), dims=["x"])
    assert "flat" in consist.load(tracker.run(lambda: unnamed, name="u", outputs=["flat"]).outputs["flat"])
    both = tracker.run(lambda: {"t": _grid(1.0), "u": _grid(2.0)}, name="both", outputs=["t", "u"]).outputs
    assert sorted(both) == ["t", "u"] and all(a.driver == "zarr" for a in both.values())


def test_an_xarray_input_is_loaded_into_the_parameter(tracker):
    """A downstream step gets the upstream zarr artifact as an xarray.Dataset."""
    grid = tracker.run(lambda: _grid(3.0), name="grid", outputs=["grid"]).outputs["grid"]

    def total(grid) -> float:
        assert isinstance(grid, xr.Dataset)
        return float(grid["temperature"].sum())

    out = tracker.run(total, inputs={"grid": grid}, outputs=["total"]).outputs["total"]
    assert consist.load(out) == 45.0


def test_a_plain_zarr_array_still_opens_as_zarr(tracker, tmp_path):
    """A zarr store without dimension names opens as zarr; as_='xarray' on it says why it cannot."""
    import zarr

    store = tmp_path / "m.zarr"
    zarr.open(str(store), mode="w", shape=(2, 2), dtype="f8")[:] = 1.0
    assert float(consist.load(store)[0, 0]) == 1.0
    with pytest.raises(consist.ConfigError, match="without dimension names"):
        consist.load(store, as_="xarray")
    written = tracker.run(lambda: _grid(1.0), name="g", outputs=["g"]).outputs["g"]
    assert isinstance(consist.load(written, as_="zarr"), zarr.Group)


def test_load_matrix_stacks_one_store_per_run(tracker, tmp_path):
    """load_matrix stacks each scenario-year's store along run, with run_id/scenario/year coordinates."""
    with use_tracker(tracker):
        for scenario, scale in (("base", 1.0), ("high", 10.0)):
            with consist.scenario(scenario) as sc:
                for year in (2030, 2040):
                    sc.run(name="simulate", fn=lambda scale, year: _grid(scale * year), config={"scale": scale, "year": year},
                           year=year, outputs=["skims"])
    stack = tracker.load_matrix("skims")
    assert stack.sizes["run"] == 4 and stack["temperature"].dims == ("run", "zone", "hour")
    assert sorted(zip(stack["scenario"].values.tolist(), stack["year"].values.tolist())) == [
        ("base", 2030), ("base", 2040), ("high", 2030), ("high", 2040)
    ]
    import dask.array

    assert isinstance(stack["temperature"].data, dask.array.Array)
    high = tracker.load_matrix("skims", scenario="high", year=2040)
    assert high.sizes["run"] == 1
    assert float(high["temperature"].isel(run=0).sel(zone="c", hour=1)) == 5.0 * 10.0 * 2040
    by_run = stack.set_index(run="run_id")
    assert set(by_run["run"].values) == set(stack["run_id"].values)


def test_load_matrix_errors_name_the_problem(tracker, tmp_path):
    """An unknown key and a tabular key each give one clear error."""
    import polars as pl

    tracker.run(lambda: pl.DataFrame({"a": [1]}), name="t", outputs=["table"])
    with pytest.raises(consist.ArtifactNotFoundError, match="no completed run has a Zarr output 'nope'"):
        tracker.load_matrix("nope")
    with pytest.raises(consist.ConfigError, match="use tracker.scan"):
        tracker.load_matrix("table")


def test_a_failed_zarr_write_leaves_no_store(tracker):
    """A Dataset that cannot be written leaves no half-written store in the run folder and no cache entry."""
    bad = xr.Dataset({"v": (("x",), np.array([object(), object()], dtype=object))})
    with pytest.raises(Exception):
        tracker.run(lambda: bad, name="bad", outputs=["bad"])
    assert not list(tracker.run_dir.glob("*/*.zarr")) and not list(tracker.run_dir.glob("*/.*.tmp"))


def test_a_data_array_parameter_gets_the_one_variable(tracker):
    """A parameter annotated xr.DataArray receives the store's single variable; several variables are refused."""
    one = tracker.run(lambda: _grid(1.0), name="one", outputs=["grid"]).outputs["grid"]

    def total(grid: xr.DataArray) -> float:
        return float(grid.sum())

    assert consist.load(tracker.run(total, inputs={"grid": one}, outputs=["total"]).outputs["total"]) == 15.0
    two = _grid(1.0)
    two["other"] = two["temperature"]
    both = tracker.run(lambda: two, name="two", outputs=["pair"]).outputs["pair"]
    with pytest.raises(consist.ConfigError, match="holds 2 data variables"):
        tracker.run(total, inputs={"grid": both}, outputs=["total"])
    assert consist.load(one, as_="dataarray").name == "temperature"
