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
# Configs are digested as MessagePack: it keeps ints and floats apart as JSON does, is
# faster, and refuses what a record or the cache index cannot hold (ints beyond 64 bits,
# lone surrogates) in the same pass.
_packer = msgspec.msgpack.Encoder(order="deterministic")
# Exact types whose canonical form is the value itself (subclasses such as numpy.str_ are not).
_PLAIN = frozenset({str, int, bool, type(None)})

STEP_TAG = "consist.step/1"
# /2: leaf and key types kept (a float NaN is not "NaN", 1.0 is not 1, {1: ..} is not {"1": ..}).
CONFIG_TAG = "consist.config/2"
INPUTS_TAG = "consist.inputs/1"
CODE_TAG = "consist.code/1"
DIR_TAG = "consist.dir/1"


def digest(tag: str, *parts: Any) -> str:
    """Blake3 hex digest of ``parts`` under a kind-and-version ``tag``.

    Every digest in consist goes through here or :func:`packed_digest`, so two
    different kinds of thing can never collide and a change of recipe is a change of tag.
    """
    return blake3(_encoder.encode([tag, *parts])).hexdigest()


def packed_digest(tag: str, *parts: Any) -> str:
    """Like :func:`digest`, over the MessagePack encoding (the recipe of ``consist.config/2``)."""
    return blake3(_packer.encode([tag, *parts])).hexdigest()


# The digest of ``config=None`` (an empty config), the most common one.
_NO_CONFIG = packed_digest(CONFIG_TAG, {}, [])


def canonical(value: Any, where: str = "config") -> Any:
    """``value`` as the JSON builtins it is recorded and shown as.

    Dicts keep string keys (other keys become their JSON text: ``1`` -> ``"1"``); tuples
    become lists; sets become sorted lists; floats stay floats (non-finite ones become
    ``"NaN"``, ``"Infinity"``, ``"-Infinity"``); paths become POSIX strings; enums
    become their value; dates and times become ISO strings; pydantic models, msgspec
    Structs and dataclasses become dicts of their fields. Where this form is shared by
    values of different types (a float NaN and the string ``"NaN"``), :func:`config_identity`
    tells them apart.

    Raises
    ------
    UnhashableInputError
        When a value has no canonical form; the message names where it sits, for
        example ``config['solver']['callback']``.
    """
    return _Walker(where, None).walk(value)


def config_identity(config: Any) -> tuple[dict[str, Any], str]:
    """The shown snapshot of a step config and its digest (recipe ``consist.config/2``).

    The digest covers the snapshot and a note of every value whose snapshot form is shared
    with a value of another type (a float NaN and ``"NaN"``, ``{1: ...}`` and ``{"1": ...}``,
    a date and its ISO string, a set and a list), so configs that differ never share a
    digest. Deliberate equalities: a path and its POSIX string, a tuple and a list, a
    model (pydantic, msgspec, dataclass) and the dict of its fields, numpy values and
    the Python values they hold.

    Raises
    ------
    UnhashableInputError
        A value with no canonical form, or one a run record cannot hold (an int beyond
        64 bits, a string with a lone surrogate), named by where it sits.
    """
    if config is None:
        return {}, _NO_CONFIG
    flat = _flat_key(config) if type(config) is dict else None
    if flat is not None and (known := _flat_digests.get(flat)) is not None:
        return dict(config), known  # its snapshot is itself: plain leaves under str keys
    notes: list[list[Any]] = []
    try:
        snap = _Walker("config", notes).walk(config)
        if not isinstance(snap, dict):
            raise UnhashableInputError(
                f"config is a {type(config).__name__}; expected a dict, a pydantic model, "
                "a msgspec Struct or a dataclass."
            )
        if len(notes) > 1:
            notes.sort(key=_packer.encode)  # walked in the caller's key order; the digest must not be
        chash = packed_digest(CONFIG_TAG, snap, notes)
        if flat is not None:
            _remember(_flat_digests, flat, chash)
        return snap, chash
    except UnhashableInputError:
        raise
    except (OverflowError, UnicodeEncodeError, TypeError, ValueError) as exc:
        raise unencodable(config, "config", exc) from None


# Digests this process computed, by what they were computed from: a repeated step (a
# cache hit) recomputes none of them. Exact keys only: a flat config is keyed by each
# leaf's exact type and value (a float by its hex form, which keeps -0.0 apart from 0.0).
_MEMO_SIZE = 4096
_flat_digests: dict[tuple[Any, ...], str] = {}
_signatures: dict[tuple[Any, ...], str] = {}
_input_sets: dict[tuple[Any, ...], str] = {}


def _remember(memo: dict[tuple[Any, ...], str], key: tuple[Any, ...], value: str) -> str:
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[key] = value
    return value


def _flat_key(config: dict[Any, Any]) -> tuple[Any, ...] | None:
    """A dict of str keys and plain leaves (str, int, bool, None, finite float) as an exact key; None otherwise."""
    key: list[Any] = []
    for name, leaf in config.items():
        kind = type(leaf)
        if type(name) is not str:
            return None
        if kind is float and math.isfinite(leaf):
            key.append((name, leaf.hex()))
        elif kind in _PLAIN:
            key.append((name, kind, leaf))  # the type keeps True, 1 (and 1.0 above) apart
        else:
            return None
    return tuple(key)


def config_snapshot(config: Any) -> dict[str, Any]:
    """The canonical dict form of a step config (``None`` is an empty config)."""
    return config_identity(config)[0]


def config_hash(config: Any) -> str:
    """Digest of a step config (see :func:`config_identity`)."""
    return config_identity(config)[1]


def fields_of(config: Any) -> Mapping[Any, Any]:
    """The top-level fields of a config as given (``None`` is empty), not yet canonical."""
    if config is None or isinstance(config, Mapping):
        return config or {}
    if isinstance(config, msgspec.Struct):
        return msgspec.structs.asdict(config)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    model_dump = getattr(config, "model_dump", None)
    if callable(model_dump) and not isinstance(config, type):
        return model_dump(mode="python")
    return config_snapshot(config)  # raises the error naming what it is


def unencodable(value: Any, where: str, exc: BaseException) -> UnhashableInputError:
    """The error for a value a record cannot hold, naming the first leaf at fault."""
    place, leaf = _first_unencodable(value, where)
    if isinstance(leaf, int) and not isinstance(leaf, bool):
        why = "an int beyond 64 bits, which a run record cannot hold; pass it as a string"
    elif isinstance(leaf, str):
        why = "a string with a lone surrogate (invalid Unicode); decode the text it came from correctly"
    else:
        why = f"a {type(leaf).__module__}.{type(leaf).__qualname__}, which a run record cannot hold"
    return UnhashableInputError(f"{place} is {why} ({exc}).")


def _first_unencodable(value: Any, where: str) -> tuple[str, Any]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not _encodes(key):
                return f"{where} key {key!r}", key
            if not _encodes(item):
                return _first_unencodable(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            if not _encodes(item):
                return _first_unencodable(item, f"{where}[{i}]")
    return where, value


def _encodes(value: Any) -> bool:
    try:
        _packer.encode(canonical(value))
    except (OverflowError, UnicodeEncodeError, UnhashableInputError, TypeError, ValueError):
        return False
    return True


def _shown_key(key: Any) -> str:
    if isinstance(key, str) and not isinstance(key, enum.Enum):
        return str(key)
    return _encoder.encode(_Walker("key", None).walk(key)).decode()


def _key_kind(key: Any) -> str | None:
    """The note for a key whose shown form is also a str key's (None for a str)."""
    if isinstance(key, enum.Enum):
        return "key:enum"
    if isinstance(key, str):
        return None
    return "key:" + next(t.__name__ for t in (bool, int, float, type(None)) if isinstance(key, t))


_ATOMS = (_dt.datetime, _dt.date, _dt.time)  # datetime first: it is also a date


class _Walker:
    """One canonicalisation; ``notes`` (when given) collects ``[path, kind]`` for shared forms.

    ``path`` is where the walk is, as the snapshot spells it (str keys, int list
    positions); ``keys`` is the same as the caller spelt it, for error messages.
    """

    __slots__ = ("root", "notes", "path", "keys")

    def __init__(self, root: str, notes: list[list[Any]] | None) -> None:
        self.root = root
        self.notes = notes
        self.path: list[Any] = []
        self.keys: list[Any] = []

    def where(self) -> str:
        return self.root + "".join(f"[{k!r}]" for k in self.keys)

    def note(self, kind: str) -> None:
        if self.notes is not None:
            self.notes.append([list(self.path), kind])

    def walk(self, value: Any) -> Any:
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is dict:
            return self._mapping(value)
        if kind is float:
            return value if math.isfinite(value) else self._nonfinite(value)
        if isinstance(value, enum.Enum):
            self.note("enum")
            return self.walk(value.value)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, str):
            return str(value)  # subclasses such as numpy.str_ (the encoder rejects them)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):  # numpy.float64 is a float subclass the encoder rejects
            value = float(value)
            return value if math.isfinite(value) else self._nonfinite(value)
        if isinstance(value, Mapping):
            return self._mapping(value)
        if isinstance(value, (list, tuple)):
            # Fast path for long lists of plain values (zone ids, names): already canonical.
            if all(type(item) in _PLAIN for item in value):
                return list(value)
            return self._sequence(value)
        return self._other(value)

    def _nonfinite(self, value: float) -> str:
        self.note("float")
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"

    def _mapping(self, value: Mapping[Any, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            plain_key = type(key) is str
            if not plain_key and not isinstance(key, (str, int, float)) and key is not None:
                raise UnhashableInputError(
                    f"{self.where()} has a key of type {type(key).__name__} ({key!r}); "
                    "config keys must be strings or numbers."
                )
            skey = key if plain_key else _shown_key(key)
            if skey in out:
                raise UnhashableInputError(
                    f"{self.where()} has keys that are equal once canonical (one of them is {key!r}); "
                    "keep one, or make them distinct strings."
                )
            leaf = type(item)
            if plain_key and (leaf in _PLAIN or (leaf is float and math.isfinite(item))):
                out[skey] = item  # a plain leaf under a str key: canonical already, nothing to note
                continue
            self.path.append(skey)
            self.keys.append(key)
            if not plain_key and (kind := _key_kind(key)) is not None:
                self.note(kind)
            out[skey] = self.walk(item)
            self.path.pop()
            self.keys.pop()
        return out

    def _sequence(self, value: Any) -> list[Any]:
        out = []
        for i, item in enumerate(value):
            self.path.append(i)
            self.keys.append(i)
            out.append(self.walk(item))
            self.path.pop()
            self.keys.pop()
        return out

    def _set(self, value: Any) -> list[Any]:
        # Items are sorted together with their own notes: {date, "2020-01-02"} and
        # {"2020-01-01", date} differ although their shown lists are equal.
        self.note("set")
        items = []
        for item in value:
            sub = _Walker(self.where() + "{...}", [] if self.notes is not None else None)
            shown = sub.walk(item)
            items.append((_packer.encode([shown, sub.notes]), shown, sub.notes or []))
        items.sort(key=lambda x: x[0])
        if self.notes is not None:
            for i, (_, _, notes) in enumerate(items):
                self.notes.extend([[*self.path, i, *path], kind] for path, kind in notes)
        return [shown for _, shown, _ in items]

    def _other(self, value: Any) -> Any:
        if isinstance(value, (set, frozenset)):
            return self._set(value)
        if isinstance(value, PurePath):
            return value.as_posix()
        if isinstance(value, _ATOMS):
            self.note(next(t.__name__ for t in _ATOMS if isinstance(value, t)))
            return value.isoformat()
        if isinstance(value, _dt.timedelta):
            self.note("timedelta")
            return value.total_seconds()
        if isinstance(value, bytes):
            self.note("bytes")
            return {"__bytes__": blake3(value).hexdigest()}
        if isinstance(value, msgspec.Struct):
            return self.walk(msgspec.structs.asdict(value))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.walk({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
        model_dump = getattr(value, "model_dump", None)
        if callable(model_dump) and not isinstance(value, type):
            return self.walk(model_dump(mode="python"))
        tolist = getattr(value, "tolist", None)
        if callable(tolist) and type(value).__module__.startswith("numpy"):
            return self.walk(tolist())
        raise UnhashableInputError(
            f"{self.where()} is a {type(value).__module__}.{type(value).__qualname__}, which has no "
            "canonical form. Use plain values (str, int, float, bool, None, lists, dicts, "
            "paths, pydantic models, dataclasses), or pass it through runtime_kwargs if it "
            "must not be part of the cache key."
        )


def inputs_hash(named_hashes: Mapping[str, str]) -> str:
    """Digest of the step's inputs: names and content hashes, order-free."""
    key = tuple(named_hashes.items())
    known = _input_sets.get(key)
    if known is not None:
        return known
    # Sorted: the order inputs were given in must not change the digest.
    return _remember(_input_sets, key, digest(INPUTS_TAG, sorted(key)))


def code_hash(kind: str, payload: Any) -> str:
    """Digest of a code identity: ``kind`` names the recipe (source, module, git...)."""
    return digest(CODE_TAG, kind, payload)


def directory_hash(entries: list[tuple[str, str]]) -> str:
    """Digest of a directory from its (relative POSIX path, content hash) entries."""
    return digest(DIR_TAG, sorted(entries))


def step_signature(code: str, config: str, inputs: str, epoch: int = 0) -> str:
    """The cache key of a step: code, config and inputs digests (and the cache epoch)."""
    key = (code, config, inputs, epoch)
    return _signatures.get(key) or _remember(_signatures, key, digest(STEP_TAG, code, config, inputs, epoch))


def diff_configs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """Leaves that differ between two snapshots, as (dotted key, old, new).

    A key present on one side only shows the string ``"<absent>"`` on the other.
    """
    a, b = flatten(old), flatten(new)
    absent = "<absent>"
    return [
        (key, a.get(key, absent), b.get(key, absent))
        for key in sorted(a.keys() | b.keys())
        if a.get(key, absent) != b.get(key, absent) or type(a.get(key, absent)) is not type(b.get(key, absent))
    ]
