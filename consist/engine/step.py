"""One step: resolve inputs -> signature -> cache lookup -> execute -> record.

The lifecycle is split so that function steps (:func:`run_step`) and inline blocks
(``sc.trace``) share it: :func:`prepare` computes identity, :func:`lookup` consults
the cache index (one small file read, no catalog query), :func:`serve_hit` records a
reuse, :func:`begin`/:func:`finish`/:func:`fail` bracket an execution. A run record is
written for every execution (by :func:`~consist.engine.run_record.write_record`),
and a cache entry only after a successful one.

Everything here works through a :class:`~consist.engine.host.StepHost`; the engine
never imports the ``Tracker`` or anything above its floor.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from consist._active import activate
from consist.artifacts import relocate
from consist.artifacts.files import MAX_KEY_BYTES, bytes_problem, check_key, raw_artifact, truncate_name
from consist.catalog import orphans
from consist.engine import live_steps
from consist.engine import binding, hydration, outputs, replay
from consist.engine import run_fields
from consist.engine.context import RunContext, snapshot_files
from consist.engine.run_ids import claim_run_folder, claim_run_id, hit_run_id
from consist.engine.run_record import write_record
from consist.engine.scenario_config import with_scenario_config
from consist.errors import ConfigError, InputError, error_context
from consist.identity.code import identify
from consist.identity.digests import (
    config_identity,
    inputs_hash,
    step_signature,
)
from consist.identity.reasons import StepComponents, closest, full_reason
from consist.models import Artifact, CacheEntry, CodeInfo, Run, RunResult

if TYPE_CHECKING:
    from consist.engine.host import StepHost
    from consist.engine.spec import StepSpec

CACHE_MODES = ("reuse", "overwrite", "readonly")


@dataclass(slots=True)
class Prepared:
    """A step's identity, computed before any lookup."""

    inputs: dict[str, Artifact]
    snapshot: dict[str, Any]
    code: CodeInfo
    source: str | None
    config_hash: str
    inputs_hash: str
    signature: str
    started_at: float

    def components(self, run_id: str, epoch: int, cached: bool = True) -> StepComponents:
        return StepComponents(
            run_id=run_id,
            signature=self.signature,
            code=self.code,
            config=self.snapshot,
            inputs={k: a.hash for k, a in self.inputs.items()},
            epoch=epoch,
            paths={k: a.uri for k, a in self.inputs.items()},
            producers={k: a.run_id for k, a in self.inputs.items() if a.run_id},
            cached=cached,
        )


def prepare(host: StepHost, spec: StepSpec) -> Prepared:
    """Validate ``spec`` and compute its signature (no execution, no catalog query)."""
    started = time.time()
    run_fields.check_fields(spec)  # a record that is written must decode: refuse what it cannot hold now
    if spec.cache_mode not in CACHE_MODES:
        raise ConfigError(f"cache_mode={spec.cache_mode!r} is not a mode; expected one of {', '.join(CACHE_MODES)}.")
    if spec.cache_hydration != "metadata" or spec.hydrate_to is not None or spec.hydrate_dir is not None:
        hydration.check_spec(spec)
    if spec.output_paths is not None:
        hydration.check_output_paths(spec)
    for key in spec.outputs:
        check_key(key)
    if spec.fn is not None and spec.inject_context:
        binding.check_context_param(binding.shape_of(spec.fn), spec.inject_context)
    resolved = resolve_inputs(host, spec.inputs)
    for i, dep in enumerate(spec.depends_on or ()):
        path = Path(dep)
        name = f"depends_on:{path.name}"
        if name in resolved:
            name = f"{name}#{i}"
        resolved[name] = raw_artifact(path, name, host.hasher, host.mounts)
    snapshot, chash = config_identity(spec.config)
    if spec.scenario_config:
        # The scenario's config= counts toward every step: the step's own digest and the
        # scenario's config are digested together (no scenario config, digest unchanged).
        snapshot = with_scenario_config(snapshot, spec.scenario_config)
        chash = config_identity({"step": chash, "scenario": spec.scenario_config})[1]
    code, source = spec.code_info or identify(
        spec.code_target if spec.code_target is not None else spec.fn,
        spec.code_identity or host.code_identity,
        spec.code_version,
    )
    ihash = inputs_hash({k: a.hash for k, a in resolved.items()})
    signature = step_signature(code.hash, chash, ihash, host.cache_epoch)
    return Prepared(resolved, snapshot, code, source, chash, ihash, signature, started)


def resolve_inputs(host: StepHost, inputs: Mapping[str, Any] | Sequence[Any] | None) -> dict[str, Artifact]:
    """Input artifacts by name: tracked artifacts keep their recorded hash; paths are hashed."""
    if not inputs:
        return {}
    if type(inputs) is dict or isinstance(inputs, Mapping):  # a dict skips the ABC check
        items = list(inputs.items())
    else:
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        items = []
        for value in inputs:
            if isinstance(value, Artifact):
                items.append((value.key, value))
            elif isinstance(value, (str, os.PathLike)):
                items.append((Path(value).name.split(".")[0] or Path(value).name, value))
            else:
                items.append((f"inputs[{len(items)}]", value))  # not an input: named for the error
        # Two list entries with the same name (files sharing a stem, artifacts sharing a
        # key) must both stay part of the identity: later ones get a positional suffix.
        seen: set[str] = set()
        for i, (name, value) in enumerate(items):
            if name in seen:
                name = f"{name}#{i}"
                items[i] = (name, value)
            seen.add(name)
    resolved: dict[str, Artifact] = {}
    for name, value in items:
        if not isinstance(name, str):
            raise ConfigError(f"input names must be strings; got {name!r}.")
        if isinstance(value, Artifact):
            value = relocate.rebase(host.run_dir, value)  # from a record made before a move
            resolved[name] = value if value.key == name else msgspec.structs.replace(value, key=name)
        elif isinstance(value, (str, os.PathLike)):
            resolved[name] = raw_artifact(value, name, host.hasher, host.mounts)
        else:
            kind = type(value).__name__
            if isinstance(value, (list, tuple)) and value:
                kind = f"{kind}[{type(value[0]).__name__}]"
            hint = "Pass one path (or consist Artifact) per input name."
            held = getattr(value, "outputs", value)  # a RunResult, or its .outputs
            if isinstance(held, Mapping) and held and all(isinstance(a, Artifact) for a in held.values()):
                hint = f"Pass one of its artifacts, e.g. result.outputs[{next(iter(held))!r}]."
            raise InputError(f"Input {name!r} is a {kind}; expected a path or an artifact. {hint}")
    return resolved


def lookup(
    host: StepHost, spec: StepSpec, prep: Prepared, *, hydrate: bool = True, run_id: str | None = None
) -> tuple[CacheEntry | None, str | None]:
    """The usable cache entry for ``prep``, or None with the reason it is unusable.

    With ``cache_hydration`` "outputs-requested"/"outputs-all" (and ``hydrate``), a hit
    first copies the outputs asked for; the entry returned points at the copies, and a
    failed copy makes it a miss (:mod:`consist.engine.hydration`). ``run_id`` is the id the
    call will be recorded under ("outputs-all" with no folder copies into its folder).
    """
    if spec.cache_mode == "overwrite":
        return None, "cache_mode='overwrite'"
    entry = host.index.get(prep.signature, spec.outputs)
    if entry is None:
        return None, None
    entry = relocate.rebase_entry(host.run_dir, entry)  # the run folder may have moved
    cached = {a.key for a in entry.outputs}
    missing = [k for k in spec.outputs if k not in cached]
    if missing:
        return None, f"the cached run {entry.run_id} has no output {missing[0]!r}"
    for artifact in entry.outputs:
        problem = output_problem(host, artifact)
        if problem:
            return None, f"{problem} (run {entry.run_id})"
    if hydrate and spec.cache_hydration in hydration.ON_HIT:
        return hydration.hydrate_hit(host, spec, entry, host.run_dir / run_id if run_id else None)
    return entry, None


def output_problem(host: StepHost, artifact: Artifact) -> str | None:
    """Why a cached output cannot be served (see :func:`consist.artifacts.files.bytes_problem`)."""
    return bytes_problem(host.hasher, artifact, host.verify_outputs)


def default_output_key(name: str) -> str:
    """The key of an undeclared single output: the step name, made safe as a file name."""
    safe = "".join("_" if c in "/\\\x00" else c for c in name).lstrip(".")
    return truncate_name(safe, MAX_KEY_BYTES) or "output"  # bytes: a CJK name must fit a file name


def serve_hit(
    host: StepHost, spec: StepSpec, prep: Prepared, entry: CacheEntry, run_id: str | None = None
) -> RunResult:
    """Record a reuse of ``entry`` and return its outputs without executing.

    ``run_id`` records the reuse under an id already claimed (a traced block that
    executed under :func:`begin` and turned out to match the cache).
    """
    run = write_record(
        host,
        spec,
        prep,
        run_id or hit_run_id(host.records, spec.name, spec.run_id),
        status="completed",
        outputs=entry.outputs,
        cache_hit=True,
        reused_run_id=entry.run_id,
    )
    if run_id is not None:
        orphans.release(run_id)  # a traced block that executed under begin()
    host.flusher.later([host.records.journal_path])
    return RunResult({a.key: a for a in entry.outputs}, run, True)


def begin(host: StepHost, spec: StepSpec, prep: Prepared, run_id: str | None = None) -> RunContext:
    """Create the run folder and the context an execution logs into.

    Callers restore absent inputs first (:func:`restore_inputs`), once per step.
    ``run_id``: one already taken (see :func:`consist.engine.hydration.own_folder_id`).
    """
    # A folder of a run still going is never an orphan: its id is held while it runs.
    if run_id is None and spec.run_id is None:  # the folder is the claim
        run_id, created = claim_run_folder(host.layout, host.run_dir, spec.name), True
    else:
        if run_id is None:
            run_id = claim_run_id(host.records, spec.name, spec.run_id, hold=True)
        else:
            orphans.hold(host.layout, run_id)
        created = _make_folder(host.run_dir / run_id)
    return RunContext(
        run_id=run_id, name=spec.name, run_dir=host.run_dir / run_id, hasher=host.hasher, config=spec.config,
        inputs=prep.inputs, mounts=host.mounts, real_dir=created,
    )


def _make_folder(folder: Path) -> bool:
    """Create a claimed run's folder; whether this call made it (so it is under the resolved run_dir)."""
    try:
        os.mkdir(folder)
        return True
    except FileExistsError:  # an id taken before (hydration into the run's own folder)
        return False
    except FileNotFoundError:  # the run folder itself was removed meanwhile
        folder.mkdir(parents=True, exist_ok=True)
        return False


def restore_inputs(host: StepHost, spec: StepSpec, prep: Prepared) -> None:
    """With ``cache_hydration="inputs-missing"``, restore produced inputs whose files are absent."""
    if spec.cache_hydration == "inputs-missing":
        host.restore_missing(prep.inputs)  # the front's hook: recovery sits above the engine


def finish(host: StepHost, spec: StepSpec, prep: Prepared, ctx: RunContext, reason: str | None) -> RunResult:
    """Record a successful execution and (unless read-only) its cache entry."""
    outputs.check_declared(spec.outputs, ctx.outputs, spec.name)
    produced = list(ctx.outputs.values())
    recent = host.index.recent(spec.name)
    components = prep.components(ctx.run_id, host.cache_epoch, cached=spec.cache_mode != "readonly")
    why = reason or full_reason(spec.name, closest(recent, components), components, host.records.get)
    run = write_record(
        host, spec, prep, ctx.run_id, status="completed", outputs=produced, miss_reason=why,
        replay=replay.recipe(spec, host.code_identity, prep.snapshot),
    )
    host.index.put_last(spec.name, components, recent)
    if prep.source is not None:
        host.remember_source(prep.code.hash, prep.source)
    # Last: once the entry exists nothing may fail, or a run recorded failed (a full disk
    # while writing the bookkeeping above) would still be served as a cache hit.
    # Plain paths as recorded (a mount URI through its table): no Path object per output.
    written = [*(a.uri if "://" not in a.uri else a.path for a in produced), host.records.journal_path]
    if spec.cache_mode == "readonly":
        host.flusher.written(written)
    elif host.flusher.mode == "step":  # every byte the entry names is on disk first
        host.flusher.written(written)
        host.index.put(_entry(prep, run, produced), durable=True)
    else:
        host.index.put(_entry(prep, run, produced))
        host.flusher.written([*written, host.layout.index_file(prep.signature)])
    orphans.release(ctx.run_id)
    return RunResult(dict(ctx.outputs), run, False)


def _entry(prep: Prepared, run: Run, produced: list[Artifact]) -> CacheEntry:
    return CacheEntry(signature=prep.signature, run_id=run.id, outputs=produced, created_at=run.ended_at)


def fail(host: StepHost, spec: StepSpec, prep: Prepared, ctx: RunContext, exc: BaseException) -> Run | None:
    """Record a failed execution; no cache entry is written.

    When the record itself cannot be written (often the same full disk that failed the
    run), any record already written for it is removed, ``exc`` gets a note saying so and
    None is returned: the caller re-raises ``exc``, which must not be hidden behind a
    second error.
    """
    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__  # a bare KeyboardInterrupt
    produced = list(ctx.outputs.values())
    try:
        try:
            return write_record(host, spec, prep, ctx.run_id, status="failed", outputs=produced, error=error)
        except (TypeError, ValueError, OverflowError, NotImplementedError, msgspec.EncodeError):
            # The failure may be user metadata no record can hold: the record of it must not need it.
            bare = [msgspec.structs.replace(a, meta={}) for a in produced]
            return write_record(host, spec, prep, ctx.run_id, bare=True, status="failed", outputs=bare, error=error)
    except OSError as err:
        # A "completed" record written just before the fault must not outlive it.
        host.records.discard(ctx.run_id)
        exc.add_note(f"consist could not record the failed run {ctx.run_id}: {err}")
        return None
    finally:
        orphans.release(ctx.run_id)


def run_step(host: StepHost, spec: StepSpec, prep: Prepared | None = None) -> RunResult:
    """Run a function step: serve a cache hit, or execute and record it.

    ``prep`` is the step's identity when the caller already computed (and checked) it.
    """
    with error_context(step=spec.name):
        prep = prep or prepare(host, spec)
        live_steps.remember(prep.code.hash, spec.fn)  # for tracker.recover, while it lives
        run_id = hydration.own_folder_id(host, spec, lambda: claim_run_id(host.records, spec.name, spec.run_id))
        entry, invalid = lookup(host, spec, prep, run_id=run_id)
        if entry is not None:
            return serve_hit(host, spec, prep, entry, run_id=run_id)
        shape = binding.shape_of(spec.fn)
        restore_inputs(host, spec, prep)  # before loading them
        loaded = binding.load_inputs(spec, prep.inputs, shape)
        ctx = begin(host, spec, prep, run_id)
        try:
            kwargs = binding.bind(
                shape,
                loaded=loaded,
                config=spec.config,
                runtime_kwargs=spec.runtime_kwargs,
                ctx=ctx if spec.inject_context else None,
                inputs=[n for n in prep.inputs if not n.startswith("depends_on:")],
            )
        except ConfigError:
            orphans.release(ctx.run_id)
            _remove_if_empty(ctx.run_dir)
            raise
        capture_before = None
        if spec.capture_dir is not None:
            # Resolved now: a legacy tool may chdir while it runs.
            capture = Path(spec.capture_dir).expanduser().resolve()
            capture_before = snapshot_files(capture, spec.capture_pattern)
        try:
            with activate(ctx):
                returned = spec.fn(**kwargs)
                # The default key is needed (and built) only when no output is declared.
                default_key = spec.outputs[0] if spec.outputs else default_output_key(spec.name)
                outputs.collect(returned, spec.outputs, default_key, ctx)
                if capture_before is not None:
                    ctx.capture_changed(capture, spec.capture_pattern, capture_before)
                hydration.deliver(spec, ctx.outputs)
                return finish(host, spec, prep, ctx, invalid)
        except BaseException as exc:
            fail(host, spec, prep, ctx, exc)
            raise


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
