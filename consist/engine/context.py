"""The run context a step receives: what it can see and log its outputs into.

While a step executes, its :class:`RunContext` is the active run (see
:mod:`consist._active`): ``consist.log_dataframe`` and ``consist.log_artifact`` log into
it, and ``inject_context=True`` passes it to the step as ``_consist_ctx``.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.artifacts.files import check_key, file_artifact, frame_artifact
from consist.artifacts.formats.drivers import driver_for
from consist.errors import ConfigError
from consist.keywords import check_extra_keywords
from consist.upstream import check_file_driver, logging_options

if TYPE_CHECKING:
    from consist.identity.hashing import Hasher
    from consist.models import Artifact
    from consist.mounts import Mounts

# log_artifact()'s own options, for spotting a misspelt one among its metadata keywords.
_LOG_ARTIFACT_OPTIONS = (
    "key",
    "content_hash",
    "force_hash_override",
    "validate_content_hash",
    "profile_file_schema",
    "file_schema_sample_rows",
)


class RunContext:
    """What a running step can see and log into (passed as ``_consist_ctx``).

    Attributes
    ----------
    run_id
        The id this execution is recorded under.
    run_dir
        A folder of this run's own, created before the step starts; write outputs here.
    config
        The step's config as given.
    inputs
        Input artifacts by key.
    """

    def __init__(
        self,
        *,
        run_id: str,
        name: str,
        run_dir: Path,
        hasher: Hasher,
        config: Any,
        inputs: dict[str, Artifact],
        mounts: Mounts | None = None,
        real_dir: bool = False,
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.run_dir = run_dir
        self.config = config
        self.inputs = inputs
        self.outputs: dict[str, Artifact] = {}
        self._hasher = hasher
        self._mounts = mounts
        self._real_dir = real_dir  # run_dir is known to be its own real path (no resolving needed)

    def log_artifact(
        self,
        path: str | os.PathLike[str],
        key: str | None = None,
        *,
        content_hash: str | None = None,
        force_hash_override: bool = False,
        validate_content_hash: bool = False,
        profile_file_schema: bool = False,
        file_schema_sample_rows: int | None = None,
        **meta: Any,
    ) -> Artifact:
        """Record the file or folder at ``path`` as an output of this run under ``key``.

        ``key`` defaults to the file name's stem. Extra keyword arguments are stored as
        the artifact's metadata. ``profile_file_schema=True`` records a Parquet/CSV
        file's columns and a few statistics (over the first ``file_schema_sample_rows``
        rows, default all) in that metadata (see :mod:`consist.artifacts.schema_capture`).
        """
        # A misspelt option (contenthash=) would otherwise be stored as metadata.
        check_extra_keywords(meta, _LOG_ARTIFACT_OPTIONS, "log_artifact()")
        path = Path(path)
        if path.exists():
            check_file_driver(logging_options(meta, "log_artifact()"), driver_for(path), path.name, "log_artifact()")
        key = check_key(key if key is not None else path.name.split(".")[0] or path.name)
        artifact = file_artifact(
            path,
            key,
            run_id=self.run_id,
            hasher=self._hasher,
            meta=meta,
            content_hash=content_hash,
            force_hash_override=force_hash_override,
            validate_content_hash=validate_content_hash,
        )
        artifact = self._named(artifact)
        if profile_file_schema:
            import msgspec

            from consist.artifacts.schema_capture import profile_meta

            profile = profile_meta(artifact, file_schema_sample_rows)
            artifact = msgspec.structs.replace(artifact, meta={**artifact.meta, **profile})
        self.outputs[key] = artifact
        return artifact

    def log_output(self, path: str | os.PathLike[str], key: str | None = None, **meta: Any) -> Artifact:
        """Record ``path`` as an output of this run (alias of :meth:`log_artifact`)."""
        return self.log_artifact(path, key, **meta)

    def log_dataframe(self, df: Any, key: str, *, path: str | os.PathLike[str] | None = None, **meta: Any) -> Artifact:
        """Write a frame and record it as an output under ``key``.

        Without ``path`` it goes to ``<run folder>/<key>.parquet``; with ``path`` it is
        written there (a relative path from the current directory) in the format the
        suffix names: ``.parquet``, ``.csv``/``.tsv``, ``.feather``/``.arrow`` or
        ``.json``/``.jsonl``. Other keywords are the artifact's metadata.
        """
        driver = logging_options(meta, "log_dataframe()")
        check_key(key)
        if path is None and driver in (None, "parquet"):
            artifact = frame_artifact(
                df, key, self.run_dir, run_id=self.run_id, hasher=self._hasher, meta=meta, real_folder=self._real_dir
            )
        else:
            from consist.artifacts.frame_files import frame_target, write_frame

            target, driver = frame_target(self.run_dir, key, path, driver)
            if self._mounts:
                self._mounts.uri_for(target, f"output {key!r}")  # refused before anything is written
            kind = write_frame(df, key, target, driver)
            artifact = file_artifact(target, key, run_id=self.run_id, hasher=self._hasher, meta=meta, kind=kind)
        artifact = self._named(artifact)
        self.outputs[key] = artifact
        return artifact

    def _named(self, artifact: Artifact) -> Artifact:
        # Named through its mount (outputs://...) so the record outlives this machine's paths.
        if not self._mounts:
            return artifact
        uri = self._mounts.uri_for(Path(artifact.uri), f"output {artifact.key!r}")
        return artifact if uri == artifact.uri else _replace(artifact, uri=uri)

    def output_path(self, key: str, ext: str | None = "parquet") -> Path:
        """Where this step should write an output it logs itself: ``<run folder>/<key>.<ext>``.

        ``ext=None`` (or ``""``) gives a name without a suffix, e.g. for a folder. The
        run folder exists; nothing is created at the path. Log the file once written,
        with :meth:`log_artifact`.
        """
        check_key(key)
        suffix = str(ext or "").lstrip(".")
        if "/" in suffix or "\\" in suffix:
            raise ConfigError(f"output_path() ext={ext!r} must be a file extension such as 'csv', not a path.")
        return self.run_dir / (f"{key}.{suffix}" if suffix else key)

    @contextmanager
    def capture_outputs(self, directory: str | os.PathLike[str], pattern: str = "*") -> Iterator[list[Artifact]]:
        """Record files that appear or change in ``directory`` during the block.

        Files are matched against ``pattern`` (recursively; a pattern with ``/`` such as
        ``"**/*.csv"`` matches the path inside ``directory``) and keyed by their stem
        (``results.csv`` -> ``results``).
        """
        directory = Path(directory).expanduser().resolve()  # the block may chdir
        before = snapshot_files(directory, pattern)
        captured: list[Artifact] = []
        yield captured
        captured.extend(self.capture_changed(directory, pattern, before))

    def capture_changed(self, directory: Path, pattern: str, before: dict[Path, tuple[int, int]]) -> list[Artifact]:
        """Log files under ``directory`` that are new or changed since ``before``."""
        changed = [path for path, token in sorted(snapshot_files(directory, pattern).items()) if before.get(path) != token]
        keys = [_stem_key(path, directory) for path in changed]
        # Files that share a stem ("persons.2020.csv", "persons.2030.csv") must not
        # overwrite each other: those keep every part of their name but the extension.
        shared = {key for key in keys if keys.count(key) > 1}
        keys = [_stem_key(path, directory, full=True) if key in shared else key for path, key in zip(changed, keys)]
        return [self.log_artifact(path, key) for path, key in zip(changed, keys)]


def _replace(artifact: Artifact, **changes: Any) -> Artifact:
    import msgspec

    return msgspec.structs.replace(artifact, **changes)


def snapshot_files(directory: Path, pattern: str) -> dict[Path, tuple[int, int]]:
    """(size, mtime_ns) of every file under ``directory`` whose name matches ``pattern``."""
    if not directory.exists():
        return {}
    if not directory.is_dir():
        raise ConfigError(f"capture directory {directory} is a file; give the folder the tool writes into.")
    out = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = Path(root, name)
            if _matches(path, name, directory, pattern):
                st = path.stat()
                out[path] = (st.st_size, st.st_mtime_ns)
    return out


def _matches(path: Path, name: str, directory: Path, pattern: str) -> bool:
    # "*.csv" matches file names at any depth; a pattern with "/" ("**/*.csv",
    # "tables/*.csv") matches the path relative to the folder, "**/" also at its top.
    if "/" not in pattern:
        return fnmatch.fnmatch(name, pattern)
    rel = path.relative_to(directory).as_posix()
    return fnmatch.fnmatch(rel, pattern) or (pattern.startswith("**/") and fnmatch.fnmatch(rel, pattern[3:]))


def _stem_key(path: Path, directory: Path, *, full: bool = False) -> str:
    stem = (path.stem if full else path.name.split(".")[0]) or path.name
    rel_parent = path.parent.relative_to(directory)
    if rel_parent.parts:
        return "__".join([*rel_parent.parts, stem])
    return stem
