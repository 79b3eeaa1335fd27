"""Format drivers: how each kind of file is loaded and scanned.

A driver is chosen from the path (extension, or a ``.zarr`` folder). Each driver offers
``load(path, as_)`` and ``scan(path)``; the ``file`` and ``dir`` drivers only know
paths. Drivers are plain functions in a registry, each testable alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from consist.artifacts.formats import table_memo
from consist.artifacts.formats.frames import LOAD_KINDS, from_arrow, from_polars, to_pandas
from consist.artifacts.formats.literal import glob_escape
from consist.errors import ConfigError

_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".feather": "arrow",
    ".arrow": "arrow",
    ".ipc": "arrow",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".zarr": "zarr",
}

TABULAR = frozenset({"parquet", "csv", "arrow", "json"})


def driver_for(path: Path) -> str:
    """The driver name for ``path``: by extension, ``dir`` or ``file`` otherwise."""
    suffixes = path.suffixes
    ext = suffixes[-1].lower() if suffixes else ""
    if ext in (".gz", ".zst", ".bz2") and len(suffixes) > 1:
        ext = suffixes[-2].lower()
    name = _EXTENSIONS.get(ext)
    if name == "zarr" or (name is None and path.is_dir() and (path / "zarr.json").exists()):
        return "zarr"
    if name is not None:
        return name
    return "dir" if path.is_dir() else "file"


def _sep(path: Path) -> str:
    return "\t" if ".tsv" in path.suffixes else ","


_SMALL_PARQUET = 8 << 20  # bytes: read in one call, converted without thread pools
_SERIAL_PARQUET = 1 << 20  # bytes: Polars decodes on the calling thread


def _small_bytes(path: Path) -> bytes | None:
    """The bytes of ``path`` when it is a file of at most ``_SMALL_PARQUET`` bytes; else None.

    One open and one read: a missing file raises ``FileNotFoundError`` here.
    """
    opened = table_memo.open_small(path, _SMALL_PARQUET)
    if opened is None:
        return None
    with opened[0] as fh:
        return fh.read()


def _read_arrow(path: Path) -> tuple[Any, bool]:
    """The Parquet file (or dataset folder) at ``path`` as an Arrow table, and whether it is small.

    A small file is decoded on this thread, once per process while it is unchanged
    (:mod:`consist.artifacts.formats.table_memo`).
    """
    table = table_memo.read_small(path)
    if table is not None:
        return table, True
    import pyarrow.parquet as pq

    return pq.read_table(path), False


def _load_parquet(path: Path, as_: str) -> Any:
    if as_ == "pandas":
        # Through Arrow so that a pandas index logged with the frame comes back.
        table, small = _read_arrow(path)
        return to_pandas(table, use_threads=not small)
    if as_ == "arrow":
        return _read_arrow(path)[0]
    if as_ == "duckdb":
        import duckdb

        return duckdb.read_parquet(glob_escape(path))
    import polars as pl

    # glob=False everywhere: a file named ``raw[1].parquet`` is that file, not a pattern.
    if as_ == "lazy":
        return pl.scan_parquet(path, glob=False)
    data = _small_bytes(path)
    if data is not None:
        # One read call, decoded from memory on this thread: for the small files most
        # steps pass on, handing row groups to the thread pool (and reading statistics
        # no filter uses) costs more than decoding them (0.35 -> 0.22 ms for 100 rows).
        return pl.read_parquet(data, parallel="none" if len(data) <= _SERIAL_PARQUET else "auto", use_statistics=False)
    return pl.read_parquet(path, glob=False)


def _load_csv(path: Path, as_: str) -> Any:
    if as_ == "pandas":
        import pandas as pd

        return pd.read_csv(path, sep=_sep(path))
    if as_ == "duckdb":
        import duckdb

        return duckdb.read_csv(glob_escape(path))
    import polars as pl

    if as_ == "lazy":
        return pl.scan_csv(path, separator=_sep(path), glob=False)
    return from_polars(pl.read_csv(path, separator=_sep(path), glob=False), as_)


def _load_arrow(path: Path, as_: str) -> Any:
    import polars as pl

    if as_ == "lazy":
        return pl.scan_ipc(path, glob=False)
    if as_ in ("arrow", "pandas"):
        import pyarrow.feather as feather

        return from_arrow(feather.read_table(path), as_)
    return from_polars(pl.scan_ipc(path, glob=False).collect(), as_)  # read_ipc has no glob=False


def _load_json(path: Path, as_: str | None) -> Any:
    lines = path.suffix.lower() in (".jsonl", ".ndjson")
    if as_ is None and not lines:
        import msgspec

        data = path.read_bytes()
        try:
            return msgspec.json.decode(data)
        except msgspec.DecodeError:
            import json

            # NaN/Infinity tokens (not strict JSON; written for non-finite step results).
            return json.loads(data)
    # JSON lines are records, one per line: a table like any other tabular file.
    as_ = as_ or "polars"
    import polars as pl

    # Polars' JSON readers expand glob patterns and have no glob=False: give them the bytes.
    with open(path, "rb") as fh:
        df = pl.read_ndjson(fh) if lines else pl.read_json(fh)
    return df.lazy() if as_ == "lazy" else from_polars(df, as_)


def _load_zarr(path: Path, as_: str | None) -> Any:
    from consist.artifacts.formats.xarray_support import load_store

    return load_store(path, as_)


_LOADERS: dict[str, Callable[[Path, Any], Any]] = {
    "parquet": _load_parquet,
    "csv": _load_csv,
    "arrow": _load_arrow,
    "json": _load_json,
    "zarr": _load_zarr,
}


def load(path: Path, driver: str, as_: str | None = None, frame_kind: str | None = None) -> Any:
    """Load ``path`` with ``driver``.

    Tabular files load as the frame kind they were logged as (``frame_kind``), else as
    a Polars DataFrame; ``as_`` overrides. JSON nobody logged as a frame loads as the
    Python value it holds; zarr stores open lazily; other files load as their Path.
    """
    zarr_kind = driver == "zarr" and as_ in ("xarray", "dataarray", "zarr")
    if as_ is not None and as_ not in LOAD_KINDS and as_ != "path" and not zarr_kind:
        raise ConfigError(f"as_={as_!r} is not a frame kind; expected one of {', '.join(LOAD_KINDS)} or 'path'.")
    if as_ == "path":
        return path
    loader = _LOADERS.get(driver)
    if loader is None:
        if as_ is not None:
            raise ConfigError(
                f"{path.name} has driver {driver!r}, which cannot load as {as_!r}; "
                "load it without as_= to get its path."
            )
        return path
    if driver in TABULAR and as_ is None and not (driver == "json" and frame_kind is None):
        as_ = frame_kind or "polars"
    return loader(path, as_)


def scan(path: Path, driver: str) -> Any:
    """A Polars LazyFrame over a tabular file."""
    import polars as pl

    if driver == "parquet":
        return pl.scan_parquet(path, glob=False)
    if driver == "csv":
        return pl.scan_csv(path, separator=_sep(path), glob=False)
    if driver == "arrow":
        return pl.scan_ipc(path, glob=False)
    if driver == "json":
        return _load_json(path, "lazy")
    raise ConfigError(
        f"{path.name} has driver {driver!r}, which is not tabular; consist.scan needs "
        "a parquet, csv, arrow or json artifact. Use consist.load for other kinds."
    )
