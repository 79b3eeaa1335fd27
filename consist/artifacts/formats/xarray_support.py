"""N-dimensional artifacts as xarray: writing them as Zarr, opening them lazily, stacking runs.

A step may return an ``xarray.Dataset`` or ``DataArray``: it is one artifact, written as
``<run folder>/<key>.zarr`` (Zarr format 2 with consolidated metadata, which every
Zarr reader opens). ``consist.load`` gives a zarr store back as an ``xarray.Dataset``
whenever xarray is installed and the store carries dimension names (as xarray writes
them), backed by dask arrays when dask is installed so nothing is read until computed;
a bare zarr array or a group without dimension names still opens as zarr.
:mod:`consist.views.matrix` stacks one such artifact per run (``tracker.load_matrix``).

xarray is an optional extra (``pip install 'consist[xarray]'``): nothing here imports
it until an xarray object or a dataset store is actually met.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from consist.atomic import temp_name
from consist.errors import ConfigError

XARRAY_KIND = "xarray"


def is_xarray(obj: Any) -> bool:
    """Whether ``obj`` is an ``xarray.Dataset`` or ``DataArray`` (without importing xarray)."""
    xr = sys.modules.get("xarray")
    return xr is not None and isinstance(obj, (xr.Dataset, xr.DataArray))


def require_xarray(what: str) -> Any:
    try:
        import xarray as xr
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"{what} needs xarray, which is not installed: pip install 'consist[xarray]'."
        ) from None
    return xr


def write_zarr(obj: Any, key: str, target: Path) -> None:
    """Write a Dataset/DataArray to the Zarr store ``target``, atomically (temp folder, then rename)."""
    dataset = obj.to_dataset(name=obj.name if obj.name is not None else key) if hasattr(obj, "to_dataset") else obj
    tmp = temp_name(target)
    try:
        dataset.to_zarr(tmp, mode="w-", zarr_format=2, consolidated=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def holds_dataset(path: Path) -> bool:
    """Whether the zarr store at ``path`` is a group whose arrays all have dimension names."""
    if (path / ".zgroup").exists():  # Zarr format 2: names in each array's .zattrs
        arrays = [child for child in path.iterdir() if (child / ".zarray").exists()]
        return bool(arrays) and all("_ARRAY_DIMENSIONS" in _json(child / ".zattrs") for child in arrays)
    root = _json(path / "zarr.json")
    if root.get("node_type") != "group":
        return False
    arrays = [meta for child in path.iterdir() if (meta := _json(child / "zarr.json")).get("node_type") == "array"]
    return bool(arrays) and all(meta.get("dimension_names") for meta in arrays)


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def xarray_available() -> bool:
    """Whether xarray can be imported (checked without importing it)."""
    return "xarray" in sys.modules or importlib.util.find_spec("xarray") is not None


def open_dataset(path: Path) -> Any:
    """The store at ``path`` as a lazy ``xarray.Dataset`` (dask-backed when dask is installed)."""
    xr = require_xarray(f"opening {path.name} as an xarray.Dataset")
    dask = importlib.util.find_spec("dask") is not None
    consolidated = (path / ".zmetadata").exists() or bool(_json(path / "zarr.json").get("consolidated_metadata"))
    return xr.open_zarr(path, chunks={} if dask else None, consolidated=consolidated)


def _only_variable(dataset: Any, path: Path) -> Any:
    # A parameter annotated xr.DataArray gets the store's one data variable.
    names = list(dataset.data_vars)
    if len(names) != 1:
        raise ConfigError(
            f"{path.name} holds {len(names)} data variables ({', '.join(map(str, names))}), so it is not one "
            "DataArray; annotate the parameter xr.Dataset and pick the variable you need."
        )
    return dataset[names[0]]


def load_store(path: Path, as_: str | None) -> Any:
    """A zarr store: an ``xarray.Dataset`` when it holds one and xarray is installed, else zarr."""
    if as_ not in (None, "xarray", "dataarray", "zarr"):
        raise ConfigError(
            f"{path.name} is a zarr store, which opens as an xarray.Dataset or a zarr array or group, "
            f"not as {as_!r}; load it with as_='xarray' or as_='zarr' (or without as_=)."
        )
    if as_ in ("xarray", "dataarray") or (as_ is None and xarray_available() and holds_dataset(path)):
        if not holds_dataset(path):
            raise ConfigError(
                f"{path.name} is a zarr store without dimension names, so it is not an xarray dataset; "
                "load it with as_='zarr'."
            )
        dataset = open_dataset(path)
        return _only_variable(dataset, path) if as_ == "dataarray" else dataset
    import zarr

    return zarr.open(str(path), mode="r")
