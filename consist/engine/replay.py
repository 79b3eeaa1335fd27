"""What re-executing a recorded step needs beyond its identity (pure).

A run record already holds the step's identity: code (module, qualname, recipe), config
snapshot and input artifacts. To call the function again the same way, recovery also
needs how it was called: whether inputs were loaded into parameters, whether it took
the run context, which folder was captured, and which config type it received. That
"replay recipe" is stored on :attr:`Run.replay` when a function step executes.

``runtime_kwargs`` are never hashed and may hold anything (open connections, frames,
secrets), so their *values* are not recorded, with one exception: plain paths, which are
small, not secret, and are what the usage guide passes (``runtime_kwargs={"raw_file":
Path("raw.csv")}``). The names of all others are recorded, and recovery asks the caller
for them (``tracker.recover(artifact, runtime_kwargs={"step": {...}})``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from consist.engine.spec import StepSpec


_json = msgspec.json.Encoder(order="deterministic")


def _type_name(value: Any) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    cls = type(value)
    return f"{cls.__module__}:{cls.__qualname__}"


def _plain(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(type(value).__name__)


def recipe(spec: StepSpec, default_code_identity: str, snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """The replay recipe of a function step (empty for steps without a function).

    ``snapshot`` is the canonical config the identity hashed. Canonical form turns
    tuples into lists, dates into text and ``nan`` into ``"NaN"``; replaying that to the
    function could change what it computes, so a dict config whose plain values differ
    from the snapshot is also kept as given.
    """
    if spec.fn is None or spec.kind != "step":
        return {}
    out: dict[str, Any] = {
        "outputs": list(spec.outputs),
        "load_inputs": bool(spec.load_inputs if spec.load_inputs is not None else isinstance(spec.inputs, Mapping)),
        "code_identity": spec.code_identity or default_code_identity,
    }
    module, qualname = getattr(spec.fn, "__module__", None), getattr(spec.fn, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        out["function"] = f"{module}:{qualname}"
    if spec.inject_context:
        out["inject_context"] = True
    if spec.config is None:
        out["config"] = None
    elif (name := _type_name(spec.config)) is not None:
        out["config"] = name
    else:
        try:
            # str_keys: a record is JSON, so {2020: 1.1} can only be kept as {"2020": 1.1}.
            plain = msgspec.to_builtins(spec.config, enc_hook=_plain, str_keys=True)
        except TypeError:
            plain = None  # not plain data: the snapshot is all there is
        if plain is not None and _json.encode(plain) != _json.encode(snapshot):
            out["config_values"] = plain
    if spec.runtime_kwargs:
        out["runtime_kwargs"] = {
            key: str(value) if isinstance(value, PurePath) else None for key, value in spec.runtime_kwargs.items()
        }
    if spec.capture_dir is not None:
        out["capture"] = [str(spec.capture_dir), spec.capture_pattern]
    return out
