"""The typed fields of a run, checked when the call is made (before any work).

``year``, ``iteration``, ``tags``, ``run_id``, facets and metadata end up in a run record
that every query decodes with a fixed schema, so a value the schema cannot hold would
make the run vanish from queries while its cache entry still serves hits. Each is
coerced here when the meaning is unambiguous (``year="2030"`` from argparse becomes
2030, a numpy integer an int, a path a string) and refused otherwise with a
:class:`ConfigError` naming the field.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from consist.catalog.record_values import record_mapping, record_value
from consist.errors import ConfigError

if TYPE_CHECKING:
    from consist.engine.spec import StepSpec

_INT_TEXT = re.compile(r"\s*[+-]?\d+\s*")


_INT64 = range(-(2**63), 2**63)  # a record's int field (and the catalog's BIGINT column)


def whole_number(value: Any, name: str) -> int | None:
    """``value`` as a 64-bit int: ints, numpy ints, whole floats and digit strings; else ConfigError."""
    number = _whole(value, name)
    if number is not None and number not in _INT64:
        raise ConfigError(f"{name}={value!r} is beyond 64 bits, which a run record cannot hold; give e.g. {name}=2030.")
    return number


def _whole(value: Any, name: str) -> int | None:
    if value is None or type(value) is int:
        return value
    if isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} is a bool; give a whole number, e.g. {name}=2030.")
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return operator.index(value)  # numpy integers
    except TypeError:
        pass
    raise ConfigError(f"{name}={value!r} is not a whole number; give an int, e.g. {name}=2030.")


def check_fields(spec: StepSpec) -> None:
    """Coerce or refuse ``spec``'s typed fields in place (see the module docs)."""
    for field, value in (("name", spec.name), ("model", spec.model), ("parent_id", spec.parent_id)):
        if value is None or (type(value) is str and value.isascii()):
            continue  # nothing to check (see record_value), without a call per field
        if not isinstance(value, str):
            raise ConfigError(f"{field}={value!r} is of type {type(value).__name__}; give a string, e.g. {field}='baseline'.")
        record_value(value, field)  # a lone surrogate would make the record unwritable
    for i, key in enumerate(spec.outputs):
        if type(key) is not str or not key.isascii():
            record_value(key, f"outputs[{i}]")
    if type(spec.inputs) is dict or isinstance(spec.inputs, Mapping):
        for key in spec.inputs:
            if type(key) is not str or not key.isascii():
                record_value(key, "inputs key")
    if spec.year is not None:
        spec.year = whole_number(spec.year, "year")
    if spec.iteration is not None:
        spec.iteration = whole_number(spec.iteration, "iteration")
    if spec.tags:
        spec.tags = [_tag(tag, i) for i, tag in enumerate(spec.tags)]
    if spec.run_id is not None:
        if isinstance(spec.run_id, bool) or not isinstance(spec.run_id, (str, int)):
            raise ConfigError(f"run_id={spec.run_id!r} is a {type(spec.run_id).__name__}; give a string.")
        spec.run_id = record_value(str(spec.run_id), "run_id")
    if spec.facets:
        spec.facets = record_mapping(spec.facets, "facet")
    if spec.meta:
        spec.meta = record_mapping(spec.meta, "metadata")


def _tag(tag: Any, i: int) -> str:
    if not isinstance(tag, str):
        raise ConfigError(f"tags[{i}]={tag!r} is a {type(tag).__name__}; tags are strings, e.g. tags=['nightly'].")
    return record_value(str(tag), f"tags[{i}]")


def check_scenario(name: str, tags: Any, meta: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """A scenario's tags and metadata, checked like a step's (other objects are recorded as text)."""
    record_value(name, "scenario name")
    tags = [_tag(tag, i) for i, tag in enumerate([tags] if isinstance(tags, str) else list(tags or ()))]
    out = dict(meta)
    for field in ("year", "iteration"):
        if field in out:
            out[field] = whole_number(out[field], field)
    for key, value in out.items():
        if isinstance(value, (str, int, float, PurePath)) or value is None:
            out[key] = record_value(value, f"scenario metadata[{key!r}]")
    return tags, out
