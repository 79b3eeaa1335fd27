"""Traced blocks: ``with sc.trace(...)`` records an inline block of code as a step.

A traced block always executes. Its identity is the same as a function step's (code,
config, input content) where:

- the *code* is the source text of the ``with`` statement itself (header and body),
  found from the caller's frame, so an identical block hits and an edited one misses
  (with ``code_identity="callable_module"``: the whole file; ``"repo_git"``: the
  repository state). Code typed where no source exists (``exec``, stdin) falls back to
  the enclosing code object's bytecode;
- the *config* is ``config=`` plus every extra keyword (``threshold=0.3``) and the
  ``year``/``iteration``: the block sees those values, so each gets its own run and its
  own cache entry. They are also recorded as facets.

On a cache hit the block still runs; what it logs is compared with the cached outputs by
content hash. When every logged output matches (or it logs nothing), the run is recorded
as a hit reusing the cached run, the duplicate files are removed and no cache entry is
written. When something differs, it is recorded as an execution with a new cache entry.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import linecache
import os
import shutil
import sys
import textwrap
import tokenize
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from consist._active import activate
from consist.engine import hydration
from consist.engine.run_fields import whole_number
from consist.engine.spec import StepSpec, build_spec
from consist.engine.run_ids import claim_run_id
from consist.engine.step import begin, fail, finish, lookup, prepare, restore_inputs, serve_hit
from consist.errors import ConfigError, error_context
from consist.identity.digests import config_snapshot, fields_of
from consist.identity.hashing import hash_bytes
from consist.keywords import check_extra_keywords
from consist.models import Artifact, RunResult

if TYPE_CHECKING:
    from consist.engine.context import RunContext
    from consist.engine.host import StepHost

_SPEC_FIELDS = frozenset(f.name for f in dataclasses.fields(StepSpec))
# Engine options a traced block passes through as they are (cache hydration's, when present).
_PASS_THROUGH = frozenset(f for f in _SPEC_FIELDS if f == "cache_hydration" or f.startswith("hydrate"))


class Scenario(Protocol):
    """What a traced block needs of the scenario it belongs to (see :class:`consist.Scenario`)."""

    name: str
    step_cache_hydration: str | None
    config_snapshot: dict[str, Any]

    def check_open(self) -> None: ...
    def resolve_inputs(self, inputs: Any) -> Any: ...
    def step_finished(self, result: RunResult, step: str, declared: Sequence[str]) -> None: ...
    def step_failed(self, step: str, exc: BaseException) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class BlockCode:
    """Where a traced block's code identity comes from."""

    version: str | None
    target: Any
    source: str | None
    file: str
    line: int
    kind: str = "trace_block"


def open_trace(
    tracker: StepHost,
    scenario: Scenario | None,
    name: str,
    *,
    inputs: Mapping[str, Any] | Sequence[Any] | None = None,
    outputs: Sequence[str] | None = None,
    config: Any = None,
    run_id: str | None = None,
    year: int | None = None,
    iteration: int | None = None,
    tags: Sequence[str] | None = None,
    depends_on: Sequence[Any] | None = None,
    cache_mode: str = "reuse",
    facet: Mapping[str, Any] | None = None,
    model: str | None = None,
    code_version: str | None = None,
    code_identity: str | None = None,
    cache_hydration: str | None = None,
    **metadata: Any,
) -> TraceBlock:
    """Build the :class:`TraceBlock` for ``with sc.trace(...)`` / ``with consist.trace(...)``."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"trace() needs a step name, e.g. sc.trace(name='simulate'); got {name!r}.")
    # Before they join the block's identity: year="2030" and year=2030 are one block.
    year, iteration = whole_number(year, "year"), whole_number(iteration, "iteration")
    if scenario is not None:
        inputs = scenario.resolve_inputs(inputs)
        if cache_hydration is None:
            cache_hydration = scenario.step_cache_hydration
    extra = {key: metadata.pop(key) for key in list(metadata) if key in _PASS_THROUGH}
    # A misspelt option (input= for inputs=) would otherwise become a recorded value.
    check_extra_keywords(metadata, _TRACE_OPTIONS, "trace()", "config={{'{key}': ...}}")
    if cache_hydration is not None and "cache_hydration" in _SPEC_FIELDS:
        extra["cache_hydration"] = cache_hydration
    code = None
    if code_version is None:
        code = block_code(_caller_frame(), code_identity or tracker.code_identity)
    spec = build_spec(
        name,
        inputs=inputs,
        config=_identity_config(config, metadata, year, iteration),
        outputs=outputs,
        depends_on=depends_on,
        year=year,
        iteration=iteration,
        tags=tags,
        run_id=run_id,
        parent_id=scenario.name if scenario is not None else None,
        model=model,
        cache_mode=cache_mode,
        facet=facet,
        meta=metadata,
        code_version=code_version if code is None else code.version,
        code_identity=code_identity,
        kind="trace",
        code_target=None if code is None else code.target,
        scenario_config=scenario.config_snapshot if scenario is not None else {},
        **extra,
    )
    return TraceBlock(tracker, spec, scenario, code)


# Option names of trace(), for spotting a misspelt one among the free-form keywords.
_TRACE_OPTIONS = (
    *(p for p in inspect.signature(open_trace).parameters if p not in {"tracker", "scenario", "metadata"}),
    *sorted(_PASS_THROUGH),
)


def _identity_config(
    config: Any, metadata: Mapping[str, Any], year: int | None, iteration: int | None
) -> dict[str, Any]:
    # The block can read every one of these values, so each is part of its identity.
    snapshot = config_snapshot(config)
    clash = sorted(set(snapshot) & set(metadata))
    if clash:
        raise ConfigError(
            f"trace metadata {clash} is also in config=; give each value once (in config= or as a keyword)."
        )
    merged = {**fields_of(config), **metadata}  # as given: the identity keeps every value's type
    if year is not None:
        merged.setdefault("year", year)
    if iteration is not None:
        merged.setdefault("iteration", iteration)
    return merged


class TraceBlock:
    """A ``with`` block recorded as one step (see the module docs).

    Attributes
    ----------
    name
        The step name.
    result
        The :class:`RunResult` once the block has exited without an exception.
    """

    def __init__(self, host: StepHost, spec: StepSpec, scenario: Scenario | None, code: BlockCode | None) -> None:
        self.host = host
        self.spec = spec
        self.name = spec.name
        self.scenario = scenario
        self.result: RunResult | None = None
        self._code = code
        self._prep: Any = None
        self._entry: Any = None
        self._invalid: str | None = None
        self._ctx: RunContext | None = None
        self._activation: Any = None

    @property
    def run_id(self) -> str | None:
        """The id this execution is recorded under (set on entering the block)."""
        return self._ctx.run_id if self._ctx is not None else None

    @property
    def cache_hit(self) -> bool:
        """Inside the block: whether a usable cache entry exists; after it: whether it was reused."""
        if self.result is not None:
            return self.result.cache_hit
        return self._entry is not None

    @property
    def cached_outputs(self) -> dict[str, Artifact]:
        """The cached outputs this block's identity maps to (empty on a miss)."""
        return {a.key: a for a in self._entry.outputs} if self._entry is not None else {}

    @property
    def outputs(self) -> dict[str, Artifact]:
        """Outputs: logged so far inside the block; the recorded ones after it."""
        if self.result is not None:
            return self.result.outputs
        return dict(self._ctx.outputs) if self._ctx is not None else {}

    def __repr__(self) -> str:
        return f"TraceBlock(name={self.name!r}, run_id={self.run_id!r}, cache_hit={self.cache_hit})"

    def __enter__(self) -> TraceBlock:
        if self._ctx is not None:
            raise ConfigError(f"trace block {self.name!r} was already entered; open a new sc.trace(...) per block.")
        if self.scenario is not None:
            self.scenario.check_open()
        with error_context(step=self.name):
            prep = prepare(self.host, self.spec)
            if self._code is not None and self._code.source is not None:
                # Descriptive fields only: the hash (and so the signature) is unchanged.
                prep.code = msgspec.structs.replace(
                    prep.code, kind=self._code.kind, qualname=self.name, file=self._code.file, line=self._code.line,
                    version=None,
                )
                prep.source = self._code.source
            host, spec = self.host, self.spec
            run_id = hydration.own_folder_id(host, spec, lambda: claim_run_id(host.records, spec.name, spec.run_id))
            self._entry, self._invalid = lookup(host, spec, prep, run_id=run_id)
            self._prep = prep
            restore_inputs(host, spec, prep)
            self._ctx = begin(host, spec, prep, run_id)
        self._activation = activate(self._ctx)
        self._activation.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        self._activation.__exit__(exc_type, exc, tb)
        if exc is not None:
            fail(self.host, self.spec, self._prep, self._ctx, exc)
            if self.scenario is not None:
                self.scenario.step_failed(self.name, exc)
            return False
        try:
            with error_context(run_id=self._ctx.run_id, step=self.name):
                result = self._close()
        except BaseException as error:
            fail(self.host, self.spec, self._prep, self._ctx, error)
            if self.scenario is not None:
                self.scenario.step_failed(self.name, error)
            raise
        self.result = result
        if self.scenario is not None:
            self.scenario.step_finished(result, self.name, self.spec.outputs)
        return False

    def _close(self) -> RunResult:
        ctx, entry = self._ctx, self._entry
        reason = self._invalid
        if entry is not None:
            cached = {a.key: a.hash for a in entry.outputs}
            differ = sorted(k for k, a in ctx.outputs.items() if cached.get(k) != a.hash)
            if not differ:
                _discard_copies(ctx, {a.path for a in entry.outputs})
                return serve_hit(self.host, self.spec, self._prep, entry, run_id=ctx.run_id)
            reason = (
                f"the block logged {', '.join(repr(k) for k in differ)} with content that differs from "
                f"cached run {entry.run_id}"
            )
        return finish(self.host, self.spec, self._prep, ctx, reason)


def _discard_copies(ctx: RunContext, served: set[Path]) -> None:
    """Remove what a matching block re-wrote into its own folder: the cached copies are served.

    Files the served entry points at stay (``"outputs-all"`` hydrated them into this folder).
    """
    folder = ctx.run_dir
    for artifact in ctx.outputs.values():
        path = artifact.path
        if folder not in path.parents or path in served:
            continue  # the user's own file, logged where it lies, or a hydrated copy: never ours to delete
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # something else was written there: keep it


# -- the code identity of a block --------------------------------------------------------

# filename -> ((mtime_ns, size) or None, lines, [(header line, body line, end line)])
_files: dict[str, tuple[Any, list[str], list[tuple[int, int, int]]]] = {}
_blocks: dict[tuple[str, int, Any, str], BlockCode] = {}
_shims: dict[str, Any] = {}


def _caller_frame() -> types.FrameType:
    # The first frame outside consist: sc.trace, consist.trace and Tracker.trace all land here.
    frame = sys._getframe(1)
    while frame.f_back is not None and (frame.f_globals.get("__name__") or "").startswith("consist."):
        frame = frame.f_back
    return frame


def block_code(frame: types.FrameType, recipe: str) -> BlockCode:
    """The code identity of the ``with`` statement executing at ``frame``'s current line."""
    filename, line = frame.f_code.co_filename, frame.f_lineno
    parsed = _parse(filename)
    memo_key = (filename, line, parsed[0] if parsed else None, recipe)
    found = _blocks.get(memo_key)
    if found is not None:
        return found
    found = _compute(frame, recipe, parsed)
    _blocks[memo_key] = found
    return found


def _compute(frame: types.FrameType, recipe: str, parsed: Any) -> BlockCode:
    filename, line = frame.f_code.co_filename, frame.f_lineno
    if parsed is not None and recipe == "callable_module":
        text = "".join(parsed[1])
        return BlockCode(f"module:{hash_bytes(text.encode())}", None, text, filename, 1, "trace_module")
    if recipe == "repo_git" and os.path.exists(filename):
        shim = _shims.get(filename)
        if shim is None:
            shim = _shims[filename] = types.FunctionType(compile("None", filename, "eval"), frame.f_globals)
        return BlockCode(None, shim, None, filename, line)
    source = _block_source(parsed, line) if parsed is not None else None
    if source is not None:
        return BlockCode(f"block:{hash_bytes(source.encode())}", None, source, filename, line)
    # No source to read (exec, stdin): the enclosing code object's bytecode identifies it.
    code = frame.f_code
    closure = tuple(types.CellType() for _ in code.co_freevars) or None
    return BlockCode(None, types.FunctionType(code, frame.f_globals, None, None, closure), None, filename, line)


def _parse(filename: str) -> tuple[Any, list[str], list[tuple[int, int, int]]] | None:
    try:
        st = os.stat(filename)
        stamp: Any = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    cached = _files.get(filename)
    if cached is not None and cached[0] == stamp:
        return cached
    try:
        if stamp is not None:
            with tokenize.open(filename) as fh:
                text = fh.read()
        else:
            # Notebook cells and similar register their source with linecache.
            text = "".join(linecache.getlines(filename))
        tree = ast.parse(text) if text else None
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        tree = None
    if tree is None:
        return None
    spans = [
        (node.lineno, node.body[0].lineno, node.end_lineno or node.body[-1].lineno)
        for node in ast.walk(tree)
        if isinstance(node, (ast.With, ast.AsyncWith))
    ]
    parsed = (stamp, text.splitlines(keepends=True), spans)
    _files[filename] = parsed
    return parsed


def _block_source(parsed: Any, line: int) -> str | None:
    _, lines, spans = parsed
    # The with statement whose header holds the current line; the innermost if nested.
    matches = [s for s in spans if s[0] <= line and (line < s[1] or line == s[0])]
    if not matches:
        return None
    start, _, end = max(matches, key=lambda s: s[0])
    return textwrap.dedent("".join(lines[start - 1 : end]))
