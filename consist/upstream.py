"""Upstream Consist's spellings, recognised and answered with this library's.

Code ported from the upstream Consist project reaches for its option objects
(``ExecutionOptions``, ``CacheOptions``, ``OutputPolicyOptions``, passed as
``execution_options=``, ``cache_options=``, ``output_policy=``) and for option names
that here would otherwise be stored as metadata and quietly do nothing
(``direction=``, ``driver=``). This module owns that translation table: each name is
either honoured by its caller, where the meaning is the same, or refused with one error
that shows this library's spelling. It touches nothing but its arguments.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from consist.errors import ConfigError, UpstreamNameError, UpstreamOptionError

# Each upstream option object: the keyword it was passed as, and where each of its
# fields lives here (a flat keyword of run(), or the place that takes its job).
OPTION_OBJECTS: dict[str, tuple[str, dict[str, str]]] = {
    "ExecutionOptions": (
        "execution_options",
        {
            "load_inputs": "load_inputs=",
            "runtime_kwargs": "runtime_kwargs=",
            "inject_context": "inject_context=",
            "executor": "executor=",
            "container": "container=",
            "input_binding": "load_inputs= (True loads inputs into parameters, False passes nothing)",
            "input_paths": "inputs={parameter: path}",
        },
    ),
    "CacheOptions": (
        "cache_options",
        {
            "cache_mode": "cache_mode=",
            "cache_hydration": "cache_hydration=",
            "code_identity": "code_identity=",
            "cache_epoch": "Tracker(cache_epoch=...)",
            "cache_version": "a 'cache_version' key in config= (it counts toward the step's identity)",
            "validate_cached_outputs": "Tracker(verify_outputs=...)",
        },
    ),
    "OutputPolicyOptions": (
        "output_policy",
        {
            "output_missing": "outputs= (a declared output that is not produced always fails the run; "
            "leave optional ones out of outputs= and log them when they exist)",
            "output_mismatch": "outputs= (the keys a step returns or logs are its outputs)",
        },
    ),
}
_BY_KEYWORD = {keyword: (name, fields) for name, (keyword, fields) in OPTION_OBJECTS.items()}
# Upstream keywords of run() with no keyword of the same name here, and what takes their job.
_RUN_KEYWORDS = {
    "facet_from": "every scalar value of config= is already a facet of the run here: drop facet_from= "
    "(facet={...} adds facets that are not config)",
    **{
        field: place
        for _, fields in OPTION_OBJECTS.values()
        for field, place in fields.items()
        if place != f"{field}="
    },
}
_FLAT_KEYWORDS = "load_inputs=, runtime_kwargs=, inject_context=, cache_mode=, cache_hydration=, code_identity="


def name_error(name: str) -> AttributeError | UpstreamNameError:
    """The error for ``consist.<name>`` when the package has no such name.

    An upstream option object gets an :class:`UpstreamNameError` (an ImportError, so
    that ``from consist import ExecutionOptions`` shows it); anything else the usual
    AttributeError.
    """
    if name not in OPTION_OBJECTS:
        return AttributeError(f"module 'consist' has no attribute {name!r}")
    keyword, fields = OPTION_OBJECTS[name]
    listed = ", ".join(sorted({place for place in fields.values() if place.endswith("=")}))
    return UpstreamNameError(
        f"consist has no {name}: this library takes its options as flat keywords of run(), "
        f"sc.run() and scenario() ({listed}). Drop the import and write e.g. "
        f"consist.run(fn=step, load_inputs=True, cache_hydration='outputs-all') instead of "
        f"{keyword}={name}(...).",
        name=name,
    )


def _fields_of(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return {k: v for k, v in getattr(value, "__dict__", {}).items() if not k.startswith("_")}


def _translation(keyword: str, value: Any) -> str:
    name, places = _BY_KEYWORD[keyword]
    given = {k: v for k, v in _fields_of(value).items() if v is not None}
    if not given:
        return f"its fields are flat keywords here ({_FLAT_KEYWORDS})"
    parts = []
    for field, field_value in given.items():
        place = places.get(field)
        if place is None:
            parts.append(f"{field}: no counterpart (drop it)")
        elif place.endswith("=") and " " not in place:
            parts.append(f"{place}{field_value!r}")
        else:
            parts.append(f"{field}: {place}")
    return f"write {', '.join(parts)} instead of {keyword}={name}(...)"


def refuse_unknown(where: str, extra: Mapping[str, Any], accepted: Iterable[str]) -> None:
    """Raise for keywords a call does not take: upstream option objects with our spelling.

    Raises
    ------
    UpstreamOptionError
        For ``execution_options=``, ``cache_options=`` or ``output_policy=``.
    TypeError
        For any other unknown keyword, naming close spellings of the call's own.
    """
    for keyword, value in extra.items():
        if keyword in _BY_KEYWORD:
            raise UpstreamOptionError(
                f"{where} takes no {keyword}= (the upstream Consist spelling): {_translation(keyword, value)}."
            )
    for keyword in extra:
        if keyword in _RUN_KEYWORDS:
            raise UpstreamOptionError(
                f"{where} takes no {keyword}= (the upstream Consist spelling); here: {_RUN_KEYWORDS[keyword]}."
            )
    keyword = next(iter(extra), None)
    if keyword is not None:
        close = difflib.get_close_matches(keyword, list(accepted), n=2)
        hint = f" Did you mean {' or '.join(f'{c}=' for c in close)}?" if close else ""
        raise TypeError(f"{where} got an unexpected keyword argument {keyword!r}.{hint}")


def refuse_option_objects(extra: Iterable[str], where: str) -> None:
    """Raise when free-form keywords (recorded as values) hold an upstream option object."""
    for keyword in extra:
        if keyword in _BY_KEYWORD:
            raise UpstreamOptionError(
                f"{where} got {keyword}=, the upstream Consist option object; here it would be recorded as a "
                f"value and do nothing. Pass its fields as flat keywords ({_FLAT_KEYWORDS})."
            )


def logging_options(meta: dict[str, Any], where: str) -> str | None:
    """Take upstream ``direction=`` and ``driver=`` out of logged metadata; returns the driver asked for.

    ``direction="output"`` is what logging inside a step does anyway, so it is dropped.
    ``direction="input"`` is refused: a step's inputs are declared before it runs (they
    are part of its identity), so one cannot be added while it executes.
    """
    direction = meta.pop("direction", None)
    if direction is not None and direction != "output":
        raise UpstreamOptionError(
            f"{where} got direction={direction!r}: logging inside a step records an output, and inputs "
            "cannot be added while a step runs (they are part of its identity). Declare the input before "
            "the step starts: consist.run(fn=step, inputs={'name': path_or_artifact}), or "
            "sc.run(..., inputs=['coupler_key'])."
        )
    driver = meta.pop("driver", None)
    if driver is not None and not isinstance(driver, str):
        raise UpstreamOptionError(f"{where} got driver={driver!r}; give a format name such as 'csv' or 'parquet'.")
    return driver


def check_file_driver(driver: str | None, found: str, name: str, where: str) -> None:
    """Refuse an upstream ``driver=`` that contradicts the driver of the file being logged."""
    if driver is not None and driver != found:
        raise ConfigError(
            f"{where} got driver={driver!r} for {name}, whose name makes it a {found} artifact; "
            "the driver comes from the file name: drop driver= or rename the file (nothing was logged)."
        )
