"""The client's plan of a map: which configs hit, which run, and what each task carries.

Every config becomes the step ``tracker.run(fn, config=c, ...)`` would run (its spec is
captured from ``run`` itself, so a map and a loop of ``sc.run`` share cache entries). Its
signature is computed here, with the function's code identity taken once for all
configs; a config that hits is recorded here and never shipped; configs with the same
signature fold into one task (the others are served from its cache entry once it is
done). A task's payload holds the function, the bound arguments, the input artifacts with
their hashes, the expected signature and a fresh attempt token, and is checked to
serialise the way the executor will before anything is submitted.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import secrets
import socket
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consist.engine.spec import StepSpec
from consist.engine.step import Prepared, lookup, prepare, serve_hit
from consist.errors import ConfigError
from consist.executors.adapters import Adapter
from consist.executors.task import Host, Payload
from consist.models import RunResult

# What a per_config callable may set for its config (the rest is shared by the map).
PER_CONFIG_KEYS = ("inputs", "year", "iteration", "facet", "run_id", "tags", "depends_on", "runtime_kwargs", "model")


@dataclass(slots=True)
class Planned:
    """One config of a map, as planned."""

    index: int
    config: Any
    spec: StepSpec
    prep: Prepared
    result: RunResult | None = None  # a hit served in the client
    leader: int | None = None  # the config whose task this one folds into


def plan(
    tracker: Any,
    fn: Any,
    configs: Iterable[Any],
    options: dict[str, Any],
    per_config: Callable[[Any], Mapping[str, Any]] | None,
    resolve_inputs: Callable[[Any], Any] | None,
) -> list[Planned]:
    """Capture, identify and look up every config; serve hits; fold duplicates."""
    planned: list[Planned] = []
    leaders: dict[str, int] = {}
    code = None
    for index, config in enumerate(configs):
        try:
            spec = _spec(tracker, fn, config, options, per_config, resolve_inputs)
            spec.code_info = code
            prep = prepare(tracker, spec)
            code = code or (prep.code, prep.source)
            entry, _ = lookup(tracker, spec, prep)
        except Exception as exc:
            exc.add_note(f"while planning configs[{index}] of the map: {_shown(config)}")
            raise
        item = Planned(index, config, spec, prep)
        if entry is not None:
            item.result = serve_hit(tracker, spec, prep, entry)
        elif spec.cache_mode == "reuse" and prep.signature in leaders:
            item.leader = leaders[prep.signature]
        else:
            leaders.setdefault(prep.signature, index)
        planned.append(item)
    return planned


def _spec(
    tracker: Any,
    fn: Any,
    config: Any,
    options: dict[str, Any],
    per_config: Callable[[Any], Mapping[str, Any]] | None,
    resolve_inputs: Callable[[Any], Any] | None,
) -> StepSpec:
    kwargs = dict(options)
    if per_config is not None:
        own = per_config(config)
        if not isinstance(own, Mapping):
            raise ConfigError(f"per_config must return a mapping such as {{'year': 2030}}; got a {type(own).__name__}.")
        unknown = sorted(set(own) - set(PER_CONFIG_KEYS))
        if unknown:
            raise ConfigError(f"per_config returned {unknown}; it may set {', '.join(PER_CONFIG_KEYS)}.")
        kwargs.update(own)
        if resolve_inputs is not None and "inputs" in own:
            kwargs["inputs"] = resolve_inputs(own["inputs"])
    kwargs["config"] = config
    return tracker._planned((fn,), kwargs)


def host_of(tracker: Any, record_in: str) -> Host:
    """The client's tracker settings, as workers rebuild them."""
    return Host(
        tracker_cls=type(tracker),
        run_dir=str(tracker.run_dir),
        db_path=str(tracker.db_path),
        cache_epoch=tracker.cache_epoch,
        code_identity=tracker.code_identity,
        hash_mode="strict" if tracker.hasher.strict else "fast",
        verify_outputs=tracker.verify_outputs,
        record_in=record_in,
        client_pid=os.getpid(),
        client_host=socket.gethostname(),
    )


def payload(host: Host, item: Planned) -> Payload:
    """A fresh task for ``item``: resolved inputs, explicit loading, a new attempt token."""
    spec, prep = item.spec, item.prep
    load = spec.load_inputs if spec.load_inputs is not None else isinstance(spec.inputs, Mapping)
    shipped = dataclasses.replace(
        spec,
        inputs=dict(prep.inputs),  # hashed once, here; depends_on files are among them
        depends_on=(),
        load_inputs=load,
        code_info=(prep.code, prep.source) if by_value(spec.fn) else None,
    )
    expected = (prep.code.hash, prep.config_hash, prep.inputs_hash, prep.signature)
    return Payload(host, shipped, expected, secrets.token_hex(8))


def by_value(fn: Any) -> bool:
    """Whether ``fn`` cannot be imported by name elsewhere (``__main__``, a notebook cell, a closure).

    Such a function travels by value (cloudpickle) and has no source on the worker: its
    identity is the one the client computed. An importable one is identified again on
    the worker, which is how stale code there is caught.
    """
    target = _target(fn)
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return True
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return inspect.unwrap(found) is not inspect.unwrap(target) if found is not None else True


def _target(fn: Any) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    if not isinstance(fn, (types.FunctionType, type)) and callable(fn):
        return type(fn)
    return fn


def check_payloads(adapter: Adapter, payloads: list[tuple[Planned, Payload]], fn: Any) -> None:
    """Serialise each payload as the executor will; name the function or config that fails."""
    if adapter.dumps is None or not payloads:
        return
    _check_function(adapter, fn)
    for n, (item, task) in enumerate(payloads):
        spec = task.spec
        # The first whole; then only what differs between configs (the function is checked above).
        part = task if n == 0 else (spec.config, spec.inputs, spec.runtime_kwargs, spec.facets, spec.run_id)
        try:
            adapter.dumps(part)
        except Exception as exc:  # noqa: BLE001 - pickle raises many kinds
            raise ConfigError(
                f"configs[{item.index}] of the map cannot be sent to the {adapter.kind} executor "
                f"({type(exc).__name__}: {exc}): {_shown(item.config)}. Keep configs, inputs and "
                "runtime_kwargs to plain, picklable values. Nothing was submitted."
            ) from None


def _check_function(adapter: Adapter, fn: Any) -> None:
    target = _target(fn)
    where = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(fn))}"
    problem = None
    if adapter.kind == "processes" and getattr(target, "__module__", None) == "__main__":
        if not getattr(sys.modules.get("__main__"), "__file__", None):
            problem = "it is defined in __main__ of an interactive session (a notebook cell or REPL)"
    if problem is None:
        try:
            adapter.dumps(fn)
        except Exception as exc:  # noqa: BLE001 - pickle raises many kinds
            problem = f"it cannot be pickled ({type(exc).__name__}: {exc})"
    if problem is not None:
        raise ConfigError(
            f"the step function {where} cannot be sent to the {adapter.kind} executor: {problem}. Define it at "
            "module level in an importable module, or run the map on Dask or Ray, which carry such functions "
            "by value (cloudpickle). Nothing was submitted."
        )


def _shown(config: Any) -> str:
    text = repr(config)
    return text if len(text) <= 200 else text[:197] + "..."
