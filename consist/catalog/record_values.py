"""Values a run record can hold: checked (and paths made strings) where the user gives them.

A run record is JSON and a cache entry MessagePack, so metadata, facets and tags must
be plain data: strings (valid Unicode), ints within 64 bits, floats, bools, None, and
lists and string-keyed dicts of those. :func:`record_value` turns what converts without
ambiguity into that form (a path into its POSIX string, as in configs; a numpy scalar
into its number; a date into its ISO string; a tuple or set into a list) and refuses
anything else with a :class:`ConfigError` naming where it sits, at the call that
received it, before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import msgspec

from consist.errors import ConfigError

_packer = msgspec.msgpack.Encoder()


def _hook(obj: Any) -> Any:
    if isinstance(obj, PurePath):
        return obj.as_posix()
    item = getattr(obj, "item", None)
    if callable(item) and type(obj).__module__ == "numpy":
        return item()
    tolist = getattr(obj, "tolist", None)
    if callable(tolist) and type(obj).__module__.startswith("numpy"):
        return tolist()
    raise TypeError(f"{type(obj).__module__}.{type(obj).__qualname__}")


def record_value(value: Any, where: str) -> Any:
    """``value`` as plain record data, or a :class:`ConfigError` naming ``where``."""
    kind = type(value)
    if kind is bool or kind is float or value is None or (kind is str and value.isascii()):
        return value  # the common cases: nothing to convert, nothing that can fail
    if kind is int and -(2**63) <= value < 2**64:
        return value
    try:
        plain = msgspec.to_builtins(value, enc_hook=_hook, str_keys=True)
        _packer.encode(plain)
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError, msgspec.EncodeError) as exc:
        raise _refusal(value, where, exc) from None
    return plain


def record_mapping(values: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Every value of ``values`` through :func:`record_value` (``where`` names the mapping)."""
    out = {}
    for key, value in (values or {}).items():
        if not isinstance(key, str):
            raise ConfigError(f"{where} key {key!r} is a {type(key).__name__}; metadata and facet names are strings.")
        name = record_value(key, f"{where} key")
        out[name] = record_value(value, f"{where}[{key!r}]")
    return out


def _refusal(value: Any, where: str, exc: BaseException) -> ConfigError:
    place, leaf = _first_bad(value, where)
    if isinstance(leaf, int) and not isinstance(leaf, bool):
        why = "an int beyond 64 bits, which a run record cannot hold; give it as a string"
    elif isinstance(leaf, str):
        why = "a string with a lone surrogate (invalid Unicode); decode the text it came from correctly"
    else:
        why = (
            f"a {type(leaf).__module__}.{type(leaf).__qualname__}, which a run record cannot hold; "
            "give plain values (str, int, float, bool, None, paths, lists and dicts of them)"
        )
    return ConfigError(f"{place} is {why} ({exc}).")


def _first_bad(value: Any, where: str) -> tuple[str, Any]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not _fits(key):
                return f"{where} key {key!r}", key
            if not _fits(item):
                return _first_bad(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            if not _fits(item):
                return _first_bad(item, f"{where}[{i}]")
    return where, value


def _fits(value: Any) -> bool:
    try:
        _packer.encode(msgspec.to_builtins(value, enc_hook=_hook, str_keys=True))
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError, msgspec.EncodeError):
        return False
    return True
