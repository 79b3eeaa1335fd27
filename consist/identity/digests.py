"""Pure identity functions: canonical forms and blake3 digests.

Owns the recipe for every digest consist computes (configs, input sets, code, step
signatures). Opens no files and reads no clock, catalog or environment: every function
here takes values and returns values.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import msgspec
from blake3 import blake3

from consist.dotted import flatten
from consist.errors import UnhashableInputError

_encoder = msgspec.json.Encoder(order="deterministic")
# Exact types whose canonical form is the value itself (subclasses such as numpy.str_ are not).
_PLAIN = frozenset({str, int, bool, type(None)})

STEP_TAG = "consist.step/1"
CONFIG_TAG = "consist.config/1"
INPUTS_TAG = "consist.inputs/1"
CODE_TAG = "consist.code/1"
DIR_TAG = "consist.dir/1"


def digest(tag: str, *parts: Any) -> str:
    """Blake3 hex digest of ``parts`` under a kind-and-version ``tag``.

    Every digest in consist goes through here, so two different kinds of thing can
    never collide and a change of recipe is a change of tag.
    """
    return blake3(_encoder.encode([tag, *parts])).hexdigest()


def canonical(value: Any, where: str = "config") -> Any:
    """Convert ``value`` to JSON builtins with a stable, documented form.

    Dicts keep string keys (sorted at encoding); tuples and lists become lists; sets
    become sorted lists; floats that are whole numbers become ints (``1.0 == 1``);
    paths become POSIX strings; enums become their value; pydantic models, msgspec
    Structs and dataclasses become dicts of their fields.

    Raises
    ------
    UnhashableInputError
        When a value has no canonical form; the message names where it sits, for
        example ``config["solver"]["callback"]``.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        # Subclasses such as numpy.str_ become plain str (the encoder rejects them);
        # str enums keep their established form.
        return value if type(value) is str or isinstance(value, enum.Enum) else str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _canonical_float(value)
    if isinstance(value, Mapping):
        return _canonical_mapping(value, where)
    if isinstance(value, (list, tuple)):
        # Fast path for long lists of plain values (zone ids, names): already canonical.
        if all(type(item) in _PLAIN for item in value):
            return list(value)
        return [canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [canonical(item, f"{where}{{...}}") for item in value]
        return sorted(items, key=lambda x: _encoder.encode(x))
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, enum.Enum):
        return canonical(value.value, where)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return {"__bytes__": blake3(value).hexdigest()}
    if isinstance(value, msgspec.Struct):
        return canonical(msgspec.structs.asdict(value), where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return canonical(fields, where)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and not isinstance(value, type):
        return canonical(model_dump(mode="python"), where)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__.startswith("numpy"):
        return canonical(tolist(), where)
    raise UnhashableInputError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which has no "
        "canonical form. Use plain values (str, int, float, bool, None, lists, dicts, "
        "paths, pydantic models, dataclasses), or pass it through runtime_kwargs if it "
        "must not be part of the cache key."
    )


def _canonical_float(value: float) -> Any:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return float(value)  # numpy.float64 is a float subclass the encoder rejects


def _canonical_mapping(value: Mapping[Any, Any], where: str) -> dict[str, Any]:
    out = {}
    for key, item in value.items():
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise UnhashableInputError(
                f"{where} has a key of type {type(key).__name__} ({key!r}); config keys must be strings or numbers."
            )
        skey = key if isinstance(key, str) else _encoder.encode(canonical(key)).decode()
        if skey in out:
            raise UnhashableInputError(
                f"{where} has keys that are equal once canonical (one of them is {key!r}); "
                "keep one, or make them distinct strings."
            )
        out[skey] = canonical(item, f"{where}[{key!r}]")
    return out


def config_snapshot(config: Any) -> dict[str, Any]:
    """The canonical dict form of a step config (``None`` is an empty config)."""
    if config is None:
        return {}
    snap = canonical(config, "config")
    if not isinstance(snap, dict):
        raise UnhashableInputError(
            f"config is a {type(config).__name__}; expected a dict, a pydantic model, "
            "a msgspec Struct or a dataclass."
        )
    return snap


def config_hash(snapshot: Mapping[str, Any]) -> str:
    """Digest of a canonical config snapshot."""
    return digest(CONFIG_TAG, snapshot)


def inputs_hash(named_hashes: Mapping[str, str]) -> str:
    """Digest of the step's inputs: names and content hashes, order-free."""
    # Sorted: the order inputs were given in must not change the digest.
    return digest(INPUTS_TAG, sorted(named_hashes.items()))


def code_hash(kind: str, payload: Any) -> str:
    """Digest of a code identity: ``kind`` names the recipe (source, module, git...)."""
    return digest(CODE_TAG, kind, payload)


def directory_hash(entries: list[tuple[str, str]]) -> str:
    """Digest of a directory from its (relative POSIX path, content hash) entries."""
    return digest(DIR_TAG, sorted(entries))


def step_signature(code: str, config: str, inputs: str, epoch: int = 0) -> str:
    """The cache key of a step: code, config and inputs digests (and the cache epoch)."""
    return digest(STEP_TAG, code, config, inputs, epoch)


def diff_configs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """Leaves that differ between two snapshots, as (dotted key, old, new).

    A key present on one side only shows the string ``"<absent>"`` on the other.
    """
    a, b = flatten(old), flatten(new)
    absent = "<absent>"
    return [
        (key, a.get(key, absent), b.get(key, absent))
        for key in sorted(a.keys() | b.keys())
        if a.get(key, absent) != b.get(key, absent)
    ]
