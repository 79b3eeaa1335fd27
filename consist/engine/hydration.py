"""Cache hydration: materialising cached files when a step hits the cache.

Modes (``cache_hydration=`` on a run, ``step_cache_hydration=`` on a scenario):

``"metadata"`` (default)
    Nothing is copied: the hit's artifacts point at the producing run's files.
``"outputs-requested"``
    Copy the cached outputs named in ``output_paths={key: path}`` (or its synonym
    ``hydrate_to=``) to those paths (a path written as a string ending in ``/`` is a
    folder: the output keeps its file name there).
``"outputs-all"``
    Copy every cached output into the folder ``hydrate_dir``, or into the new run's own
    folder when no ``hydrate_dir`` is given (keeping each file's path relative to the
    producing run's folder, or its name when it lies elsewhere).
``"inputs-missing"``
    On a miss, restore absent input files before executing (see :mod:`consist.cache.recover`).

Copies are all or nothing: every file is first copied to a temporary sibling name, then
all are renamed into place; on any failure (disk full, permission denied, a parent that
is a file) everything placed is removed again and the hit becomes a miss. A destination
that already holds different bytes is refused unless ``hydrate_overwrite=True``; one that
holds the same bytes is left alone. A source is copied only if it still matches its
recorded hash (checked as ``Tracker(verify_outputs=...)`` says: by stat then hash, or
always by hash).

This module owns copying and its checks; it decides nothing about hits and misses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from consist.artifacts.files import artifact_id, bytes_problem, check_key
from consist.artifacts.formats.drivers import TABULAR, driver_for
from consist.artifacts.placement import PlacementError, place
from consist.errors import ConfigError, HydrationConflictError, OutputError, OutputMissingError
from consist.identity.hashing import stat_fingerprint
from consist.models import Artifact, CacheEntry

if TYPE_CHECKING:
    from consist.engine.host import StepHost
    from consist.engine.spec import StepSpec

MODES = ("metadata", "outputs-requested", "outputs-all", "inputs-missing")
# Modes that copy files when a step hits the cache.
ON_HIT = ("outputs-requested", "outputs-all")


def check_spec(spec: StepSpec) -> None:
    """Validate the hydration options of ``spec`` (mode and destinations)."""
    mode = spec.cache_hydration
    if mode not in MODES:
        raise ConfigError(f"cache_hydration={mode!r} is not a mode; expected one of {', '.join(map(repr, MODES))}.")
    if spec.hydrate_to is not None and mode != "outputs-requested":
        raise ConfigError(
            f"hydrate_to= is used only with cache_hydration='outputs-requested' (got {mode!r}); "
            "set that mode or drop hydrate_to=."
        )
    if spec.hydrate_dir is not None and mode != "outputs-all":
        raise ConfigError(
            f"hydrate_dir= is used only with cache_hydration='outputs-all' (got {mode!r}); "
            "set that mode or drop hydrate_dir=."
        )
    if mode == "outputs-requested":
        if not isinstance(spec.hydrate_to, Mapping) or not spec.hydrate_to:
            raise ConfigError(
                "cache_hydration='outputs-requested' needs output_paths={output_key: destination_path} "
                "(or its synonym hydrate_to=), naming the cached outputs to copy and where; "
                f"got {spec.hydrate_to!r}."
            )
        seen: dict[Path, str] = {}
        for key, dest in spec.hydrate_to.items():
            check_key(key, "hydrate_to key")
            if not isinstance(dest, (str, os.PathLike)):
                raise ConfigError(f"hydrate_to[{key!r}] is a {type(dest).__name__}; expected a path.")
            if into_folder(dest):
                continue  # "out/": the output keeps its file name inside that folder
            target = destination(dest)
            if target in seen:
                raise ConfigError(f"hydrate_to sends both {seen[target]!r} and {key!r} to {target}; give each its own path.")
            seen[target] = key
    if mode == "outputs-all" and not isinstance(spec.hydrate_dir, (str, os.PathLike, type(None))):
        raise ConfigError(
            "cache_hydration='outputs-all' takes hydrate_dir=, the folder to copy every cached output into "
            f"(or none: the new run's own folder); got hydrate_dir={spec.hydrate_dir!r}."
        )


def check_output_paths(spec: StepSpec) -> None:
    """Validate ``output_paths=`` of a function step: a mapping of declared output keys to paths."""
    paths = spec.output_paths
    if not isinstance(paths, Mapping) or not paths:
        raise ConfigError(f"output_paths= must map output keys to paths, like {{'cleaned': 'out/cleaned.parquet'}}; got {paths!r}.")
    seen: dict[Path, str] = {}
    for key, dest in paths.items():
        check_key(key, "output_paths key")
        if spec.outputs and key not in spec.outputs:
            raise ConfigError(f"output_paths names {key!r}, which is not among outputs={list(spec.outputs)}; declare it or drop it.")
        if not isinstance(dest, (str, os.PathLike)):
            raise ConfigError(f"output_paths[{key!r}] is a {type(dest).__name__}; expected a path.")
        target = destination(dest)
        if not into_folder(dest) and target in seen:
            raise ConfigError(f"output_paths sends both {seen[target]!r} and {key!r} to {target}; give each its own path.")
        seen[target] = key


def check_format(artifact: Artifact, target: Path, option: str) -> None:
    """Refuse copying ``artifact`` to a file name that says another format (Parquet bytes in ``x.csv``)."""
    named = driver_for(target)
    formats = TABULAR | {"zarr"}
    if named != artifact.driver and named in formats and artifact.driver in formats:
        raise ConfigError(
            f"{option}[{artifact.key!r}] is {target.name!r}, a {named} file name, but output {artifact.key!r} is "
            f"stored as {artifact.driver} ({artifact.path.name}); copying it there would give {named} readers "
            f"{artifact.driver} bytes. End the path in {artifact.path.suffix!r}, or give a folder ending in '/'."
        )


def destination(path: str | os.PathLike[str]) -> Path:
    """An absolute destination path (relative ones are taken from the working directory); refuses a NUL byte."""
    text = os.fspath(path)
    if ("\x00" if isinstance(text, str) else b"\x00") in text:
        raise ConfigError(
            f"hydration destination {text!r} contains a NUL byte (\\x00), which no file name can hold; "
            "pass the path without it (often a C string or a fixed-width field copied whole)."
        )
    return Path(os.path.abspath(Path(os.fsdecode(text)).expanduser()))


def into_folder(path: str | os.PathLike[str]) -> bool:
    """Whether a ``hydrate_to`` destination names a folder to copy into (a string ending in ``/``)."""
    return isinstance(path, str) and path.endswith(("/", os.sep))


def plan(
    host: StepHost, spec: StepSpec, entry: CacheEntry, own_folder: Path | None = None
) -> list[tuple[Artifact, Path, bool]] | str:
    """(cached artifact, destination, needs a copy) for each output to hydrate, or why the hit is unusable.

    A destination that already holds the cached bytes needs no copy. ``own_folder`` is
    the new run's folder, where ``"outputs-all"`` copies when no ``hydrate_dir`` is given.

    Raises
    ------
    HydrationConflictError
        A destination holds different bytes and ``hydrate_overwrite`` is not set.
    """
    by_key = {a.key: a for a in entry.outputs}
    if spec.cache_hydration == "outputs-requested":
        pairs = []
        for key, dest in spec.hydrate_to.items():
            if key not in by_key:
                have = ", ".join(sorted(by_key)) or "none"
                return f"the cached run {entry.run_id} has no output {key!r} to hydrate (it has: {have})"
            target = destination(dest) / by_key[key].path.name if into_folder(dest) else destination(dest)
            check_format(by_key[key], target, "hydrate_to")
            pairs.append((by_key[key], target))
    else:
        if spec.hydrate_dir is not None:
            folder = destination(spec.hydrate_dir)
        else:
            folder = own_folder if own_folder is not None else host.run_dir / "(the new run)"
        producer_dir = host.run_dir / entry.run_id
        pairs, taken = [], {}
        for artifact in entry.outputs:
            source = artifact.path
            rel = source.relative_to(producer_dir) if producer_dir in source.parents else Path(source.name)
            dest = folder / rel
            if dest in taken:
                raise ConfigError(
                    f"outputs {taken[dest]!r} and {artifact.key!r} of run {entry.run_id} would both be copied "
                    f"to {dest}; hydrate them with cache_hydration='outputs-requested' and hydrate_to= instead."
                )
            taken[dest] = artifact.key
            pairs.append((artifact, dest))
    for artifact, _ in pairs:
        problem = source_problem(host, artifact)
        if problem:
            return f"{problem} (run {entry.run_id}); it was not copied"
    planned = []
    for artifact, dest in pairs:
        state = destination_state(host, artifact, dest)
        if state == "differs" and not spec.hydrate_overwrite:
            raise HydrationConflictError(
                f"cannot hydrate output {artifact.key!r} to {dest}: a different "
                f"{'folder' if dest.is_dir() else 'file'} is already there (the cached bytes hash to "
                f"{artifact.hash[:16]}...). Pass hydrate_overwrite=True to replace it, or choose another path."
            )
        planned.append((artifact, dest, state != "same"))
    return planned


def source_problem(host: StepHost, artifact: Artifact) -> str | None:
    """Why a cached output must not be copied (missing, or no longer its recorded bytes)."""
    if host.verify_outputs == "hash":
        return None  # the lookup has just re-hashed it
    # Under "stat" this repeats the lookup's check (a stat); under "exists" it is the only one.
    problem = bytes_problem(host.hasher, artifact, "stat")
    return f"cached {problem}" if problem else None


def destination_state(host: StepHost, artifact: Artifact, dest: Path) -> str:
    """``"absent"``, ``"same"`` (already holds the cached bytes) or ``"differs"``."""
    if not dest.exists() and not dest.is_symlink():
        return "absent"
    if dest == artifact.path:
        return "same"
    if dest.is_dir() != artifact.path.is_dir() or (dest.is_file() and dest.stat().st_size != artifact.size):
        return "differs"
    try:
        return "same" if host.hasher.hash_path(dest) == artifact.hash else "differs"
    except OSError:
        return "differs"


def preflight(host: StepHost, spec: StepSpec, entry: CacheEntry) -> str | None:
    """Why hydrating ``entry`` would fail, without copying anything (None: it would work)."""
    try:
        planned = plan(host, spec, entry)
    except (HydrationConflictError, ConfigError) as exc:
        return f"hydration would be refused: {exc}"
    return planned if isinstance(planned, str) else None


def hydrate_hit(
    host: StepHost, spec: StepSpec, entry: CacheEntry, own_folder: Path | None = None
) -> tuple[CacheEntry | None, str | None]:
    """Copy what ``spec`` asks for out of ``entry``; the entry to serve, or None and why not.

    The served entry's artifacts point at the copies (same hash and producing run, a new
    id and location). A failed copy leaves nothing behind and makes the hit a miss.
    """
    planned = plan(host, spec, entry, own_folder)
    if isinstance(planned, str):
        return None, planned
    pending = [(a, d) for a, d, needed in planned if needed]
    try:
        place([(a.path, d) for a, d in pending])
    except PlacementError as exc:
        return None, f"could not hydrate to {exc.target}: {exc.cause}; nothing was left at the destinations"
    for artifact, dest in pending:
        if dest.is_file():
            host.hasher.remember(dest, artifact.hash)
    copies = {a.key: copied(a, d) for a, d, _ in planned}
    return msgspec.structs.replace(entry, outputs=[copies.get(a.key, a) for a in entry.outputs]), None


def copied(artifact: Artifact, dest: Path) -> Artifact:
    """The artifact for a verified copy of ``artifact`` at ``dest`` (same bytes and producer)."""
    if dest == artifact.path:
        return artifact
    return msgspec.structs.replace(
        artifact, id=artifact_id(artifact.run_id, artifact.key, str(dest)), uri=str(dest), stat=stat_fingerprint(dest)
    )


def describe(spec: StepSpec) -> str:
    """How ``spec`` hydrates, in one line (for explanations)."""
    mode = spec.cache_hydration
    if mode == "outputs-requested" and spec.hydrate_to:
        return f"{mode} -> " + ", ".join(f"{k}: {destination(v)}" for k, v in spec.hydrate_to.items())
    if mode == "outputs-all":
        return f"{mode} -> {destination(spec.hydrate_dir) if spec.hydrate_dir is not None else 'the new run folder'}"
    return mode


def own_folder_id(host: StepHost, spec: StepSpec, new_run_id: Callable[[], str]) -> str | None:
    """The run id to take before the lookup when a hit copies into the new run's own folder."""
    if spec.cache_hydration == "outputs-all" and spec.hydrate_dir is None and spec.cache_mode != "overwrite":
        return new_run_id()
    return None


def deliver(spec: StepSpec, produced: Mapping[str, Artifact]) -> None:
    """After an execution, copy the outputs named in ``output_paths`` there (all or nothing).

    A destination holding older bytes is replaced: it is where this step's output goes.

    Raises
    ------
    OutputMissingError
        ``output_paths`` names an output the step did not produce.
    OutputError
        A copy failed; no destination changed.
    """
    if not spec.output_paths:
        return
    missing = [key for key in spec.output_paths if key not in produced]
    if missing:
        have = ", ".join(sorted(produced)) or "none"
        raise OutputMissingError(
            f"output_paths names {missing[0]!r}, which step {spec.name!r} did not produce (it produced: {have})."
        )
    pairs = []
    for key, dest in spec.output_paths.items():
        artifact = produced[key]
        target = destination(dest) / artifact.path.name if into_folder(dest) else destination(dest)
        check_format(artifact, target, "output_paths")
        if target != artifact.path:
            pairs.append((artifact.path, target))
    try:
        place(pairs)
    except PlacementError as exc:
        raise OutputError(f"could not copy output to {exc.target} (output_paths=): {exc.cause}; nothing was left there") from exc
