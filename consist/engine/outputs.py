"""Turning what a step returned into output artifacts.

- a frame (pandas, Polars eager or lazy, pyarrow) becomes ``<key>.parquet``;
- an ``xarray.Dataset``/``DataArray`` becomes the Zarr store ``<key>.zarr``;
- a :class:`~pathlib.Path` is logged as a file (or folder) artifact where it lies;
- an :class:`Artifact` is kept (re-keyed when needed);
- plain JSON values (numbers, strings, lists, dicts of them) become ``<key>.json``;
- a dict maps its keys to outputs; a tuple maps onto the declared ``outputs`` in order;
- ``None`` means the step logged its outputs itself (through the run context).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from consist.artifacts.files import check_key
from consist.artifacts.formats.frames import frame_kind
from consist.artifacts.formats.xarray_support import XARRAY_KIND, is_xarray, write_zarr
from consist.atomic import write_bytes
from consist.engine.context import RunContext
from consist.errors import ConfigError, OutputMissingError
from consist.models import Artifact

_JSON_SCALARS = (str, int, float, bool, type(None))


def collect(returned: Any, declared: Sequence[str], default_key: str, ctx: RunContext) -> None:
    """Log ``returned`` into ``ctx.outputs`` following the module rules."""
    if returned is None:
        return
    if is_xarray(returned):
        # An xarray.Dataset is a Mapping of its variables, but it is one N-d artifact.
        log_xarray(returned, declared[0] if declared else default_key, ctx)
        return
    if isinstance(returned, tuple) and frame_kind(returned) is None and not hasattr(returned, "_fields"):
        if len(declared) != len(returned):
            raise ConfigError(
                f"step returned a tuple of {len(returned)} values but declares outputs={list(declared)}; "
                "declare one output key per returned value."
            )
        for key, value in zip(declared, returned):
            _log_one(value, key, ctx)
        return
    if isinstance(returned, Mapping) and not _is_json_leaf_dict(returned, declared):
        for key, value in returned.items():
            _log_one(value, check_key(key), ctx)
        return
    key = declared[0] if declared else default_key
    _log_one(returned, key, ctx)


def _is_json_leaf_dict(value: Mapping[Any, Any], declared: Sequence[str]) -> bool:
    # A dict whose keys are not declared outputs, returned for a single declared
    # output, is that output's JSON value (e.g. a summary of metrics). A dict holding
    # frames or paths is not JSON: its keys are then output keys, so a mismatch with
    # outputs= is reported by key name.
    return len(declared) == 1 and not any(k in declared for k in value) and _jsonable(value)


def _log_one(value: Any, key: str, ctx: RunContext) -> Artifact:
    check_key(key)
    if isinstance(value, Artifact):
        if value.key == key and ctx.outputs.get(key) is value:
            return value
        artifact = msgspec.structs.replace(value, key=key)
        ctx.outputs[key] = artifact
        return artifact
    if frame_kind(value) is not None:
        return ctx.log_dataframe(value, key)
    if is_xarray(value):
        return log_xarray(value, key, ctx)
    if isinstance(value, Path):
        return ctx.log_artifact(value, key)
    if _jsonable(value):
        target = ctx.run_dir / f"{key}.json"
        data = msgspec.json.encode(value)
        if b"null" in data and _has_nonfinite(value):
            # msgspec writes NaN/inf as null, silently losing e.g. a NaN metric; the
            # stdlib writes the NaN/Infinity tokens most JSON readers (and load) accept.
            data = json.dumps(value, allow_nan=True).encode()
        write_bytes(target, data)
        return ctx.log_artifact(target, key)
    raise ConfigError(
        f"output {key!r} is a {type(value).__module__}.{type(value).__qualname__}; a step may return "
        "a frame, an xarray Dataset/DataArray, a Path, an Artifact, plain JSON values, a dict or tuple of those, or None "
        "(after logging files with _consist_ctx.log_output)."
    )


def _has_nonfinite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_has_nonfinite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    return False


def _jsonable(value: Any) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, (list, tuple)):
        return all(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in value.items())
    return False


def check_declared(declared: Sequence[str], produced: Mapping[str, Artifact], step: str) -> None:
    """Every declared output key must have been produced."""
    missing = [key for key in declared if key not in produced]
    if missing:
        got = ", ".join(sorted(produced)) or "nothing"
        raise OutputMissingError(
            f"step {step!r} declared outputs {missing} but did not produce them (it produced: {got}). "
            "Return them, log them with _consist_ctx.log_output(path, key=...), or remove them from outputs=."
        )


def log_xarray(obj: Any, key: str, ctx: RunContext) -> Artifact:
    """Write ``obj`` as ``<run folder>/<key>.zarr`` and record it as the run's output ``key``."""
    target = ctx.run_dir / f"{check_key(key)}.zarr"
    write_zarr(obj, key, target)
    artifact = msgspec.structs.replace(ctx.log_artifact(target, key), frame_kind=XARRAY_KIND)
    ctx.outputs[key] = artifact
    return artifact
