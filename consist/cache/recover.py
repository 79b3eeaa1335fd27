"""Recovering artifacts whose files are gone ("ghost mode": records outlive files).

:func:`recover` makes an artifact's recorded bytes exist again at its recorded path:

1. if another recorded file holds the same content (the producing run's original when
   the artifact is a hydrated copy, or another execution of the same step signature),
   that file is re-hashed and copied;
2. otherwise the producing run is re-executed, after restoring *its* missing inputs the
   same way, recursively: only the steps whose outputs are needed run, upstream first.
   The function is the one this process still holds under the run's code identity (a
   function defined inside another function or in a notebook cell), or else is
   re-imported from the module and qualified name recorded in the run (it must be
   importable in this process and its code identity unchanged); it is called with
   the recorded inputs, config and replay recipe (:mod:`consist.engine.replay`), and the bytes
   it produces are checked against the recorded hash before they are put in place.

``cache_hydration="inputs-missing"`` uses the same machinery (:func:`restore_inputs`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from consist.artifacts import relocate
from consist.artifacts.placement import PlacementError, place
from consist.engine import live_steps
from consist.engine.spec import build_spec
from consist.engine.step import run_step
from consist.errors import InputNotFoundError, RecoveryError
from consist.identity.code import identify
from consist.identity.digests import config_hash
from consist.identity.hashing import Hasher
from consist.models import Artifact, Run

if TYPE_CHECKING:
    from consist.engine.host import StepHost
    from consist.models import RunResult

# Same-content files tried before re-executing anything.
_MAX_SOURCES = 8


@dataclass(frozen=True)
class Recovery:
    """What :meth:`Tracker.recover` did.

    Attributes
    ----------
    artifact
        The recovered artifact; its file now holds the recorded bytes.
    executed
        Runs re-executed to regenerate it, in the order they ran (upstream first).
    copied
        ``(source, target)`` paths of the verified copies placed.
    actions
        What was done, in order, one line each.
    """

    artifact: Artifact
    executed: tuple[Run, ...] = ()
    copied: tuple[tuple[Path, Path], ...] = ()
    actions: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"recovered {self.artifact.key!r} at {self.artifact.path}"]
        lines.extend(f"  {action}" for action in self.actions or ("it was already intact",))
        return "\n".join(lines)


@dataclass
class _State:
    host: StepHost
    runtime_kwargs: Mapping[str, Mapping[str, Any]]
    overwrite: bool
    executed: list[Run] = field(default_factory=list)
    copied: list[tuple[Path, Path]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    results: dict[str, RunResult] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)
    strict: Hasher = field(default_factory=lambda: Hasher(None, strict=True))


def recover(
    host: StepHost,
    artifact: Artifact,
    *,
    runtime_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    overwrite: bool = False,
) -> Recovery:
    """Make ``artifact``'s recorded bytes exist again at its path (see the module docs)."""
    if not isinstance(artifact, Artifact):
        raise RecoveryError(f"recover() takes an Artifact (e.g. result.outputs['key']); got a {type(artifact).__name__}.")
    state = _State(host, runtime_kwargs or {}, overwrite)
    artifact = _here(host, artifact)
    _restore(state, artifact)
    return Recovery(artifact, tuple(state.executed), tuple(state.copied), tuple(state.actions))


def restore_inputs(host: StepHost, inputs: Mapping[str, Artifact]) -> None:
    """Restore the produced inputs whose files are absent (``cache_hydration="inputs-missing"``)."""
    state = _State(host, {}, False)
    for name, artifact in inputs.items():
        artifact = _here(host, artifact)
        if artifact.run_id is None or artifact.path.exists():
            continue
        try:
            _restore(state, artifact)
        except RecoveryError as exc:
            raise InputNotFoundError(
                f"Input {name!r} is missing at {artifact.path} and cache_hydration='inputs-missing' "
                f"could not restore it: {exc}"
            ) from exc


def _here(host: StepHost, artifact: Artifact) -> Artifact:
    """``artifact`` at its place in this run folder when its run is in this catalog.

    Records made before the run folder moved (or on another machine) name paths that
    are not this tracker's; bytes are restored under ``tracker.run_dir`` instead.
    """
    if artifact.run_id is None or host.records.get(artifact.run_id) is None:
        return relocate.rebase(host.run_dir, artifact)
    return relocate.rebase(host.run_dir, artifact, must_exist=False)


def _status(state: _State, artifact: Artifact) -> str:
    path = artifact.path
    if not path.exists():
        return "missing"
    return "ok" if state.host.hasher.hash_path(path) == artifact.hash else "modified"


def _restore(state: _State, artifact: Artifact) -> None:
    status = _status(state, artifact)
    if status == "ok":
        return
    if status == "modified" and not state.overwrite:
        raise RecoveryError(
            f"{artifact.path} exists but no longer holds the recorded bytes of {artifact.key!r} (hash "
            f"{artifact.hash[:16]}...). Pass overwrite=True to replace it with regenerated bytes."
        )
    for source in _sources(state.host, artifact):
        if state.strict.hash_path(source) != artifact.hash:
            continue
        if _put(state, source, artifact):
            return
    if artifact.run_id is None:
        raise RecoveryError(
            f"{artifact.key!r} at {artifact.path} is a raw input that no tracked run produced, and no other "
            f"recorded file holds its content (hash {artifact.hash[:16]}...); restore the file yourself."
        )
    producer = state.host.records.get(artifact.run_id)
    if producer is None:
        raise RecoveryError(
            f"{artifact.key!r} was produced by run {artifact.run_id}, which is not in the catalog at "
            f"{state.host.layout.root}; it cannot be regenerated."
        )
    result = state.results.get(producer.id) or _reexecute(state, producer)
    key = next((o.key for o in producer.outputs if o.hash == artifact.hash), artifact.key)
    fresh = result.outputs.get(key)
    if fresh is None or fresh.hash != artifact.hash:
        got = f"bytes hashing to {fresh.hash[:16]}... at {fresh.path}" if fresh is not None else "no such output"
        raise RecoveryError(
            f"re-executing step {producer.name!r} (run {result.run.id}) gave {got} for output {key!r}, not the "
            f"recorded {artifact.hash[:16]}... of run {producer.id}: the step is not deterministic, or reads "
            f"something outside its recorded inputs. {artifact.path} was left as it was."
        )
    if fresh.path != artifact.path and not _put(state, fresh.path, artifact):
        raise RecoveryError(f"regenerated {key!r} at {fresh.path} but could not copy it to {artifact.path}.")


def _put(state: _State, source: Path, artifact: Artifact) -> bool:
    try:
        place([(source, artifact.path)])
    except PlacementError:
        return False
    if artifact.path.is_file():
        state.host.hasher.remember(artifact.path, artifact.hash)
    state.copied.append((source, artifact.path))
    state.actions.append(f"copied {source} -> {artifact.path} (hash verified)")
    return True


def _sources(host: StepHost, artifact: Artifact) -> Iterator[Path]:
    """Existing recorded files that should hold ``artifact``'s content (checked by the caller)."""
    if artifact.run_id is None:
        return
    producer = host.records.get(artifact.run_id)
    if producer is None:
        return
    seen = {artifact.path}
    candidates: list[Artifact] = list(producer.outputs)
    for entry in host.index.entries(producer.signature):
        candidates.extend(entry.outputs)
    for components in host.index.recent(producer.name):
        if components.signature == producer.signature and components.run_id != producer.id:
            other = host.records.get(components.run_id)
            if other is not None:
                candidates.extend(other.outputs)
    # A container step's output was copied from the host path the container wrote; that
    # file is another copy (the caller checks its hash, as for every source).
    candidates = relocate.rebase_all(host.run_dir, candidates)
    paths = [c.path for c in candidates if c.hash == artifact.hash]
    paths += [Path(c.meta["host_path"]) for c in candidates if c.hash == artifact.hash and c.meta.get("host_path")]
    count = 0
    for path in paths:
        if path in seen or not path.exists():
            continue
        seen.add(path)
        yield path
        count += 1
        if count >= _MAX_SOURCES:
            return


def _reexecute(state: _State, producer: Run) -> RunResult:

    if producer.id in state.active:
        raise RecoveryError(f"run {producer.id} depends on its own output; it cannot be regenerated.")
    state.active.add(producer.id)
    recipe = producer.replay
    where = f"step {producer.name!r} (run {producer.id})"
    version = producer.code.version if producer.code is not None and producer.code.kind == "version" else None
    fn = _live(producer, version)
    _check_replayable(producer, where, fn)
    if fn is None:
        fn = _import(recipe["function"], where, "function")
    code, _ = identify(fn, recipe.get("code_identity", "callable_source"), version)
    if code.hash != producer.code_hash:
        raise RecoveryError(
            f"{where} ran {recipe['function']}, whose code has changed since (identity {producer.code_hash[:12]} "
            f"-> {code.hash[:12]}); only the code that produced it can reproduce it. Check that version out, "
            "or re-run the step to make a new artifact."
        )
    config = _config(producer, recipe, where)
    inputs = [_here(state.host, a) for a in producer.inputs]
    for artifact in inputs:
        if artifact.run_id is not None:
            _restore(state, artifact)
        elif _status(state, artifact) != "ok":
            raise RecoveryError(
                f"{where} read the raw input {artifact.key!r} at {artifact.path}, which is "
                f"{'gone' if not artifact.path.exists() else 'changed'} since (recorded hash "
                f"{artifact.hash[:16]}...); restore that file to regenerate its outputs."
            )
    capture = recipe.get("capture")
    spec = build_spec(
        producer.name,
        fn,
        inputs={a.key: a for a in inputs},
        config=config,
        outputs=list(recipe.get("outputs", ())),
        load_inputs=recipe.get("load_inputs", False),
        runtime_kwargs=_runtime_kwargs(state, producer, recipe, where),
        inject_context=recipe.get("inject_context", False),
        capture_dir=capture[0] if capture else None,
        capture_pattern=capture[1] if capture else "*",
        year=producer.year,
        iteration=producer.iteration,
        tags=list(producer.tags),
        parent_id=producer.parent_id,
        model=producer.model,
        meta=producer.meta,
        code_version=version,
        code_identity=recipe.get("code_identity"),
    )
    result = run_step(state.host, spec)
    if not result.cache_hit:
        state.executed.append(result.run)
        state.actions.append(f"re-executed step {producer.name!r} (run {producer.id}) as run {result.run.id}")
    state.results[producer.id] = result
    return result


def _check_replayable(producer: Run, where: str, live: Any) -> None:
    recipe = producer.replay
    if not recipe or ("function" not in recipe and live is None):
        if producer.kind == "trace":
            why = "it was a traced block (sc.trace); re-run the scenario instead"
        elif recipe:
            why = "its callable has no importable name (a functools.partial or a callable object?)"
        else:
            why = "its record holds no replay recipe (not a function step, or recorded by an older consist)"
        raise RecoveryError(f"{where} cannot be re-executed: {why}.")


def _live(producer: Run, version: str | None) -> Any:
    """The function that produced ``producer``, if this process still holds it (matched by code identity).

    A function defined inside another function or in a notebook cell cannot be imported
    again, but while it lives it can re-run.
    """
    fn = live_steps.find(producer.code_hash)
    if fn is None or producer.replay is None:
        return None
    code, _ = identify(fn, producer.replay.get("code_identity", "callable_source"), version)
    return fn if code.hash == producer.code_hash else None


def _import(target: str, where: str, what: str) -> Any:
    module_name, _, qualname = target.partition(":")
    if not qualname or "<" in qualname:
        raise RecoveryError(
            f"{where} ran {target}, which is defined inside a function (or is a lambda) and cannot be "
            f"imported again, and this process no longer holds it; define the {what} at module level "
            "to make its outputs recoverable."
        )
    try:
        obj: Any = sys.modules.get(module_name) or importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise RecoveryError(f"{where} ran {target}, which cannot be imported in this process ({exc}).") from None
    return obj


def _config(producer: Run, recipe: Mapping[str, Any], where: str) -> Any:
    kind = recipe.get("config", "dict")
    if kind is None:
        config: Any = None
    elif kind == "dict":
        config = dict(recipe.get("config_values") or producer.config)
    else:
        cls = _import(kind, where, "config class")
        try:
            if hasattr(cls, "model_validate"):
                config = cls.model_validate(producer.config)
            else:
                config = msgspec.convert(producer.config, cls, strict=False)
        except (ValueError, TypeError) as exc:  # pydantic and msgspec validation errors are ValueErrors
            raise RecoveryError(f"{where}: cannot rebuild its {kind} config from the record ({exc}).") from None
    if config_hash(config) != producer.config_hash:
        raise RecoveryError(f"{where}: its config rebuilt from the record no longer hashes the same; cannot replay it.")
    return config


def _runtime_kwargs(state: _State, producer: Run, recipe: Mapping[str, Any], where: str) -> dict[str, Any] | None:
    recorded: dict[str, str | None] = recipe.get("runtime_kwargs") or {}
    given = dict(state.runtime_kwargs.get(producer.name) or {})
    missing = sorted(k for k, v in recorded.items() if v is None and k not in given)
    if missing:
        raise RecoveryError(
            f"{where} was called with runtime_kwargs {missing}, whose values are not recorded (they are "
            f"never hashed). Pass them: tracker.recover(artifact, runtime_kwargs={{{producer.name!r}: {{...}}}})."
        )
    values: dict[str, Any] = {k: Path(v) for k, v in recorded.items() if v is not None}
    values.update(given)
    return values or None
