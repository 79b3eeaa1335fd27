"""The step functions this process has run, by code identity, while they are alive.

A function defined inside another function, or in a notebook cell, has no name to
import it by again, so a recorded run cannot find it that way. While the process still
holds the function, :mod:`consist.cache.recover` finds it here under the code identity the
run recorded. Only weak references are kept: remembering a function never keeps it (or
what it closes over) alive.
"""

from __future__ import annotations

import types
import weakref
from typing import Any

_live: dict[str, Any] = {}


def remember(code_hash: str, fn: Any) -> None:
    """Note that ``fn`` ran under ``code_hash`` (cheap when it is already noted)."""
    ref = _live.get(code_hash)
    if ref is not None and ref() is fn:
        return
    try:
        ref = weakref.WeakMethod(fn) if isinstance(fn, types.MethodType) else weakref.ref(fn)
    except TypeError:  # not weakly referenceable (a builtin, an object with __slots__)
        return
    _live[code_hash] = ref
    if len(_live) > _limit[0]:
        for key in [k for k, r in _live.items() if r() is None]:
            del _live[key]
        _limit[0] = max(_SWEEP_AT, 2 * len(_live))


def find(code_hash: str) -> Any:
    """The live function that ran under ``code_hash``, or None when it is gone."""
    ref = _live.get(code_hash)
    return ref() if ref is not None else None


# Dead references are swept once the registry grows past twice its live size (at least this).
_SWEEP_AT = 256
_limit = [_SWEEP_AT]
