"""Writing a logged frame where the caller asked, in the format its file name says.

``log_dataframe(df, key, path="out/persons.csv")`` writes CSV there; without ``path``
the frame goes to ``<run folder>/<key>.parquet`` (or the extension of ``driver=``, the
upstream Consist spelling). Every write goes to a temporary name first and is renamed
into place, so a failed write leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consist.artifacts.formats.drivers import driver_for
from consist.artifacts.formats.frames import frame_kind, write_parquet
from consist.atomic import name_target, temp_name
from consist.errors import ConfigError

# The drivers a frame can be written as, and the extension each gets by default.
EXTENSIONS = {"parquet": ".parquet", "csv": ".csv", "arrow": ".feather", "json": ".jsonl"}


def frame_target(folder: Path, key: str, path: Any, driver: str | None) -> tuple[Path, str]:
    """Where a frame logged under ``key`` goes, and the driver it is written with."""
    if driver is not None and driver not in EXTENSIONS:
        raise ConfigError(
            f"log_dataframe() cannot write {key!r} as driver={driver!r}; frames are written as "
            f"{', '.join(EXTENSIONS)} (or give path= with one of the extensions {', '.join(EXTENSIONS.values())})."
        )
    if path is None:
        name = driver or "parquet"
        return folder / f"{key}{EXTENSIONS[name]}", name
    target = Path(path).expanduser().resolve()
    found = driver_for(target) if not target.is_dir() else "dir"
    if found not in EXTENSIONS:
        raise ConfigError(
            f"log_dataframe() path {str(path)!r} for {key!r} names no frame format; end it with "
            f"one of {', '.join(sorted({'.parquet', '.csv', '.tsv', '.feather', '.arrow', '.json', '.jsonl'}))}."
        )
    if driver is not None and driver != found:
        raise ConfigError(
            f"log_dataframe() got driver={driver!r} but path {str(path)!r} is a {found} file name; "
            f"the format comes from the suffix: drop driver= or end the path in {EXTENSIONS[driver]}."
        )
    return target, found


def write_frame(obj: Any, key: str, target: Path, driver: str) -> str:
    """Write frame ``obj`` to ``target`` with ``driver``, atomically; returns its frame kind."""
    kind = frame_kind(obj)
    if kind is None:
        raise ConfigError(
            f"{key!r} is a {type(obj).__name__}, not a frame; log_dataframe takes a pandas or "
            "Polars DataFrame, a Polars LazyFrame or a pyarrow Table."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _write(obj, kind, target, driver)
    return kind


def _write(obj: Any, kind: str, target: Path, driver: str) -> None:
    if driver == "parquet":
        write_parquet(obj, kind, target)
        return
    tmp = temp_name(target)
    try:
        df = _as_polars(obj, kind)
        if driver == "csv":
            df.write_csv(tmp, separator="\t" if target.suffix.lower() == ".tsv" else ",")
        elif driver == "arrow":
            df.write_ipc(tmp)
        elif target.suffix.lower() in (".jsonl", ".ndjson"):
            df.write_ndjson(tmp)
        else:
            df.write_json(tmp)
        tmp.replace(target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        name_target(exc, target)
        raise


def _as_polars(obj: Any, kind: str) -> Any:
    import polars as pl

    if kind == "polars":
        return obj
    if kind == "lazy":
        return obj.collect()
    if kind == "pandas":
        # A named or non-default index is data: keep it as columns, as Parquet does.
        import pandas as pd

        if not isinstance(obj.index, pd.RangeIndex) or any(n is not None for n in obj.index.names):
            obj = obj.reset_index()
        return pl.from_pandas(obj)
    return pl.from_arrow(obj)

