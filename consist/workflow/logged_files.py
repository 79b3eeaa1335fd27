"""``sc.log_artifacts``: log several existing files at once, each under its key.

All arguments are checked before anything is logged, so a bad entry (a frame among
the paths, a missing file, metadata for a key that is not logged) logs nothing.
Inside a running step the files become that step's outputs; elsewhere they are
hashed here and kept as outputs of the scenario's own record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from consist._active import current_run
from consist.artifacts.files import check_key, file_artifact
from consist.artifacts.formats.drivers import driver_for
from consist.catalog.record_values import record_mapping
from consist.errors import ConfigError, InputNotFoundError
from consist.models import Artifact
from consist.upstream import check_file_driver, logging_options


def log_files(
    paths: Mapping[str, str | os.PathLike[str]],
    metadata_by_key: Mapping[str, Mapping[str, Any]] | None,
    shared_metadata: Mapping[str, Any],
    *,
    run_id: str | None,
    hasher: Any,
    mounts: Any,
    sink: dict[str, Artifact],
) -> dict[str, Artifact]:
    """Log ``paths`` (see the module docs); outside a step, each artifact also goes into ``sink``."""
    per_key = _checked(paths, metadata_by_key, shared_metadata, mounts)
    # Checked for every key before any is logged (a path becomes its string, as in configs).
    metas = {key: record_mapping({**shared_metadata, **dict(per_key.get(key, {}))}, f"metadata of {key!r}") for key in paths}
    ctx = current_run(required=False)
    logged: dict[str, Artifact] = {}
    for key, path in paths.items():
        meta = metas[key]
        if ctx is not None:
            logged[key] = ctx.log_artifact(path, key, **meta)
        else:
            meta = {k: v for k, v in meta.items() if k not in ("direction", "driver")}  # checked above
            artifact = file_artifact(Path(path), key, run_id=run_id, hasher=hasher, meta=meta)
            uri = mounts.uri_for(artifact.path, f"log_artifacts() path for {key!r}")
            logged[key] = artifact if uri == artifact.uri else msgspec.structs.replace(artifact, uri=uri)
            sink[key] = logged[key]
    return logged


def _checked(
    paths: Mapping[str, Any],
    metadata_by_key: Mapping[str, Mapping[str, Any]] | None,
    shared_metadata: Mapping[str, Any],
    mounts: Any,
) -> dict[str, Mapping[str, Any]]:
    if not isinstance(paths, Mapping):
        raise ConfigError(f"log_artifacts() takes a mapping of key -> path; got a {type(paths).__name__}.")
    per_key = dict(metadata_by_key or {})
    unknown = sorted(set(per_key) - set(paths))
    if unknown:
        raise ConfigError(
            f"metadata_by_key names {unknown}, which are not among the logged keys {sorted(paths)}; "
            "fix the key or add its path."
        )
    for key, meta in per_key.items():
        if not isinstance(meta, Mapping):
            raise ConfigError(
                f"metadata_by_key[{key!r}] must be a mapping of metadata (e.g. {{'role': 'primary_unit'}}); "
                f"got a {type(meta).__name__}."
            )
    for key, path in paths.items():
        check_key(key)
        if not isinstance(path, (str, os.PathLike)):
            # Checked up front so a frame among paths logs nothing, not half the mapping.
            hint = (
                "log a frame with consist.log_dataframe(df, key=...) inside a step"
                if hasattr(path, "columns") or hasattr(path, "schema")
                else "give the path of an existing file or folder"
            )
            raise ConfigError(
                f"log_artifacts() logs existing files: {key!r} is a {type(path).__name__}, not a path; {hint}."
            )
        if not Path(path).exists():
            raise InputNotFoundError(f"cannot log {key!r}: {Path(path)} does not exist (nothing was logged).")
        # Upstream direction=/driver=, and a path outside every mount: refused before anything is logged.
        driver = logging_options({**shared_metadata, **dict(per_key.get(key, {}))}, "log_artifacts()")
        check_file_driver(driver, driver_for(Path(path)), Path(path).name, "log_artifacts()")
        mounts.uri_for(Path(path).resolve(), f"log_artifacts() path for {key!r}")
    return per_key
