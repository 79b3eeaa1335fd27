"""Catching misspelt option names among free-form keywords.

``sc.trace(...)`` and ``consist.scenario(...)`` accept any extra keyword as a recorded
value (``threshold=0.3``), so a misspelt option (``input=`` for ``inputs=``) would be
recorded silently instead of doing its job: the traced block would lose its declared
input. This module flags an extra keyword that is evidently an option name misspelt
(case, a plural ``s``, an underscore, or one or two letters on a long name). It owns no
other policy and touches nothing but its arguments.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from consist.errors import ConfigError

# Short option names only match through the normalisation below: a ratio test would
# flag legitimate facets such as ``mode`` (against ``model``). Long ones also match a
# near spelling with the same start (``cache_hydrate``) or with one inner chunk left
# out (``profile_schema``); a different start (``model_version`` against
# ``code_version``) is a different name.
_LONG = 10
_RATIO = 0.85
_EDGE = 3


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace("s", "")


def _chunk_dropped(key: str, option: str) -> bool:
    # key == option with one inner run of characters removed, keeping both ends.
    cut = len(option) - len(key)
    return cut > 0 and any(
        option[:i] == key[:i] and option[i + cut :] == key[i:]
        for i in range(_EDGE, len(key) - _EDGE + 1)
    )


def misspelt_option(key: str, options: Iterable[str]) -> str | None:
    """The option ``key`` evidently misspells, or None."""
    lowered = key.lower()
    for option in options:
        if key == option:
            return None
        if _norm(key) == _norm(option):
            return option
        if len(option) < _LONG or lowered[:_EDGE] != option[:_EDGE]:
            continue
        if _chunk_dropped(lowered, option) or difflib.SequenceMatcher(None, lowered, option).ratio() >= _RATIO:
            return option
    return None


def check_extra_keywords(
    extra: Iterable[str], options: Iterable[str], where: str, escape: str | None = None
) -> None:
    """Raise :class:`ConfigError` when an extra keyword looks like a misspelt option.

    Parameters
    ----------
    extra
        The keywords that would be recorded as free-form values.
    options
        The call's own option names.
    where
        The call, for the message (``"sc.trace()"``).
    escape
        How to record a value under that name on purpose (``"config={'input': ...}"``),
        with ``{key}`` standing for the keyword; None when there is no such way (the
        message then asks for another name).

    Raises
    ------
    ConfigError
        Naming the keyword, the option it resembles and how to keep it as a value.
    """
    from consist.upstream import refuse_option_objects

    options, extra = tuple(options), list(extra)
    refuse_option_objects(extra, where)
    for key in extra:
        option = misspelt_option(key, options)
        if option is not None:
            keep = (
                f"to record a value named {key!r} on purpose, {escape.format(key=key)}"
                if escape
                else "give the value another name"
            )
            raise ConfigError(
                f"{where} got {key}=, which looks like a misspelling of its option {option}=; "
                f"extra keywords are recorded as values, so {key}= would not act as {option}=. "
                f"Use {option}=, or {keep}."
            )
